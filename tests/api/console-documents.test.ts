// Every document the operator's console sends (src/console/documents.tsx) is valid against the
// contract, with every v2 control present; and against a v1-only schema (the contract without its
// 2026-12-01 additions) the console asks for nothing that schema lacks and drops the v2 controls.
// The console builds its documents from an introspection of the server, as here.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildSchema, graphqlSync, parse, validate, type GraphQLSchema } from "graphql";
import { CAPABILITIES, SIGN_IN, capabilitiesOf, documents, type IntrospectedType } from "../../src/console/documents";

const contractText = readFileSync(join(__dirname, "../../contract/schema.graphql"), "utf8");
const V2_MARK = "# Additions of 2026-12-01 (contract v2)";

function docsFor(schema: GraphQLSchema) {
  const result = graphqlSync({ schema, source: CAPABILITIES });
  expect(result.errors).toBeUndefined();
  const types = (result.data as { __schema: { types: IntrospectedType[] } }).__schema.types;
  return documents(capabilitiesOf(types));
}

function errorsOf(schema: GraphQLSchema, docs: Record<string, string | null>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, doc] of Object.entries({ ...docs, SIGN_IN, CAPABILITIES })) {
    if (doc === null) continue;
    out[name] = validate(schema, parse(doc)).map((e) => e.message);
  }
  return out;
}

describe("the console's GraphQL documents", () => {
  it("are valid against the contract, with every v2 control there", () => {
    const schema = buildSchema(contractText);
    const docs = docsFor(schema);
    expect(
      Object.entries(docs)
        .filter(([, d]) => d === null)
        .map(([n]) => n),
    ).toEqual([]);
    const errors = errorsOf(schema, docs);
    expect(Object.keys(errors).length).toBe(Object.keys(docs).length + 2);
    expect(Object.values(errors).flat()).toEqual([]);
    // The v2 fields are asked for where the contract has them.
    expect(docs.concert).toContain("openingDrawSeed");
    expect(docs.concert).toContain("grades {");
    expect(docs.stats).toContain("preQueue");
    expect(docs.seats).toContain("grade");
  });

  it("ask a v1 server only for what it has, and leave the v2 controls out", () => {
    expect(contractText).toContain(V2_MARK);
    const schema = buildSchema(contractText.slice(0, contractText.indexOf(V2_MARK)));
    const docs = docsFor(schema);
    expect(
      Object.entries(docs)
        .filter(([, d]) => d === null)
        .map(([n]) => n)
        .sort(),
    ).toEqual(["sales", "setAdmission", "setGrades", "statsLive", "updateConcert"]);
    expect(Object.values(errorsOf(schema, docs)).flat()).toEqual([]);
    expect(docs.concert).not.toContain("saleOpensAt");
    expect(docs.stats).not.toContain("preQueue");
  });

  it("are valid against the schema this server emits (src/schema/schema.graphql)", () => {
    const schema = buildSchema(readFileSync(join(__dirname, "../../src/schema/schema.graphql"), "utf8"));
    const docs = docsFor(schema);
    expect(Object.values(errorsOf(schema, docs)).flat()).toEqual([]);
    expect(docs.seats).toContain("status");
    // This server lets an admin read the map as the operator; the contract alone does not.
    expect(docs.seats).toContain("asOperator: true");
    expect(docs.seatsLive).toContain("asOperator: true");
    expect(docsFor(buildSchema(contractText)).seats).not.toContain("asOperator");
  });
});
