// Subscriptions (and any operation) over WebSocket, protocol graphql-transport-ws.
// The same context factory, document limits, rate limits and error format as HTTP.
import type { Server as HttpServer } from "node:http";
import { WebSocketServer } from "ws";
import { useServer } from "graphql-ws/use/ws";
import {
  GraphQLError,
  getOperationAST,
  getVariableValues,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
} from "graphql";
import { createContext, type Context } from "../graphql/context";
import { DocumentLimitsRule } from "../graphql/document-limits";
import { formatError, isUnexpected } from "../graphql/format-error";
import type { RequestGuard } from "../graphql/request-guard";
import type { Services } from "../services/services";
import type { Logger } from "../observability/logger";
import { MAX_TOKENS } from "../graphql/apollo";
import { subscribeFast } from "../graphql/subscription-executor";

type ConnectionParams = Record<string, unknown>;

export function attachGraphqlWs(deps: {
  httpServer: HttpServer;
  schema: GraphQLSchema;
  services: Services;
  guard: RequestGuard;
  logger: Logger;
}) {
  const { schema, services, guard, logger } = deps;
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1_000_000 });
  const documents = new DocumentCache(schema);
  const cleanup = useServer<ConnectionParams>(
    {
      schema,
      subscribe: subscribeFast,
      async onSubscribe(ctx, id, payload) {
        const checked = documents.check(payload.query);
        if ("errors" in checked) return checked.errors.map((message) => badInput(message));
        const { document } = checked;
        // Checked here, not left to execution: there a variable that does not
        // coerce comes back without a code and would be masked as an internal error.
        const operation = getOperationAST(document, payload.operationName);
        if (!operation) return [badInput(`The document has no operation named ${payload.operationName ?? "(none given)"} to run.`)];
        const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], payload.variables ?? {});
        if (coerced.errors) return coerced.errors.map((e) => badInput(e.message));
        const params = ctx.connectionParams ?? {};
        const authorization = params.authorization ?? params.Authorization;
        const contextValue: Context = createContext(services, {
          authorization: typeof authorization === "string" ? authorization : undefined,
          queueToken: typeof params.queueToken === "string" ? params.queueToken : undefined,
          address: ctx.extra.request.socket.remoteAddress ?? "unknown",
          requestId: `ws-${id}`,
        });
        const socket = ctx.extra.socket;
        const frameStart = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
        contextValue.sendNext = (result) => {
          if (socket.readyState === socket.OPEN) socket.send(`${frameStart}${JSON.stringify(result)}}`);
        };
        try {
          await guard.checkRate(contextValue);
        } catch (error) {
          return [error as GraphQLError];
        }
        return {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue,
        };
      },
      onNext(_ctx, id, _payload, _args, result) {
        if (!result.errors) return;
        for (const error of result.errors) if (isUnexpected(error)) logger.error("unexpected error", { requestId: `ws-${id}`, error: error.originalError ?? error });
        return { ...result, errors: result.errors.map((e) => formatError(e.toJSON(), e)) };
      },
      onError(_ctx, _id, _payload, errors) {
        return errors.map((e) => formatError(e.toJSON(), e));
      },
    },
    wss,
  );
  deps.httpServer.on("upgrade", (req, socket, head) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/graphql") {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });
  return {
    /** Closes every socket with "going away" and waits for the subscriptions to end. */
    async close() {
      for (const client of wss.clients) client.close(1001, "Server shutting down");
      await cleanup.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

const badInput = (message: string) => new GraphQLError(message, { extensions: { code: "BAD_USER_INPUT" } });

/**
 * Parsed and validated documents by query text: thousands of clients open the
 * same subscription, and parsing and validating it for each was a cost per
 * subscriber. Bounded: past the limit the cache starts over.
 */
const MAX_CACHED_QUERY = 10_000;

class DocumentCache {
  private readonly entries = new Map<string, { document: DocumentNode } | { errors: string[] }>();

  constructor(private readonly schema: GraphQLSchema, private readonly limit = 1_000) {}

  check(query: string): { document: DocumentNode } | { errors: string[] } {
    let entry = this.entries.get(query);
    if (!entry) {
      entry = this.parseAndValidate(query);
      if (query.length > MAX_CACHED_QUERY) return entry;
      if (this.entries.size >= this.limit) this.entries.clear();
      this.entries.set(query, entry);
    }
    return entry;
  }

  private parseAndValidate(query: string): { document: DocumentNode } | { errors: string[] } {
    let document: DocumentNode;
    try {
      document = parse(query, { maxTokens: MAX_TOKENS });
    } catch (error) {
      return { errors: [(error as Error).message] };
    }
    const errors = validate(this.schema, document, [...specifiedRules, DocumentLimitsRule]);
    return errors.length > 0 ? { errors: errors.map((e) => e.message) } : { document };
  }
}
