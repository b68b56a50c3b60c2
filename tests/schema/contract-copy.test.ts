// contract/ is the repository's copy of the public contract, so that the tests of
// a fresh clone have it: they read only this copy. That it equals the original
// (kept outside the repository, beside it on the developers' machines and in CI)
// is checked by .ci/run with cmp, not here: a clone has no original to read.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSchema } from "graphql";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const FILES = ["schema.graphql", "README.md"];

describe("contract/", () => {
  it("holds the contract's schema and rules", () => {
    for (const file of FILES) expect(existsSync(join(root, "contract", file)), `contract/${file}`).toBe(true);
  });

  it("holds a schema that parses and a rules text that names the errors", () => {
    expect(() => buildSchema(readFileSync(join(root, "contract", "schema.graphql"), "utf8"))).not.toThrow();
    expect(readFileSync(join(root, "contract", "README.md"), "utf8")).toMatch(/SERVICE_UNAVAILABLE/);
  });
});
