// Apollo Server with the document limits, error format and observation plugin.
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginCacheControlDisabled } from "@apollo/server/plugin/disabled";
import type { GraphQLSchema } from "graphql";
import type { Context } from "./context";
import { formatError } from "./format-error";
import { observePlugin } from "./observe.plugin";
import { fastReadsPlugin } from "./fast-reads.plugin";
import { unavailablePlugin } from "./unavailable.plugin";
import { PARSE_OPTIONS, VALIDATION_RULES, type OperationGate } from "./operation-gate";
import type { Logger } from "../observability/logger";

/** Parsing, validation and the gate's steps are the shared operation path of operation-gate.ts. */
export function createApollo(deps: { schema: GraphQLSchema; logger: Logger; gate: OperationGate }) {
  return new ApolloServer<Context>({
    schema: deps.schema,
    introspection: true,
    includeStacktraceInErrorResponses: false,
    parseOptions: PARSE_OPTIONS,
    validationRules: VALIDATION_RULES,
    formatError,
    // The IDE is ours (GET /graphql with Accept: text/html), not Apollo's landing page.
    plugins: [
      observePlugin(deps),
      fastReadsPlugin(() => deps.schema),
      unavailablePlugin(),
      // No response caching here: the default cache-control plugin would wrap every field.
      ApolloServerPluginCacheControlDisabled(),
      {
        async serverWillStart() {
          return {
            async renderLandingPage() {
              return { html: "" };
            },
          };
        },
      },
    ],
  });
}
