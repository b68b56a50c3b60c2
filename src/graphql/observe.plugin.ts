// Apollo plugin: rate limits, the complexity bound, metrics and error logs,
// for every HTTP operation.
import type { ApolloServerPlugin } from "@apollo/server";
import type { GraphQLSchema } from "graphql";
import { complexityOf, MAX_COMPLEXITY } from "./complexity";
import { AppError } from "../errors/app-error";
import type { Logger } from "../observability/logger";
import type { Metrics } from "../observability/metrics";
import type { Context } from "./context";
import { isUnexpected } from "./format-error";
import type { RequestGuard } from "./request-guard";

export function observePlugin(deps: { logger: Logger; metrics: Metrics; guard: RequestGuard; schema: () => GraphQLSchema }): ApolloServerPlugin<Context> {
  const { logger, metrics, guard } = deps;
  return {
    async requestDidStart() {
      const started = performance.now();
      return {
        async didResolveOperation({ contextValue, document, request, operationName, response }) {
          // Apollo answers an error thrown here with HTTP 500 unless a status is set first.
          try {
            await guard.checkRate(contextValue);
          } catch (error) {
            response.http.status = 429;
            throw error;
          }
          let complexity: number;
          try {
            complexity = complexityOf(deps.schema(), document, operationName ?? undefined, request.variables ?? {});
          } catch (error) {
            // getComplexity coerces the variables first: a missing or mistyped one is bad input
            // (once a document's cost is known, Apollo's own coercion answers that instead).
            response.http.status = 400;
            throw new AppError("BAD_USER_INPUT", (error as Error).message);
          }
          if (complexity > MAX_COMPLEXITY) {
            response.http.status = 400;
            throw new AppError("BAD_USER_INPUT", `The query costs ${complexity}; at most ${MAX_COMPLEXITY} is allowed.`);
          }
        },
        async didEncounterErrors({ errors, contextValue, operationName }) {
          for (const error of errors) {
            if (isUnexpected(error)) {
              logger.error("unexpected error", {
                requestId: contextValue.requestId,
                operation: operationName ?? "anonymous",
                code: "INTERNAL_SERVER_ERROR",
                error: error.originalError ?? error,
              });
            }
          }
        },
        async willSendResponse({ response, operationName, contextValue }) {
          const seconds = (performance.now() - started) / 1000;
          const operation = operationName ?? "anonymous";
          metrics.observeOperation(operation, seconds);
          if (response.body.kind !== "single") return;
          const errors = response.body.singleResult.errors;
          if (!errors?.length) return;
          const codes = errors.map((e) => String(e.extensions?.code ?? "UNKNOWN"));
          for (const code of codes) metrics.countError(code);
          logOperationFailed(logger, { requestId: contextValue.requestId, transport: "http", operation, codes, ms: Math.round(seconds * 1000) });
        },
      };
    },
  };
}

/**
 * Every failed operation, HTTP or WebSocket, at info: its request id, name and
 * error codes (the first as `code`). An unexpected error is logged at error
 * besides, with the same request id, operation and code and the error itself.
 */
export function logOperationFailed(
  logger: Logger,
  entry: { requestId: string; transport: "http" | "ws"; operation: string; codes: string[]; ms?: number },
): void {
  logger.info("operation failed", { ...entry, code: entry.codes[0] });
}
