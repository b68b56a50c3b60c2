// Subscriptions (and any operation) over WebSocket, protocol graphql-transport-ws.
// The same context factory and the same operation path as HTTP
// (src/graphql/operation-gate.ts: parsing, validation, document limits, rate
// limits, cost, metrics) and the same error format.
import type { Server as HttpServer } from "node:http";
import { type WebSocket, WebSocketServer } from "ws";
import { useServer } from "graphql-ws/use/ws";
import { keepAlive, LeanSocket } from "./lean-socket";
import { getOperationAST, type DocumentNode, type GraphQLError, type GraphQLSchema } from "graphql";
import { createContext, type Context } from "../graphql/context";
import { formatError, isUnexpected } from "../graphql/format-error";
import { OperationGate } from "../graphql/operation-gate";
import type { Services } from "../services/services";
import type { Logger } from "../observability/logger";
import type { Metrics, PushSlot } from "../observability/metrics";
import { requestIdOf } from "../observability/request-id";
import { logOperationFailed } from "../graphql/observe.plugin";
import { subscribeFast } from "../graphql/subscription-executor";
import { RETRY_AFTER_SECONDS } from "../errors/unavailable";

type ConnectionParams = Record<string, unknown>;

/** What a connection keeps of its upgrade request (graphql-ws's ctx.extra.request). */
interface Upgrade {
  requestId: string;
  address: string;
}
const upgradeOf = (ctx: { extra: { request: unknown } }) => ctx.extra.request as Upgrade;

/** What a surge may take (settings WS_MAX_SOCKETS, WS_MAX_STARTING, WS_INIT_TIMEOUT_MS), and the keep-alive ping's period (WS_KEEPALIVE_MS). */
export interface SocketLimits {
  maxSockets: number;
  maxStarting: number;
  initTimeoutMs: number;
  keepAliveMs: number;
}

/** The answer to an upgrade past the limits: a clear refusal the client can retry, or fall back to polling on. */
const BUSY = `HTTP/1.1 503 Service Unavailable\r\nRetry-After: ${RETRY_AFTER_SECONDS}\r\nContent-Type: text/plain\r\nContent-Length: 45\r\nConnection: close\r\n\r\nToo many WebSockets right now: retry shortly.`;

export function attachGraphqlWs(deps: {
  httpServer: HttpServer;
  schema: GraphQLSchema;
  services: Services;
  gate: OperationGate;
  logger: Logger;
  metrics?: Metrics;
  limits: SocketLimits;
}) {
  const { schema, services, gate, logger, metrics, limits } = deps;
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1_000_000, WebSocket: LeanSocket });
  const pings = keepAlive(wss, limits.keepAliveMs);
  // Sockets upgraded whose connection_init is not through yet: what a surge piles up.
  const starting = new WeakSet<object>();
  let startingCount = 0;
  const initDone = (socket: object) => {
    if (starting.delete(socket)) startingCount--;
  };
  // One close listener for every socket (a closure and a `once` wrapper per socket were
  // memory each waiting subscriber kept): the start's bookkeeping and the metrics.
  function onSocketClose(this: WebSocket, code: number) {
    initDone(this);
    if (!metrics) return;
    metrics.wsClosed();
    const reason = REFUSALS[code];
    if (reason) metrics.wsRefused(reason);
  }
  // Per operation: its name and push slot, for the failure log and the push count.
  const operations = new WeakMap<Context, { name: string; slot?: PushSlot }>();
  const failed = (ctx: { extra: { request: unknown } }, id: string, payload: { operationName?: string | null }, codes: string[]) => {
    gate.countErrors(codes.map((code) => ({ extensions: { code } })));
    const requestId = `${upgradeOf(ctx).requestId}:${id}`;
    logOperationFailed(logger, { requestId, transport: "ws", operation: payload.operationName ?? "anonymous", codes });
  };
  // When each operation of a connection started, for its duration (until its
  // result, or until a subscription is under way).
  const started = new WeakMap<object, Map<string, number>>();
  const startsOf = (ctx: object) => {
    let starts = started.get(ctx);
    if (!starts) started.set(ctx, (starts = new Map()));
    return starts;
  };
  // biome-ignore lint/correctness/useHookAtTopLevel: graphql-ws's useServer is not a React hook
  const cleanup = useServer<ConnectionParams>(
    {
      schema,
      subscribe: subscribeFast,
      // A loaded event loop reads a connection_init late; the default 3 s then closed sockets (4408) that had sent theirs.
      connectionInitWaitTimeout: limits.initTimeoutMs,
      onConnect(ctx) {
        initDone(ctx.extra.socket);
        // connectionParams hold the tokens: the logger redacts them.
        logger.debug("websocket connection_init", { requestId: upgradeOf(ctx).requestId, connectionParams: ctx.connectionParams });
        return true;
      },
      async onSubscribe(ctx, id, payload) {
        const began = performance.now();
        // A refusal's duration; its errors are counted by onError, as every error sent.
        const refuse = (errors: readonly GraphQLError[], document?: DocumentNode) => {
          gate.record(OperationGate.nameOf(document, payload.operationName), (performance.now() - began) / 1000);
          return errors;
        };
        const checked = gate.check(payload.query);
        if ("errors" in checked) return refuse(checked.errors);
        const { document } = checked;
        const params = ctx.connectionParams ?? {};
        const authorization = params.authorization ?? params.Authorization;
        const contextValue: Context = await createContext(services, {
          authorization: typeof authorization === "string" ? authorization : undefined,
          queueToken: typeof params.queueToken === "string" ? params.queueToken : undefined,
          address: upgradeOf(ctx).address,
          requestId: `${upgradeOf(ctx).requestId}:${id}`,
        });
        try {
          await gate.admit(contextValue, document, payload.operationName ?? undefined, payload.variables ?? undefined);
        } catch (error) {
          return refuse([error as GraphQLError], document);
        }
        // admit found the operation.
        const operation = getOperationAST(document, payload.operationName)!;
        const root = operation.selectionSet.selections[0];
        const slot = operation.operation === "subscription" && root?.kind === "Field" ? metrics?.pushSlot(root.name.value) : undefined;
        operations.set(contextValue, { name: operation.name?.value ?? payload.operationName ?? "anonymous", slot });
        contextValue.sendNext = directNext(ctx.extra.socket, id, slot);
        startsOf(ctx).set(id, began);
        return {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue,
        };
      },
      onOperation(ctx, id, payload, args) {
        const starts = startsOf(ctx);
        const began = starts.get(id);
        starts.delete(id);
        // A subscriber's connection has no operation starting for most of its life: no Map kept for it.
        if (starts.size === 0) started.delete(ctx);
        if (began !== undefined) gate.record(OperationGate.nameOf(args.document, payload.operationName), (performance.now() - began) / 1000);
      },
      onNext(ctx, id, payload, args, result) {
        const op = operations.get(args.contextValue as Context);
        if (op?.slot) op.slot.n++;
        if (!result.errors) return;
        const requestId = `${upgradeOf(ctx).requestId}:${id}`;
        const operation = op?.name ?? payload.operationName ?? "anonymous";
        for (const error of result.errors) {
          if (isUnexpected(error))
            logger.error("unexpected error", { requestId, operation, code: "INTERNAL_SERVER_ERROR", error: error.originalError ?? error });
        }
        const errors = result.errors.map((e) => formatError(e.toJSON(), e));
        failed(
          ctx,
          id,
          { operationName: operation },
          errors.map((e) => String(e.extensions?.code ?? "UNKNOWN")),
        );
        return { ...result, errors };
      },
      onError(ctx, id, payload, errors) {
        const formatted = errors.map((e) => formatError(e.toJSON(), e));
        failed(
          ctx,
          id,
          payload,
          formatted.map((e) => String(e.extensions?.code ?? "UNKNOWN")),
        );
        return formatted;
      },
    },
    wss,
    0, // no keep-alive timers per socket: `pings` pings them all (lean-socket.ts)
  );
  const opened = (ws: WebSocket, upgrade: Upgrade) => {
    starting.add(ws);
    startingCount++;
    metrics?.wsConnected();
    ws.on("close", onSocketClose);
    wss.emit("connection", ws, upgrade);
  };
  deps.httpServer.on("upgrade", (req, socket, head) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/graphql") {
      metrics?.wsRefused("path");
      socket.destroy();
      return;
    }
    // Past the limits: 503 with Retry-After before any WebSocket work, not a socket that times out later.
    if (wss.clients.size >= limits.maxSockets || startingCount >= limits.maxStarting) {
      metrics?.wsRefused(wss.clients.size >= limits.maxSockets ? "busy_sockets" : "busy_starting");
      socket.end(BUSY);
      return;
    }
    // graphql-ws keeps what it is given as ctx.extra.request for the socket's life: the
    // upgrade's id and address, not the IncomingMessage with its headers (memory per
    // waiting subscriber, BENCHMARKS.md). Read here, outside the callback: a closure that
    // named `req` kept it, through the socket's close listener, for as long as the socket.
    const upgrade: Upgrade = { requestId: requestIdOf(req), address: req.socket.remoteAddress ?? "unknown" };
    wss.handleUpgrade(req, socket, head, (ws) => opened(ws, upgrade));
  });
  return {
    /** Closes every socket with "going away" and waits for the subscriptions to end. */
    async close() {
      pings.stop();
      for (const client of wss.clients) client.close(1001, "Server shutting down");
      await cleanup.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/**
 * A subscription's `next` messages written straight to its socket. Made here, not
 * in onSubscribe: a closure keeps its whole scope, and there that was the
 * subscribe message with its query and variables, for the subscription's life.
 */
function directNext(socket: WebSocket, id: string, slot: PushSlot | undefined): NonNullable<Context["sendNext"]> {
  const frameStart = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  return (result) => {
    if (socket.readyState !== socket.OPEN) return;
    socket.send(`${frameStart}${JSON.stringify(result)}}`);
    if (slot) slot.n++;
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
