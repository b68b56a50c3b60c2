// The schema this server emits, as SDL: what src/schema/schema.graphql holds.
// Sorted, as type-graphql's emitSchemaFile does, so the file does not churn
// when resolvers are registered in another order.
import { lexicographicSortSchema, printSchema } from "graphql";
import { buildAppSchema } from "./build-schema";

/** Where the emitted schema is committed, relative to the repository root. */
export const SCHEMA_FILE = "src/schema/schema.graphql";

const HEADER = `# The schema this server emits, printed from the type-graphql resolvers.
# Do not edit: \`npm run schema\` rewrites it, and tests/schema/schema-file.test.ts
# fails while it differs from what the code emits.
`;

export function printAppSchema(): string {
  return `${HEADER}\n${printSchema(lexicographicSortSchema(buildAppSchema()))}\n`;
}
