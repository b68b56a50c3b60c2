// Phase "buying": the buying path on its own, closed loop. One concert with one
// date of as many seats as users; every user is ACTIVE (a policy with room for
// all) and has the balance to pay. Then `reserveSeats` at 100 clients, each call
// a distinct user holding a distinct seat, and `pay` at 100 clients, each call
// paying one of those holds. During each phase PostgreSQL's wait events are
// sampled from pg_stat_activity (what the service's connections wait for).
import { processCpuSeconds } from "./stats";
import { withClient } from "./database";
import { monotonicMicros } from "../profile-summary";
import { graphql, runCalls, runLoad, type Call, type LoadResult } from "./load";
import type { Timing } from "./throughput";

const HOLD = "mutation($d: ID!, $n: [Int!]!) { reserveSeats(concertDateId: $d, seatNumbers: $n) { id status } }";
const PAY = "mutation($r: ID!, $k: String) { pay(reservationId: $r, idempotencyKey: $k) { id status } }";
const ENTER = "mutation($c: ID!) { enterQueue(concertId: $c) { token status } }";

/** The measured window in the monotonic microseconds V8's profiler stamps samples with. */
type ProfileWindow = { from: number; to: number };

export interface BuyingResult {
  /** The concert the phase created (its line's keys are the bench's to delete). */
  concertId: string;
  users: number;
  hold: LoadResult & { waits: CallWaits; window: ProfileWindow };
  pay: LoadResult & { waits: CallWaits; window: ProfileWindow };
}

/** The wait sample with its CPU per call answered: all of the database's backends, and the service's connections alone. */
type CallWaits = WaitSample & { calls: number; postgresCpuMsPerCall: number; clientBackendCpuMsPerCall: number };

/** Per sampled state of the service's backends: how often each was seen (share of samples × backends). */
export interface WaitSample {
  samples: number;
  /** CPU the database's backends used in the window (ms, from /proc), and per call answered. */
  postgresCpuMs: number;
  /** The same by kind of backend: the service's connections ("client backend") and autovacuum's workers, which start when they will. */
  postgresCpuMsByKind: Record<string, number>;
  /** Mean number of the database's backends in each state (active with a wait event, active on CPU, idle in transaction, idle). */
  mean: Record<string, number>;
}

export async function measureBuying(o: {
  timing: Timing;
  dbUrl: string;
  adminJwt: string;
  jwts: string[];
  concurrency: number;
}): Promise<BuyingResult> {
  const { timing: t, jwts } = o;
  const c = await graphql<{ createConcert: { id: string } }>(
    t.url,
    'mutation { createConcert(input: { title: "Buying bench" }) { id } }',
    {},
    o.adminJwt,
  );
  const concertId = c.createConcert.id;
  const d = await graphql<{ addConcertDate: { id: string } }>(
    t.url,
    "mutation($i: AddConcertDateInput!) { addConcertDate(input: $i) { id } }",
    { i: { concertId, startsAt: "2030-05-01T19:00:00.000Z", seatCount: jwts.length, price: 100 } },
    o.adminJwt,
  );
  const dateId = d.addConcertDate.id;
  await graphql(
    t.url,
    "mutation($c: ID!, $i: QueuePolicyInput!) { updateQueuePolicy(concertId: $c, input: $i) { maxActiveUsers } }",
    { c: concertId, i: { maxActiveUsers: 1_000_000, admitPerSecond: 1_000_000, activeSessionSeconds: 86_400 } },
    o.adminJwt,
  );
  const entered = await runCalls(
    t.url,
    jwts.map((jwt) => ({ body: JSON.stringify({ query: ENTER, variables: { c: concertId } }), headers: { authorization: `Bearer ${jwt}` } })),
    100,
  );
  const tokens = entered.map((e) => e.enterQueue as { token: string; status: string });
  if (tokens.some((x) => x.status !== "ACTIVE")) throw new Error("expected every buyer ACTIVE");
  await withClient(o.dbUrl, (db) => db.query(`UPDATE users SET balance = 1000000 WHERE role = 'USER'`));

  // Holds: client i owns users i, i + c, …; user k holds seat k + 1.
  const n = o.concurrency;
  const cursor = new Array<number>(n).fill(0);
  const held: { jwt: string; token: string; reservationId: string }[][] = Array.from({ length: n }, () => []);
  const waitsHold = sampleWaits(o.dbUrl);
  const holdFrom = monotonicMicros() + t.warmupMs * 1000;
  const hold = await runLoad({
    ...t,
    concurrency: n,
    next(i): Call | null {
      const k = i + n * cursor[i]++;
      if (k >= jwts.length) return null;
      return {
        body: JSON.stringify({ query: HOLD, variables: { d: dateId, n: [k + 1] } }),
        headers: { authorization: `Bearer ${jwts[k]}`, "x-queue-token": tokens[k].token },
        onData: (data) => void held[i].push({ jwt: jwts[k], token: tokens[k].token, reservationId: (data.reserveSeats as { id: string }).id }),
      };
    },
  });
  const holdTo = monotonicMicros();
  const holdWaits = await waitsHold.stop();
  const holds = held.reduce((a, h) => a + h.length, 0);

  const payCursor = new Array<number>(n).fill(0);
  let paid = 0;
  const waitsPay = sampleWaits(o.dbUrl);
  const payFrom = monotonicMicros() + t.warmupMs * 1000;
  const pay = await runLoad({
    ...t,
    concurrency: n,
    next(i): Call | null {
      const h = held[i][payCursor[i]++];
      if (!h) return null;
      return {
        body: JSON.stringify({ query: PAY, variables: { r: h.reservationId, k: `bench-${h.reservationId}` } }),
        headers: { authorization: `Bearer ${h.jwt}`, "x-queue-token": h.token },
        onData: () => void paid++,
      };
    },
  });
  const payTo = monotonicMicros();
  const payWaits = await waitsPay.stop();
  const perCall = (w: WaitSample, calls: number) => ({
    ...w,
    calls,
    postgresCpuMsPerCall: Math.round((w.postgresCpuMs / Math.max(1, calls)) * 1000) / 1000,
    clientBackendCpuMsPerCall: Math.round(((w.postgresCpuMsByKind["client backend"] ?? 0) / Math.max(1, calls)) * 1000) / 1000,
  });
  return {
    concertId,
    users: jwts.length,
    hold: { ...hold, waits: perCall(holdWaits, holds), window: { from: holdFrom, to: holdTo } },
    pay: { ...pay, waits: perCall(payWaits, paid), window: { from: payFrom, to: payTo } },
  };
}

/** Samples pg_stat_activity of the database every 100 ms until stopped. */
function sampleWaits(dbUrl: string) {
  const dbName = new URL(dbUrl).pathname.slice(1);
  const counts: Record<string, number> = {};
  let samples = 0;
  let running = true;
  // Each backend's CPU when first seen and when last seen (a pooled backend lives through the phase).
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  const kinds = new Map<number, string>();
  const done = withClient(dbUrl, async (db) => {
    while (running) {
      const pids = await db.query<{ pid: number; kind: string }>(
        `SELECT pid, backend_type AS kind FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
        [dbName],
      );
      for (const { pid, kind } of pids.rows) {
        kinds.set(pid, kind);
        try {
          const cpu = processCpuSeconds(pid);
          if (!first.has(pid)) first.set(pid, cpu);
          last.set(pid, cpu);
        } catch {
          // the backend ended meanwhile
        }
      }
      const { rows } = await db.query<{ state: string; n: number }>(
        `SELECT CASE WHEN state = 'active' AND wait_event IS NOT NULL THEN 'active: ' || wait_event_type || '/' || wait_event
                     WHEN state = 'active' THEN 'active: on CPU' ELSE coalesce(state, 'none') END AS state, count(*)::int AS n
           FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() GROUP BY 1`,
        [dbName],
      );
      samples++;
      for (const r of rows) counts[r.state] = (counts[r.state] ?? 0) + r.n;
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  return {
    async stop(): Promise<WaitSample> {
      running = false;
      await done;
      const mean: Record<string, number> = {};
      for (const [k, v] of Object.entries(counts).sort((a, b) => b[1] - a[1])) mean[k] = Math.round((v / Math.max(1, samples)) * 100) / 100;
      let cpu = 0;
      const byKind: Record<string, number> = {};
      for (const [pid, at] of first) {
        const used = (last.get(pid) ?? at) - at;
        cpu += used;
        const kind = kinds.get(pid) ?? "unknown";
        byKind[kind] = Math.round((byKind[kind] ?? 0) + used * 1000);
      }
      return { samples, postgresCpuMs: Math.round(cpu * 1000), postgresCpuMsByKind: byKind, mean };
    },
  };
}
