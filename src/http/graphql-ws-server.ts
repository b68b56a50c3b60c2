// graphql-ws's protocol server (makeServer) on a `ws` WebSocketServer: what graphql-ws's own
// `useServer` adapter does, with less kept per socket. A waiting crowd holds one socket each for
// minutes, and the heap snapshot of 3,000 subscribers (BENCHMARKS.md) showed what the adapter
// kept: each socket's first message as the Buffer `ws` delivered (a slice that kept its 8 KB
// pool slab alive), held by the async handler that awaits the subscription for its whole life,
// and two timers per socket for the keep-alive ping. Here the handler is not async (the Buffer
// is let go once read as text) and one timer pings every socket, each on its own period.
import { CloseCode, handleProtocols, makeServer, type ServerOptions } from "graphql-ws";
import type { WebSocket, WebSocketServer } from "ws";

export interface SocketExtra<R> {
  socket: WebSocket;
  /** What the upgrade hands over for the socket's life (never the IncomingMessage: see graphql-ws.ts). */
  request: R;
}

/** A close reason within the protocol's 123 bytes. */
const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 120);

export function serveGraphqlWs<P extends Record<string, unknown>, R>(
  options: ServerOptions<P, SocketExtra<R>>,
  wss: WebSocketServer,
  keepAliveMs = 12_000,
): { dispose(): Promise<void> } {
  const server = makeServer(options);
  wss.options.handleProtocols = handleProtocols;
  const fail = (socket: WebSocket, error: unknown) => socket.close(CloseCode.InternalServerError, reasonOf(error));

  // One timer for every socket's keep-alive: each socket is pinged every `keepAliveMs` from its
  // first round on, and cut at its next ping if it has not answered the last one (graphql-ws's
  // adapter: a ping every 12 s, cut 12 s later). The timer runs 12 times a period, so the pings
  // of a crowd go out spread as the sockets arrived, not 15,000 in one turn of the loop.
  const pingedAt = new WeakMap<WebSocket, number>();
  const unanswered = new WeakSet<WebSocket>();
  function answered(this: WebSocket) {
    unanswered.delete(this);
  }
  const beat =
    keepAliveMs > 0 && Number.isFinite(keepAliveMs)
      ? setInterval(
          () => {
            const now = Date.now();
            for (const socket of wss.clients) {
              if (socket.readyState !== socket.OPEN) continue;
              const last = pingedAt.get(socket);
              if (last === undefined) {
                pingedAt.set(socket, now); // its period starts now; first ping a period later
                continue;
              }
              if (now - last < keepAliveMs) continue;
              if (unanswered.has(socket)) {
                socket.terminate();
                continue;
              }
              unanswered.add(socket);
              pingedAt.set(socket, now);
              socket.ping();
            }
          },
          Math.max(10, Math.round(keepAliveMs / 12)),
        )
      : undefined;
  beat?.unref();

  wss.once("error", (error) => {
    for (const client of wss.clients) fail(client, error);
  });
  wss.on("connection", (socket: WebSocket, request: R) => {
    socket.once("error", (error) => fail(socket, error));
    socket.on("pong", answered);
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            socket.send(data, (error) => (error ? reject(error) : resolve()));
          }),
        close: (code, reason) => socket.close(code, reason),
        // Not an async handler: the promise of `cb` lasts as long as the subscription it starts,
        // and an async frame here would keep the message's Buffer for as long.
        onMessage: (cb) =>
          socket.on("message", (data) => {
            cb(String(data)).catch((error) => fail(socket, error));
          }),
      },
      { socket, request },
    );
    socket.once("close", (code, reason) => {
      void closed(code, String(reason));
    });
  });

  return {
    async dispose() {
      if (beat) clearInterval(beat);
      for (const client of wss.clients) client.close(1001, "Going away");
      wss.removeAllListeners();
      await new Promise<void>((resolve, reject) => wss.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
