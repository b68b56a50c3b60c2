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
  /** When the last ping went out, or the socket was made (performance.now(), whole ms). */
  pingedAt = Math.floor(performance.now());
  /** The last ping has had no pong yet. */
  awaitingPong = false;

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    // ws emits ('message', data: Buffer, isBinary); graphql-ws reads String(data) anyway.
    if (event === "message" && args[1] === false) return super.emit(event, String(args[0]), false);
    if (event === "pong") this.awaitingPong = false;
    return super.emit(event, ...args);
  }
}

/**
 * graphql-ws's keep-alive (a ping a period after the last, the socket terminated when one has
 * gone unanswered for a period) on one timer for all the sockets of `wss`. The timer runs about
 * 48 times a period and looks at that share of the sockets twice over, so each socket is seen
 * twice a period and 18,000 are never pinged in one turn of the loop (a few hundred at a time,
 * about 1 ms): a ping goes out one to one and a half periods after the last (or after the socket
 * opened), and a socket whose peer is gone is ended one to one and a half periods after the ping
 * it left unanswered, closing or not.
 */
export function keepAlive(wss: WebSocketServer, periodMs: number): { stop(): void } {
  if (!(periodMs > 0)) return { stop() {} };
  const clients = wss.clients as Set<LeanSocket>;
  const tickMs = Math.min(250, Math.max(10, Math.round(periodMs / 48)));
  let round: Iterator<LeanSocket> | undefined;
  const timer = setInterval(() => {
    const now = Math.floor(performance.now());
    let quota = Math.ceil((clients.size * 2 * tickMs) / periodMs);
    while (quota-- > 0) {
      // A Set's iterator sees the sockets added after it began and skips the ones deleted.
      round ??= clients.values();
      const next = round.next();
      if (next.done) {
        round = undefined; // the next round begins at the next tick
        return;
      }
      const socket = next.value;
      if (now - socket.pingedAt < periodMs) continue;
      if (socket.awaitingPong) socket.terminate();
      else if (socket.readyState === socket.OPEN) {
        socket.awaitingPong = true;
        socket.pingedAt = now;
        socket.ping();
      }
    }
  }, tickMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
