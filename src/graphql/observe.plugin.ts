// Apollo plugin: the HTTP side of the shared operation path (operation-gate.ts):
// rate limits and the cost before execution, metrics after, and error logs.
import type { ApolloServerPlugin } from "@apollo/server";
import { AppError } from "../errors/app-error";
import type { Logger } from "../observability/logger";
import type { Context } from "./context";
import { isUnexpected } from "./format-error";
import { statusOf, type OperationGate } from "./operation-gate";

export function observePlugin(deps: { logger: Logger; gate: OperationGate }): ApolloServerPlugin<Context> {
  const { logger, gate } = deps;
  return {
    async requestDidStart() {
      const started = performance.now();
      return {
        async didResolveOperation({ contextValue, document, request, operationName, response }) {
          try {
            await gate.admit(contextValue, document, operationName ?? undefined, request.variables);
          } catch (error) {
            // Apollo answers an error thrown here with HTTP 500 unless a status is set first.
            if (error instanceof AppError) response.http.status = statusOf(error);
            throw error;
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
          const errors = (response.body.kind === "single" ? response.body.singleResult.errors : undefined) ?? [];
          gate.record(operation, seconds, errors);
          if (!errors.length) return;
          const codes = errors.map((e) => String(e.extensions?.code ?? "UNKNOWN"));
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
