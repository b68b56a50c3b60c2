// A busy server still takes a crowd's new connections. libuv accepts one connection per
// event-loop turn and descriptor of the listening socket; the server listens on
// ACCEPTS_PER_TURN descriptors of it (src/http/listen-copies.ts). Here the server's loop is
// kept busy (40 ms of CPU a turn, as a loaded instance's turns take) for 20 turns while 100
// connections wait: with one descriptor the server takes one a turn, with the default it takes
// them all, and every one of them is
// answered. Turns are counted, not seconds, so a slow or loaded machine changes nothing.
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
const opened: net.Socket[] = [];
/** What the sockets met (none expected; a reset shows here, not as an uncaught error). */
const socketErrors: Error[] = [];
afterAll(async () => {
  for (const s of opened) s.destroy();
  await Promise.all([one?.close(), many?.close()]);
});

const CONNECTIONS = 100;
const BUSY_TURNS = 20;

/** Opens `CONNECTIONS` sockets, then spends 40 ms in each of `BUSY_TURNS` loop turns; counts what the server took by then. */
async function acceptedWhileBusy(d: Deployment): Promise<{ accepted: number; inBusyTurns: number; sockets: net.Socket[] }> {
  const server = d.server.app.httpServer;
  let accepted = 0;
  const count = () => accepted++;
  server.on("connection", count);
  const port = Number(new URL(d.server.url).port);
  const sockets = await Promise.all(
    Array.from(
      { length: CONNECTIONS },
      () =>
        new Promise<net.Socket>((resolve) => {
          const s = net.connect(port, "127.0.0.1", () => resolve(s));
          s.on("error", (error) => socketErrors.push(error));
          opened.push(s);
        }),
    ),
  );
  const before = accepted;
  // One busy callback in every turn: a setImmediate runs in the turn's check phase, and while
  // one is pending the turn's poll does not wait. (With setInterval(…, 0) the loop also turned
  // while waiting for the next tick, one accept a turn: 57 in "20 busy turns" on a loaded CI.)
  await new Promise<void>((resolve) => {
    let turns = 0;
    const busy = () => {
      if (++turns > BUSY_TURNS) {
        resolve();
        return;
      }
      const until = performance.now() + 40;
      while (performance.now() < until);
      setImmediate(busy);
    };
    setImmediate(busy);
  });
  server.off("connection", count);
  return { accepted, inBusyTurns: accepted - before, sockets };
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
          s.once("end", () => reject(new Error(`closed before an answer: ${JSON.stringify(text)}`)));
          s.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        }),
    ),
  );
}

describe("accepts per loop turn", () => {
  it("takes one connection a turn on one descriptor, and all of them on the default's", async () => {
    expect(one.server.app.acceptsPerTurn).toBe(1);
    expect(many.settings.acceptsPerTurn).toBe(32);
    expect(many.server.app.acceptsPerTurn).toBe(32);
    const few = await acceptedWhileBusy(one);
    const all = await acceptedWhileBusy(many);
    // About one a turn: about 20 in 20 busy turns, never near all of them; without the copies the
    // default deployment takes as few.
    expect(few.inBusyTurns).toBeLessThan(CONNECTIONS / 2);
    expect(few.accepted).toBeLessThan(CONNECTIONS);
    expect(all.accepted).toBe(CONNECTIONS);
    // Every connection is served, whichever descriptor took it.
    const lines = await answers([...few.sockets, ...all.sockets]);
    expect(lines).toEqual(Array(2 * CONNECTIONS).fill("HTTP/1.1 200 OK"));
    expect(socketErrors).toEqual([]);
  });
});
