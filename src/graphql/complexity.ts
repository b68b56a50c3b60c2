// The cost of a document: the values its answer will hold. Every field counts
// one, and a list field counts one plus its items' fields times the items it
// is expected to return (ListSizes: a date's seats by its seat count, concerts
// by their number, a page by its size…), so a small document that fans out
// (aliases of `seats`, `concerts { dates { … } }` over a large catalogue)
// costs what answering it would.
//
// MAX_COST lets one full seat map of the largest date through (100,000 seats,
// every field of Seat) and refuses a document that asks for a few of them at
// once, or the equivalent.
//
// Apollo keeps one parsed DocumentNode per distinct query text, so the cost is
// remembered per document and operation (it was a sixth of the server's CPU
// under load), with the variables in the key only when a list's length reads
// an argument (`seats(concertDateId: $d)`, `first: $n`) or @skip/@include read
// variables, and the list sizes' version, which moves when the catalogue's do.
import { BREAK, getNullableType, isListType, visit, type DocumentNode, type GraphQLField, type GraphQLSchema } from "graphql";
import { getComplexity, type ComplexityEstimator } from "graphql-query-complexity";

export const MAX_COST = 1_000_000;

/** How many items list fields are expected to return. */
export interface ListSizes {
  /** Changes whenever a length `length` answers may have changed (read before every cost). */
  readonly version: number;
  /**
   * The expected length of `parent.field` with these (coerced) arguments;
   * `readsArgs` when it depended on them. A length not known yet goes into
   * `missing` (a load to await before costing again) and counts 0 meanwhile.
   */
  length(
    parent: string,
    field: GraphQLField<unknown, unknown>,
    args: Record<string, unknown>,
    missing: Promise<unknown>[],
  ): { length: number; readsArgs: boolean };
}

interface Known {
  /** Whether the cost depends on the variables (see the top of the file). */
  variables: boolean;
  costs: Map<string, number>;
}

const known = new WeakMap<DocumentNode, Map<string, Known>>();
const MAX_KEYS_PER_DOCUMENT = 200;

/** The cost of the operation; throws what getComplexity throws for variables that do not coerce. */
export async function costOf(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | undefined,
  variables: Record<string, unknown>,
  sizes: ListSizes,
): Promise<number> {
  let byOperation = known.get(document);
  if (!byOperation) known.set(document, (byOperation = new Map()));
  const name = operationName ?? "";
  const entry = byOperation.get(name);
  const version = sizes.version;
  const key = (variablesMatter: boolean) => `${version}\u0000${variablesMatter ? JSON.stringify(variables) : ""}`;
  const hit = entry?.costs.get(key(entry.variables));
  if (hit !== undefined) return hit;

  for (let attempt = 1; ; attempt++) {
    const missing: Promise<unknown>[] = [];
    let readsArgs = false;
    const lists: ComplexityEstimator = ({ type, field, args, childComplexity }) => {
      if (!isListType(getNullableType(field.type))) return 1 + childComplexity;
      const size = sizes.length(type.name, field, args, missing);
      readsArgs ||= size.readsArgs;
      return 1 + size.length * Math.max(1, childComplexity);
    };
    const cost = getComplexity({ schema, query: document, operationName, variables, estimators: [lists] });
    if (missing.length > 0 && attempt < 3) {
      await Promise.all(missing);
      continue;
    }
    const variablesMatter = readsArgs || directivesReadVariables(document);
    if (missing.length === 0 && version === sizes.version) {
      const stored = byOperation.get(name) ?? { variables: variablesMatter, costs: new Map() };
      stored.variables = variablesMatter;
      if (stored.costs.size >= MAX_KEYS_PER_DOCUMENT) stored.costs.clear();
      stored.costs.set(key(variablesMatter), cost);
      byOperation.set(name, stored);
    }
    return cost;
  }
}

function directivesReadVariables(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Directive(node) {
      if (node.arguments?.some((a) => a.value.kind === "Variable")) {
        found = true;
        return BREAK;
      }
      return undefined;
    },
  });
  return found;
}
