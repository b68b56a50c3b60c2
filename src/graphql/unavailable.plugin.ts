// Apollo plugin: an answer that carries SERVICE_UNAVAILABLE (PostgreSQL or Redis
// did not answer; rule 27) goes out as HTTP 503 with Retry-After, so that any
// HTTP client, proxy or load balancer knows to try again.
import type { ApolloServerPlugin } from "@apollo/server";
import { RETRY_AFTER_SECONDS } from "../errors/unavailable";
import type { Context } from "./context";

export function unavailablePlugin(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          if (response.body.kind !== "single") return;
          const errors = response.body.singleResult.errors ?? [];
          if (!errors.some((e) => e.extensions?.code === "SERVICE_UNAVAILABLE")) return;
          response.http.status = 503;
          response.http.headers.set("retry-after", String(RETRY_AFTER_SECONDS));
        },
      };
    },
  };
}
