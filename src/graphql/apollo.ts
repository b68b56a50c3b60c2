// Apollo Server with the document limits, error format and observation plugin.
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginCacheControlDisabled } from "@apollo/server/plugin/disabled";
import type { GraphQLSchema } from "graphql";
import type { Context } from "./context";
import { DocumentLimitsRule } from "./document-limits";
import { formatError } from "./format-error";
import { observePlugin } from "./observe.plugin";
import { fastReadsPlugin } from "./fast-reads.plugin";
import { unavailablePlugin } from "./unavailable.plugin";
import type { RequestGuard } from "./request-guard";
import type { Logger } from "../observability/logger";
import type { Metrics } from "../observability/metrics";

/** More tokens than any honest query needs; parsing stops there, so a huge document costs little. */
export const MAX_TOKENS = 20_000;

export function createApollo(deps: { schema: GraphQLSchema; logger: Logger; metrics: Metrics; guard: RequestGuard }) {
  return new ApolloServer<Context>({
    schema: deps.schema,
    introspection: true,
    includeStacktraceInErrorResponses: false,
    parseOptions: { maxTokens: MAX_TOKENS },
    validationRules: [DocumentLimitsRule],
    formatError,
    // The IDE is ours (GET /graphql with Accept: text/html), not Apollo's landing page.
    plugins: [
      observePlugin({ ...deps, schema: () => deps.schema }),
      fastReadsPlugin(() => deps.schema),
      unavailablePlugin(),
      // No response caching here: the default cache-control plugin would wrap every field.
      ApolloServerPluginCacheControlDisabled(),
      { async serverWillStart() { return { async renderLandingPage() { return { html: "" }; } }; } },
    ],
  });
}
