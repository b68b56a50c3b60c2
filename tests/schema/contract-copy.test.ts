// contract/ is the repository's copy of the public contract (../shared/contract),
// so that the tests of a fresh clone have it. Where the original sits beside the
// clone (the developers' machines and CI), the copy must equal it.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const SHARED = join(root, "..", "shared", "contract");
const FILES = ["schema.graphql", "README.md"];

describe("contract/", () => {
  it("holds the contract's schema and rules", () => {
    for (const file of FILES) expect(existsSync(join(root, "contract", file)), `contract/${file}`).toBe(true);
  });

  // A fresh clone has no ../shared: nothing to compare with there (.ci/run compares too).
  describe.skipIf(!existsSync(SHARED))("beside ../shared/contract", () => {
    it.each(FILES)("%s equals ../shared/contract/%s", (file) => {
      const copy = readFileSync(join(root, "contract", file), "utf8");
      const original = readFileSync(join(SHARED, file), "utf8");
      expect(copy, `contract/${file} differs from ../shared/contract/${file}: copy it again`).toBe(original);
    });
  });
});
