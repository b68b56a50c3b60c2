// The typed documents the tests use are made from the current schema file and
// operations: a stale tests/generated/graphql.ts would type the tests against
// an API that no longer exists.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generate, loadCodegenConfig } from "@graphql-codegen/cli";
import { expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));

it("keeps tests/generated/graphql.ts in step with codegen.yml (npm run codegen rewrites it)", { timeout: 60_000 }, async () => {
  const { config } = await loadCodegenConfig({ configFilePath: join(root, "codegen.yml") });
  // saveToFile = false: the outputs come back in memory and nothing is written.
  const outputs: { filename: string; content: string }[] = await generate({ ...config, cwd: root, silent: true }, false);
  expect(outputs.map((o) => o.filename)).toEqual(Object.keys(config.generates));
  for (const { filename, content } of outputs) {
    const committed = readFileSync(join(root, filename), "utf8");
    expect(committed, `${filename} is stale: run \`npm run codegen\``).toBe(content);
  }
});
