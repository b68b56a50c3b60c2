// Bounds on a document's shape, checked as a validation rule so an oversized
// query is refused before anything executes. Fragments are measured once and
// reused, so a fragment that spreads another many times cannot make the check
// itself slow.
import { GraphQLError, Kind, type ASTVisitor, type FragmentDefinitionNode, type SelectionSetNode, type ValidationContext } from "graphql";

export const MAX_DEPTH = 15;
export const MAX_FIELDS = 1_000;

interface Measure {
  depth: number;
  fields: number;
}

export function measureSelectionSet(
  set: SelectionSetNode,
  fragments: Map<string, FragmentDefinitionNode>,
  memo = new Map<string, Measure>(),
  visiting = new Set<string>(),
): Measure {
  let depth = 0;
  let fields = 0;
  for (const selection of set.selections) {
    let inner: Measure;
    if (selection.kind === Kind.FIELD) {
      const sub = selection.selectionSet ? measureSelectionSet(selection.selectionSet, fragments, memo, visiting) : { depth: 0, fields: 0 };
      inner = { depth: sub.depth + 1, fields: sub.fields + 1 };
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      inner = measureSelectionSet(selection.selectionSet, fragments, memo, visiting);
    } else {
      const name = selection.name.value;
      const known = memo.get(name);
      const fragment = fragments.get(name);
      if (known) inner = known;
      else if (!fragment || visiting.has(name))
        inner = { depth: 0, fields: 0 }; // other rules report these
      else {
        visiting.add(name);
        inner = measureSelectionSet(fragment.selectionSet, fragments, memo, visiting);
        visiting.delete(name);
        memo.set(name, inner);
      }
    }
    depth = Math.max(depth, inner.depth);
    fields += inner.fields;
  }
  return { depth, fields };
}

export function DocumentLimitsRule(context: ValidationContext): ASTVisitor {
  const document = context.getDocument();
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const memo = new Map<string, Measure>();
  return {
    OperationDefinition(node) {
      const { depth, fields } = measureSelectionSet(node.selectionSet, fragments, memo);
      if (depth > MAX_DEPTH) {
        context.reportError(
          new GraphQLError(`The query is ${depth} levels deep; at most ${MAX_DEPTH} are allowed.`, {
            nodes: [node],
            extensions: { code: "BAD_USER_INPUT" },
          }),
        );
      }
      if (fields > MAX_FIELDS) {
        context.reportError(
          new GraphQLError(`The query asks for ${fields} fields and aliases; at most ${MAX_FIELDS} are allowed.`, {
            nodes: [node],
            extensions: { code: "BAD_USER_INPUT" },
          }),
        );
      }
      return false;
    },
  };
}
