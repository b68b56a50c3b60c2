// Subscriptions (and any operation) over WebSocket, protocol graphql-transport-ws.
// The same context factory, document limits, rate limits and error format as HTTP.
import type { IncomingMessage, Server as HttpServer } from "node:http";
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
import type { Metrics, PushSlot } from "../observability/metrics";
import { requestIdOf } from "../observability/request-id";
import { logOperationFailed } from "../graphql/observe.plugin";
import { MAX_TOKENS } from "../graphql/apollo";
import { subscribeFast } from "../graphql/subscription-executor";

type ConnectionParams = Record<string, unknown>;

export function attachGraphqlWs(deps: {
  httpServer: HttpServer;
  schema: GraphQLSchema;
  services: Services;
  guard: RequestGuard;
  logger: Logger;
  metrics?: Metrics;
}) {
  const { schema, services, guard, logger, metrics } = deps;
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1_000_000 });
  if (metrics) observeSockets(wss, metrics);
  const documents = new DocumentCache(schema);
  // Per operation: its name and push slot, for the failure log and the push count.
  const operations = new WeakMap<Context, { name: string; slot?: PushSlot }>();
  const failed = (ctx: { extra: { request: IncomingMessage } }, id: string, payload: { operationName?: string | null }, codes: string[]) => {
    for (const code of codes) metrics?.countError(code);
    const requestId = `${requestIdOf(ctx.extra.request)}:${id}`;
    logOperationFailed(logger, { requestId, transport: "ws", operation: payload.operationName ?? "anonymous", codes });
  };
  const cleanup = useServer<ConnectionParams>(
    {
      schema,
      subscribe: subscribeFast,
      onConnect(ctx) {
        // connectionParams hold the tokens: the logger redacts them.
        logger.debug("websocket connection_init", { requestId: requestIdOf(ctx.extra.request), connectionParams: ctx.connectionParams });
        return true;
      },
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
          requestId: `${requestIdOf(ctx.extra.request)}:${id}`,
        });
        const root = operation.selectionSet.selections[0];
        const slot = operation.operation === "subscription" && root?.kind === "Field" ? metrics?.pushSlot(root.name.value) : undefined;
        operations.set(contextValue, { name: operation.name?.value ?? payload.operationName ?? "anonymous", slot });
        const socket = ctx.extra.socket;
        const frameStart = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
        contextValue.sendNext = (result) => {
          if (socket.readyState !== socket.OPEN) return;
          socket.send(`${frameStart}${JSON.stringify(result)}}`);
          if (slot) slot.n++;
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
      onNext(ctx, id, payload, args, result) {
        const op = operations.get(args.contextValue as Context);
        if (op?.slot) op.slot.n++;
        if (!result.errors) return;
        const requestId = `${requestIdOf(ctx.extra.request)}:${id}`;
        const operation = op?.name ?? payload.operationName ?? "anonymous";
        for (const error of result.errors) {
          if (isUnexpected(error)) logger.error("unexpected error", { requestId, operation, code: "INTERNAL_SERVER_ERROR", error: error.originalError ?? error });
        }
        const errors = result.errors.map((e) => formatError(e.toJSON(), e));
        failed(ctx, id, { operationName: operation }, errors.map((e) => String(e.extensions?.code ?? "UNKNOWN")));
        return { ...result, errors };
      },
      onError(ctx, id, payload, errors) {
        const formatted = errors.map((e) => formatError(e.toJSON(), e));
        failed(ctx, id, payload, formatted.map((e) => String(e.extensions?.code ?? "UNKNOWN")));
        return formatted;
      },
    },
    wss,
  );
  deps.httpServer.on("upgrade", (req, socket, head) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/graphql") {
      metrics?.wsRefused("path");
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

/** Close codes the server sends when it refuses or ends a socket (graphql-ws's and ws's), by reason. */
const REFUSALS: Record<number, string> = {
  1002: "protocol_error",
  1009: "message_too_big",
  4400: "bad_request",
  4401: "unauthorized",
  4403: "forbidden",
  4406: "subprotocol_not_acceptable",
  4408: "init_timeout",
  4409: "subscriber_exists",
  4429: "too_many_init",
};

/** Open sockets, connects, and refusals by the close code the server gave. */
function observeSockets(wss: WebSocketServer, metrics: Metrics): void {
  wss.on("connection", (socket) => {
    metrics.wsConnected();
    socket.once("close", (code: number) => {
      metrics.wsClosed();
      const reason = REFUSALS[code];
      if (reason) metrics.wsRefused(reason);
    });
  });
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
