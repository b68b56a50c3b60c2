// More than one accept per event-loop turn.
//
// libuv (since 1.45, Node 20) accepts one connection per turn of the event loop for each
// descriptor of a listening socket (libuv/libuv#3696, "don't accept() connections in a loop").
// A server busy answering its kept-alive connections turns its loop 10–50 times a second, so a
// crowd's new connections (each WebSocket is one) waited in the kernel's accept queue for tens
// of seconds: 16 accepts a second in a plain Node HTTP server kept busy by 256 connections
// (BENCHMARKS.md). Each descriptor of the same listening socket gets its own turn, so `copies`
// more descriptors let the loop take `copies + 1` connections a turn.
//
// Node 20 cannot duplicate a descriptor (no dup(), no SO_REUSEPORT listen option before Node 22.12),
// but a descriptor sent over an IPC channel arrives as a new one: a short-lived child process
// receives the listening socket once and sends it back `copies` times, then exits. The copies
// hand every connection to the HTTP server (`emit("connection")`, as Node documents for injecting
// connections), so the server's routes, WebSocket upgrades and connection bookkeeping are the same.
import { spawn } from "node:child_process";
import type { Server } from "node:http";
import { Server as NetServer } from "node:net";
import type { Logger } from "../observability/logger";

const CHILD = `
let copies = Number(process.argv[1]);
process.on("message", (m, handle) => {
  if (m !== "copy" || !handle) return;
  const next = () => {
    if (copies-- <= 0) { handle.close(); process.disconnect(); return; }
    process.send("copy", handle, next);
  };
  next();
});`;

const TIMEOUT_MS = 10_000;

export interface ListenCopies {
  /** The listening socket's descriptors the server accepts on: its own and the copies made. */
  readonly descriptors: number;
  /** Stops the copies accepting; resolves once their connections have ended (like `server.close`). */
  close(): Promise<void>;
}

/**
 * Gives `server` (already listening) `copies` more descriptors of its listening socket. On any
 * failure it logs and returns what it has: the server keeps working with fewer accepts a turn.
 */
export async function addListenCopies(server: Server, copies: number, backlog: number, logger: Logger): Promise<ListenCopies> {
  const servers: NetServer[] = [];
  const result: ListenCopies = {
    get descriptors() {
      return 1 + servers.length;
    },
    close: () => Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => {}),
  };
  const handle = (server as unknown as { _handle?: object | null })._handle;
  if (copies <= 0 || !handle) return result;
  const child = spawn(process.execPath, ["-e", CHILD, String(copies)], { stdio: ["ignore", "ignore", "inherit", "ipc"], env: {} });
  await new Promise<void>((resolve) => {
    let finished = false;
    const done = (problem?: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      child.removeAllListeners("message");
      if (child.exitCode === null) child.kill();
      if (problem) logger.warn("listening socket not copied; one accept per loop turn", { got: servers.length, error: problem });
      resolve();
    };
    const timer = setTimeout(() => done(new Error(`no copies within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    child.once("error", done);
    // The channel closes after its last message has been read (an exit can be seen before that).
    child.once("disconnect", () => (servers.length < copies ? done(new Error("the copier closed its channel early")) : undefined));
    child.on("message", (message, copy) => {
      if (message !== "copy" || !copy) return;
      // The same options as the HTTP server's own net.Server (http.createServer sets noDelay).
      const extra = new NetServer({ noDelay: true });
      extra.on("connection", (socket) => server.emit("connection", socket));
      extra.on("error", (error) => logger.warn("listening copy failed", { error }));
      // listen() on a received handle calls listen(2) again: the same backlog keeps the queue's size.
      extra.listen(copy, backlog);
      servers.push(extra);
      if (servers.length === copies) done();
    });
    child.send("copy", handle as never, (error) => error && done(error));
  });
  return result;
}
