// A busy server still takes a crowd's new connections. libuv accepts one connection per
// event-loop turn and descriptor of the listening socket; the server listens on
// ACCEPTS_PER_TURN descriptors of it (src/http/listen-copies.ts). Here the server's loop is
// kept busy (40 ms of CPU a turn, as a loaded instance's turns take) while 200 connections
// arrive at once: with one descriptor the server takes about one a turn, with the default it
// takes them all within a second, and every one of them is answered.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";

type Deployment = Awaited<ReturnType<typeof startDeployment>>;
let one: Deployment;
let many: Deployment;
beforeAll(async () => {
  one = await startDeployment({ settings: { ACCEPTS_PER_TURN: "1" } });
  many = await startDeployment();
});
afterAll(() => Promise.all([one?.close(), many?.close()]));

const CONNECTIONS = 200;

/** Opens `CONNECTIONS` sockets while every loop turn spends 40 ms; counts what the server took in 1 s. */
async function acceptedWhileBusy(d: Deployment): Promise<{ accepted: number; sockets: net.Socket[] }> {
  const server = d.server.app.httpServer;
  let accepted = 0;
  const count = () => accepted++;
  server.on("connection", count);
  const port = Number(new URL(d.server.url).port);
  const sockets = Array.from({ length: CONNECTIONS }, () => net.connect(port, "127.0.0.1"));
  const busy = setInterval(() => {
    const until = performance.now() + 40;
    while (performance.now() < until);
  }, 0);
  await new Promise((r) => setTimeout(r, 1_000));
  clearInterval(busy);
  server.off("connection", count);
  return { accepted, sockets };
}

/** Sends a request on each socket and resolves with the status lines. */
function answers(sockets: net.Socket[]): Promise<string[]> {
  return Promise.all(
    sockets.map(
      (s) =>
        new Promise<string>((resolve, reject) => {
          let text = "";
          s.on("data", (c) => {
            text += c;
            if (text.includes("\r\n\r\n")) {
              resolve(text.split("\r\n")[0]);
              s.destroy();
            }
          });
          s.once("error", reject);
          s.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        }),
    ),
  );
}

describe("accepts per loop turn", () => {
  it("takes one connection a turn on one descriptor, and all of them on the default's", async () => {
    const few = await acceptedWhileBusy(one);
    const all = await acceptedWhileBusy(many);
    expect(many.settings.acceptsPerTurn).toBe(32);
    // About 25 turns of 40 ms in the second: one connection each (a few more before the first turn).
    expect(few.accepted).toBeLessThan(60);
    expect(all.accepted).toBe(CONNECTIONS);
    // Every connection is served, whichever descriptor took it.
    const lines = await answers([...few.sockets, ...all.sockets]);
    expect(lines).toEqual(Array(2 * CONNECTIONS).fill("HTTP/1.1 200 OK"));
  });
});
