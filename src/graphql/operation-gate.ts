// The one path every GraphQL operation takes, over HTTP (Apollo, through
// observe.plugin.ts) and over WebSocket (src/http/graphql-ws.ts) alike:
//   1. parse (at most MAX_TOKENS) and validate (graphql's rules and the document
//      limits), with PARSE_OPTIONS and VALIDATION_RULES: Apollo is given the
//      same two, and WebSocket documents go through `check`;
//   2. `admit`: the rate limits, then the variables, then the cost;
//   3. `record`: the duration and the error codes, into the same metrics.
import {
  getOperationAST,
  getVariableValues,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLError,
  type GraphQLSchema,
  type ParseOptions,
  type ValidationRule,
} from "graphql";
import { AppError, badInput } from "../errors/app-error";
import type { Metrics } from "../observability/metrics";
import { costOf, MAX_COST, type ListSizes } from "./complexity";
import type { Context } from "./context";
import { DocumentLimitsRule } from "./document-limits";
import type { RequestGuard } from "./request-guard";

/** More tokens than any honest query needs; parsing stops there, so a huge document costs little. */
export const MAX_TOKENS = 20_000;
export const PARSE_OPTIONS: ParseOptions = { maxTokens: MAX_TOKENS };
/** Besides graphql's specified rules. */
export const VALIDATION_RULES: ValidationRule[] = [DocumentLimitsRule];

/** Parsed documents by query text, kept for texts up to this long. */
const MAX_CACHED_QUERY = 10_000;
const MAX_CACHED_DOCUMENTS = 1_000;

type Checked = { document: DocumentNode } | { errors: GraphQLError[] };

export class OperationGate {
  private readonly documents = new Map<string, Checked>();

  constructor(private readonly deps: { schema: GraphQLSchema; guard: RequestGuard; metrics: Metrics; sizes: ListSizes }) {}

  /**
   * Step 1 for transports that do not parse themselves (WebSocket), cached by
   * query text: thousands of clients open the same subscription.
   */
  check(query: string): Checked {
    let entry = this.documents.get(query);
    if (!entry) {
      entry = this.parseAndValidate(query);
      if (query.length > MAX_CACHED_QUERY) return entry;
      if (this.documents.size >= MAX_CACHED_DOCUMENTS) this.documents.clear();
      this.documents.set(query, entry);
    }
    return entry;
  }

  /**
   * Step 2: RATE_LIMITED, or BAD_USER_INPUT for an operation that is not in the
   * document, variables that do not coerce, or a cost over MAX_COST.
   */
  async admit(
    context: Context,
    document: DocumentNode,
    operationName: string | undefined,
    variables: Record<string, unknown> | undefined,
  ): Promise<void> {
    await this.deps.guard.checkRate(context);
    const { schema } = this.deps;
    const operation = getOperationAST(document, operationName);
    if (!operation) throw badInput(`The document has no operation named ${operationName ?? "(none given)"} to run.`);
    // Checked here, not left to execution: there a variable that does not
    // coerce comes back without a code.
    const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {});
    if (coerced.errors) throw badInput(coerced.errors.map((e) => e.message).join(" "));
    let cost: number;
    try {
      cost = await costOf(schema, document, operationName, variables ?? {}, this.deps.sizes);
    } catch (error) {
      throw badInput((error as Error).message);
    }
    if (cost > MAX_COST) {
      throw badInput(`The query costs ${cost} (the values its answer would hold); at most ${MAX_COST} is allowed.`);
    }
  }

  /** The name metrics know an operation by: its own name in the document, else the one asked for. */
  static nameOf(document: DocumentNode | undefined, operationName: string | undefined | null): string | undefined {
    return (document && getOperationAST(document, operationName)?.name?.value) ?? operationName ?? undefined;
  }

  /** Step 3: how long the operation took and the code of each error it answered. */
  record(operationName: string | undefined | null, seconds: number, errors: readonly { extensions?: Record<string, unknown> }[] = []): void {
    this.deps.metrics.observeOperation(operationName ?? "anonymous", seconds);
    this.countErrors(errors);
  }

  /** Errors answered after the operation was recorded (a subscription's events). */
  countErrors(errors: readonly { extensions?: Record<string, unknown> }[]): void {
    for (const e of errors) this.deps.metrics.countError(String(e.extensions?.code ?? "UNKNOWN"));
  }

  private parseAndValidate(query: string): Checked {
    let document: DocumentNode;
    try {
      document = parse(query, PARSE_OPTIONS);
    } catch (error) {
      return { errors: [badInput((error as Error).message)] };
    }
    const errors = validate(this.deps.schema, document, [...specifiedRules, ...VALIDATION_RULES]);
    return errors.length > 0 ? { errors: errors.map((e) => badInput(e.message)) } : { document };
  }
}

/** The HTTP status an AppError from `admit` is answered with. */
export function statusOf(error: unknown): number {
  return error instanceof AppError && error.code === "RATE_LIMITED" ? 429 : 400;
}
