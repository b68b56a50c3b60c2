// The cost of a document, bounded per request. Apollo keeps one parsed
// DocumentNode per distinct query text, so the cost is computed once per
// document and operation, not on every request: it was a sixth of the server's
// CPU under load. A document whose @skip/@include read variables may cost more
// with other variables, so its cost is computed every time.
import { BREAK, visit, type DocumentNode, type GraphQLSchema } from "graphql";
import { fieldExtensionsEstimator, getComplexity, simpleEstimator } from "graphql-query-complexity";

export const MAX_COMPLEXITY = 5_000;

const estimators = [fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })];
const costs = new WeakMap<DocumentNode, Map<string, number> | "variable">();

export function complexityOf(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | undefined,
  variables: Record<string, unknown>,
): number {
  let known = costs.get(document);
  if (known === undefined) {
    known = directivesReadVariables(document) ? "variable" : new Map();
    costs.set(document, known);
  }
  const compute = () => getComplexity({ schema, query: document, operationName, variables, estimators });
  if (known === "variable") return compute();
  const key = operationName ?? "";
  let cost = known.get(key);
  if (cost === undefined) {
    cost = compute();
    known.set(key, cost);
  }
  return cost;
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
