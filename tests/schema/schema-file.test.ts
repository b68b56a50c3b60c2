// The committed schema file is what the code emits, and the emitted schema keeps
// the public contract (the same check as the workplace's contract-check tool),
// read from the repository's own copy in contract/ so that a fresh clone can run it.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSchema, findBreakingChanges } from "graphql";
import { describe, expect, it } from "vitest";
import { printAppSchema, SCHEMA_FILE } from "../../src/graphql/print-schema";

const root = fileURLToPath(new URL("../..", import.meta.url));
// .ci/run keeps this copy equal to the original contract where it sits beside the project.
const CONTRACT_FILE = join(root, "contract", "schema.graphql");

/**
 * Contract entries the server may still lack, e.g. "Mutation.pay was removed."
 * while a feature is being built. The list may only shrink: an entry here that
 * is no longer missing fails the test until it is removed. The queue,
 * reservation and money features have all landed, so it is empty: nothing of
 * the contract may go missing again.
 */
const ALLOWED_MISSING: string[] = [];

const emitted = printAppSchema();

describe("src/schema/schema.graphql", () => {
  // Only compares: `npm run schema` writes the file (writing it here first
  // would compare the file with itself).
  it("is exactly the schema the server emits (npm run schema rewrites it)", () => {
    const path = join(root, SCHEMA_FILE);
    const committed = existsSync(path) ? readFileSync(path, "utf8") : "";
    expect(committed, `${SCHEMA_FILE} is stale: run \`npm run schema\``).toBe(emitted);
  });
});

describe("the emitted schema against the contract", () => {
  // Compare the contract with what the code emits, not with the file, so a stale
  // file cannot hide a break.
  const changes = () => {
    expect(existsSync(CONTRACT_FILE), `the contract is expected at ${CONTRACT_FILE}`).toBe(true);
    const contract = buildSchema(readFileSync(CONTRACT_FILE, "utf8"));
    return findBreakingChanges(contract, buildSchema(emitted));
  };
  // The same split as contract-check.mjs: a removal is "missing", anything else "different".
  const missing = () =>
    changes()
      .filter((c) => /REMOVED/.test(c.type))
      .map((c) => c.description);
  const different = () =>
    changes()
      .filter((c) => !/REMOVED/.test(c.type))
      .map((c) => c.description);

  it("changes nothing the contract defines", () => {
    expect(different()).toEqual([]);
  });

  it("lacks only what is on the list of features still to build", () => {
    expect(missing().filter((d) => !ALLOWED_MISSING.includes(d))).toEqual([]);
  });

  it("has no entry on that list that is already built (shrink the list)", () => {
    const stillMissing = new Set(missing());
    expect(ALLOWED_MISSING.filter((d) => !stillMissing.has(d))).toEqual([]);
  });
});
