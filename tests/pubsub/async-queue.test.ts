// The subscriptions' event queue: pulled one event at a time, or handed to a sink as each is
// pushed (src/graphql/subscription-executor.ts writes projected events straight to the
// socket). Whichever way an event goes, the subscriber sees every event once, in the order
// pushed, and ending runs the cleanup once.
import { describe, expect, it } from "vitest";
import { AsyncQueue } from "../../src/pubsub/async-queue";

describe("AsyncQueue", () => {
  it("hands pushes to the sink as they come, the queued ones first, keeping one next() pending", async () => {
    const q = new AsyncQueue<number>();
    q.push(1);
    q.push(2);
    const sunk: number[] = [];
    q.handOff((n) => {
      sunk.push(n);
      return true;
    });
    expect(sunk).toEqual([1, 2]);
    let settled = false;
    const pending = q.next().then((r) => {
      settled = true;
      return r;
    });
    for (let n = 3; n <= 6; n++) q.push(n);
    await new Promise((r) => setImmediate(r));
    expect(sunk).toEqual([1, 2, 3, 4, 5, 6]);
    expect(settled).toBe(false); // nothing went the slow way
    q.end();
    expect(await pending).toEqual({ value: undefined, done: true });
  });

  it("keeps the order when the sink declines one: it and all after it wait for next(), then the sink resumes", async () => {
    const q = new AsyncQueue<number>();
    const sunk: number[] = [];
    const seen: number[] = [];
    q.handOff((n) => {
      if (n % 5 === 0) return false; // multiples of 5 need the slow path
      sunk.push(n);
      seen.push(n);
      return true;
    });
    // The puller: takes an event, "executes" it over a few turns, then asks for the next.
    const pulled: number[] = [];
    const puller = (async () => {
      for (;;) {
        const step = await q.next();
        if (step.done) return;
        await new Promise((r) => setImmediate(r));
        pulled.push(step.value);
        seen.push(step.value);
      }
    })();
    for (let n = 1; n <= 12; n++) {
      q.push(n);
      if (n % 3 === 0) await new Promise((r) => setImmediate(r));
    }
    // The puller catches up; later pushes go to the sink again.
    await new Promise((r) => setTimeout(r, 20));
    q.push(13);
    q.push(14);
    q.end();
    await puller;
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(pulled).toContain(5);
    expect(pulled).toContain(10);
    // 6, pushed while 5 waited for the puller, went the slow way behind it.
    expect(pulled).toContain(6);
    expect(sunk.slice(-2)).toEqual([13, 14]);
  });

  it("answers next()s asked at once in the order they were asked, and ends every one still pending", async () => {
    const q = new AsyncQueue<number>();
    const asked = [q.next(), q.next(), q.next(), q.next()];
    q.push(1);
    q.push(2);
    q.push(3);
    q.end();
    expect(await Promise.all(asked)).toEqual([
      { value: 1, done: false },
      { value: 2, done: false },
      { value: 3, done: false },
      { value: undefined, done: true },
    ]);
  });

  it("runs the cleanup once, from either side, and drops pushes after the end", async () => {
    let cleanups = 0;
    const a = new AsyncQueue<number>();
    a.onEnd(() => cleanups++);
    a.end();
    a.end();
    await a.return();
    a.push(1);
    expect(await a.next()).toEqual({ value: undefined, done: true });
    const b = new AsyncQueue<number>();
    b.onEnd(() => cleanups++);
    b.push(1);
    await b.return();
    expect(await b.next()).toEqual({ value: undefined, done: true });
    expect(cleanups).toBe(2);
  });
});
