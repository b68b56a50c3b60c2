// Apollo plugin: the seat map answered without the executor. In an on-sale every
// admitted fan reads all the seats of a date, often more than once, and
// graphql-js spent 8–10 ms completing 5,000 seats per read: the largest single
// cost of an instance during the sale (BENCHMARKS.md). An operation whose only
// root field is `seats` with a flat selection (`{ seats(concertDateId: $d)
// { number status } }` and the like) is answered here, after the rate limit and
// the complexity bound (didResolveOperation), by calling the same service as the
// resolver and projecting each seat (src/graphql/flat-selection.ts).
//
// Anything this path does not answer itself goes to the executor unchanged: no
// access token, arguments that do not coerce, and every error the service
// raises (NOT_FOUND, the queue gate), so errors keep one shape and one order.
import { HeaderMap, type ApolloServerPlugin, type GraphQLRequestListener } from "@apollo/server";
import {
  getArgumentValues,
  getOperationAST,
  getVariableValues,
  isListType,
  isNonNullType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type GraphQLSchema,
} from "graphql";
import type { Context } from "./context";
import { flatFields, projectFlat, type FlatField } from "./flat-selection";

interface SeatsPlan {
  alias: string;
  field: FieldNode;
  fields: FlatField[];
  /** The JSON of each seat under this plan, by the seat's view object (src/services/seat-maps.ts keeps them). */
  seatJson: WeakMap<object, string>;
  /**
   * The JSON of a whole list under this plan, as UTF-8 bytes, by the list (the
   * same list until a seat changes): written to the socket as it is, with no
   * string to splice or encode per read.
   */
  listJson: WeakMap<object, Buffer>;
}

/**
 * The JSON of the list, from the JSON of each seat (a seat map changes a few
 * seats at a time, so most are already known), or undefined when a seat cannot
 * be projected. Measured: JSON.stringify of 5,000 projected seats was 6.6% of
 * the busy instance in the rush profile, the projection 2.4%.
 */
function listJson(plan: SeatsPlan, seats: readonly object[]): Buffer | undefined {
  const whole = plan.listJson.get(seats);
  if (whole !== undefined) return whole;
  const parts = new Array<string>(seats.length);
  for (let i = 0; i < seats.length; i++) {
    let json = plan.seatJson.get(seats[i]);
    if (json === undefined) {
      const projected = projectFlat(plan.fields, seats[i]);
      if (!projected) return undefined;
      json = JSON.stringify(projected);
      plan.seatJson.set(seats[i], json);
    }
    parts[i] = json;
  }
  const bytes = Buffer.from(`[${parts.join(",")}]`);
  plan.listJson.set(seats, bytes);
  return bytes;
}

export function fastReadsPlugin(getSchema: () => GraphQLSchema): ApolloServerPlugin<Context> {
  const plans = new WeakMap<DocumentNode, Map<string, SeatsPlan | null>>();
  const planFor = (document: DocumentNode, operationName: string | undefined): SeatsPlan | null => {
    let byOperation = plans.get(document);
    if (!byOperation) plans.set(document, (byOperation = new Map()));
    const key = operationName ?? "";
    if (!byOperation.has(key)) byOperation.set(key, seatsPlan(getSchema(), document, operationName));
    return byOperation.get(key)!;
  };

  // No per-request state: one listener serves every request.
  const listener: GraphQLRequestListener<Context> = {
    async responseForOperation({ document, request, operation, contextValue }) {
      // Only over HTTP, and once per HTTP request (Apollo's batching is off; were it on,
      // the operations of a batch would share the holder).
      if (operation?.operation !== "query" || !contextValue.actor || !contextValue.http || contextValue.http.rawJson) {
        return null;
      }
      const plan = planFor(document, request.operationName);
      if (!plan) return null;
      const schema = getSchema();
      const variables = getVariableValues(schema, operation.variableDefinitions ?? [], request.variables ?? {});
      if (!variables.coerced) return null;
      const fieldDef = schema.getQueryType()!.getFields().seats;
      let concertDateId: string;
      let asOperator: boolean | null | undefined;
      try {
        const args = getArgumentValues(fieldDef, plan.field, variables.coerced);
        concertDateId = args.concertDateId as string;
        asOperator = args.asOperator as boolean | null | undefined;
      } catch {
        return null;
      }
      if (typeof concertDateId !== "string") return null;
      let seats: object[];
      try {
        seats = await contextValue.services.seats.seats(contextValue.actor, { concertDateId, queueToken: contextValue.queueToken, asOperator });
      } catch {
        return null; // the executor raises it again, formatted like every other error
      }
      const bytes = listJson(plan, seats);
      if (bytes === undefined) return null;
      // The list's JSON goes into the response text in place of a placeholder
      // (src/http/graphql-http.ts), so Apollo serialises only the envelope. The
      // response holds nothing else of anyone's, so the placeholder is unique in it.
      const placeholder = "\u0000seats";
      contextValue.http.rawJson = { placeholder: JSON.stringify(placeholder), bytes };
      return {
        http: { status: undefined, headers: new HeaderMap() },
        body: { kind: "single", singleResult: { data: { [plan.alias]: placeholder } } },
      };
    },
  };
  return { requestDidStart: async () => listener };
}

function seatsPlan(schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined): SeatsPlan | null {
  const operation = getOperationAST(document, operationName);
  const queryType = schema.getQueryType();
  if (operation?.operation !== "query" || !queryType) return null;
  const [root, ...others] = operation.selectionSet.selections;
  if (others.length > 0 || root.kind !== Kind.FIELD || root.name.value !== "seats" || root.directives?.length) return null;
  const fieldDef = queryType.getFields().seats;
  if (!fieldDef) return null;
  const listType = isNonNullType(fieldDef.type) ? fieldDef.type.ofType : fieldDef.type; // [Seat!]!
  if (!isListType(listType)) return null;
  const fields = flatFields(listType.ofType, root.selectionSet);
  return fields && { alias: root.alias?.value ?? root.name.value, field: root, fields, seatJson: new WeakMap(), listJson: new WeakMap() };
}
