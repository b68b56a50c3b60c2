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
        async didEncounterErrors({ errors, contextValue }) {
          for (const error of errors) {
            if (isUnexpected(error)) {
              logger.error("unexpected error", { requestId: contextValue.requestId, error: error.originalError ?? error });
            }
          }
        },
        async willSendResponse({ response, operationName }) {
          metrics.observeOperation(operationName ?? "anonymous", (performance.now() - started) / 1000);
          if (response.body.kind !== "single") return;
          for (const e of response.body.singleResult.errors ?? []) metrics.countError(String(e.extensions?.code ?? "UNKNOWN"));
        },
      };
    },
  };
}
