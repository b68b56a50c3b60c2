#!/usr/bin/env node
// `npm run schema` (after `npm run build`): rewrites src/schema/schema.graphql
// from the compiled resolvers, so it is exactly what the server emits.
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { printAppSchema, SCHEMA_FILE } = createRequire(import.meta.url)(join(root, "dist/src/graphql/print-schema.js"));
writeFileSync(join(root, SCHEMA_FILE), printAppSchema());
console.log(`wrote ${SCHEMA_FILE}`);
