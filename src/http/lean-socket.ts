// What each WebSocket keeps for its life, made small: a waiting crowd holds one socket each
// for minutes (issue 10's goal: 10 KB of memory per waiting subscriber).
//
// graphql-ws's `useServer` does two things per socket that cost memory for the socket's life:
// - its message handler is an async function that awaits the message's whole handling, and a
//   subscribe message's handling lasts as long as the subscription: the suspended frame keeps
//   the message as `ws` delivered it, a Buffer whose backing store it keeps too;
// - its keep-alive: an interval timer and its closure per socket, kept for the socket's life,
//   and at every ping a timeout, a `once` wrapper and their closures (15,000 sockets: 1,250
//   pings a second).
// So the server's sockets are LeanSockets (ws's documented `WebSocket` option): a text message
// is handed to the listeners as a string, and every socket is pinged by one shared round
// (`keepAlive` below, graphql-ws's own keep-alive turned off). Not a graphql-ws adapter of our
// own: one was tried and taken back (520077d).
import { WebSocket, type WebSocketServer } from "ws";

export class LeanSocket extends WebSocket {
  /** When the unanswered ping went out (performance.now(), whole ms), 0 once answered. */
  pingedAt = 0;

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    // ws emits ('message', data: Buffer, isBinary); graphql-ws reads String(data) anyway.
    if (event === "message" && args[1] === false) return super.emit(event, String(args[0]), false);
    if (event === "pong") this.pingedAt = 0;
    return super.emit(event, ...args);
  }
}

/**
 * Pings every socket of `wss` once per `periodMs` and ends (terminate, as graphql-ws does) one
 * whose ping went unanswered for a period: what graphql-ws's keep-alive does (period 12 s), on one
 * timer for all sockets. The timer runs about 48 times a period and pings that share of the
 * sockets, so 18,000 sockets are never pinged in one turn of the loop (a few hundred at a time,
 * about 1 ms), and a round's order is the sockets' arrival order.
 */
export function keepAlive(wss: WebSocketServer, periodMs: number): { stop(): void } {
  if (!(periodMs > 0)) return { stop() {} };
  const clients = wss.clients as Set<LeanSocket>;
  const tickMs = Math.min(250, Math.max(10, Math.round(periodMs / 48)));
  let round: Iterator<LeanSocket> | undefined;
  const timer = setInterval(() => {
    const now = Math.floor(performance.now());
    let quota = Math.ceil((clients.size * tickMs) / periodMs);
    while (quota-- > 0) {
      // A Set's iterator sees the sockets added after it began and skips the ones deleted.
      round ??= clients.values();
      const next = round.next();
      if (next.done) {
        round = undefined;
        return; // the next round begins at the next tick
      }
      const socket = next.value;
      if (socket.readyState !== socket.OPEN) continue;
      if (socket.pingedAt === 0) {
        socket.pingedAt = Math.max(1, now);
        socket.ping();
      } else if (now - socket.pingedAt >= periodMs) {
        socket.terminate();
      }
    }
  }, tickMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
