// The rush's second act (`--second-act=N`, off by default): after the sell-out,
// refunds and the waiting list (rules 21 and 23). It plays on a concert of its
// own with keepLineAfterSellOut, on the instances the crowd just used (the
// crowd's concert ends its line at the sell-out, as rule 6 says, so that act
// one's checks stand): N buyers buy the N seats (sold out), 1.5 N waiting users
// join the line one after another, each watching queueStatusChanged over
// WebSocket, then the N buyers refund at a steady pace across the instances and
// every admitted user holds a freed seat and pays. Checks: the admitted are
// exactly the first N in entry order and the rest still wait; every freed seat
// was sold again, once, to an admitted user; money and ledgers add up. Figure:
// the time from each refund to the next admission push (goal p99 < 1.5 s).
import WebSocket from "ws";
import { createClient, type Client } from "graphql-ws";
import { Client as Pg } from "pg";
import { graphql } from "../lib/load";
import { sleep } from "../lib/server";
import type { Check } from "./checks";
import { quantiles, type Quantiles } from "./quantiles";

export interface SecondActResult {
  refunds: number;
  waiters: number;
  /** Refund request sent → the next admitted user's ACTIVE push, pairing the k-th refund with the k-th admission. */
  refundToPush: Quantiles;
  refundMs: Quantiles;
  seconds: number;
}

interface Act {
  urls: string[];
  wsUrls: string[];
  dbUrl: string;
  adminJwt: string;
  issue: (userId: string) => Promise<string>;
  refunds: number;
  price: number;
  log: (line: string) => void;
}

interface Person {
  id: string;
  jwt: string;
  token?: string;
  activeAt?: number;
  client?: Client;
  error?: string;
}

const ENTER = "mutation($c: ID!) { enterQueue(concertId: $c) { token status queuePosition } }";
const WATCH = "subscription($t: String!) { queueStatusChanged(token: $t) { status queuePosition } }";
const CHARGE = "mutation($a: Int!) { chargeBalance(amount: $a) }";
const RESERVE = "mutation($d: ID!, $n: [Int!]!) { reserveSeats(concertDateId: $d, seatNumbers: $n) { id } }";
const PAY = "mutation($r: ID!) { pay(reservationId: $r) { status } }";
const REFUND = "mutation($r: ID!) { refundReservation(reservationId: $r) { status } }";
const SEATS = "query($d: ID!) { seats(concertDateId: $d) { number status } }";

/** A GraphQL call with the queue token too; answers the error code instead of throwing. */
async function call<T>(url: string, query: string, variables: object, jwt: string, queueToken?: string): Promise<{ data?: T; code?: string }> {
  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${jwt}`, ...(queueToken ? { "x-queue-token": queueToken } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: { extensions?: { code?: string } }[] };
  return body.errors?.length ? { code: body.errors[0].extensions?.code ?? "ERROR" } : { data: body.data };
}

async function inBatches<T>(items: T[], size: number, run: (item: T, i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map((x, j) => run(x, i + j)));
}

export async function playSecondAct(act: Act): Promise<{ result: SecondActResult; checks: Check[] }> {
  const began = Date.now();
  const n = act.refunds;
  const url = (i: number) => act.urls[i % act.urls.length];
  const pg = new Pg({ connectionString: act.dbUrl });
  await pg.connect();
  try {
    // People: by SQL with the crowd's password hash, tokens minted.
    const { rows } = await pg.query<{ id: string }>(
      `INSERT INTO users (email, password_hash)
       SELECT 'act2-' || g || '@bench.test', (SELECT password_hash FROM users WHERE role = 'USER' LIMIT 1) FROM generate_series(1, $1::int) g
       RETURNING id`,
      [n + Math.ceil(n * 1.5)],
    );
    const people: Person[] = await Promise.all(rows.map(async (r) => ({ id: r.id, jwt: await act.issue(r.id) })));
    const buyers = people.slice(0, n);
    const waiters = people.slice(n);

    const c = await graphql<{ createConcert: { id: string } }>(
      act.urls[0],
      `mutation { createConcert(input: { title: "Second act", keepLineAfterSellOut: true }) { id } }`,
      {},
      act.adminJwt,
    );
    const concertId = c.createConcert.id;
    const d = await graphql<{ addConcertDate: { id: string } }>(
      act.urls[0],
      "mutation($i: AddConcertDateInput!) { addConcertDate(input: $i) { id } }",
      { i: { concertId, startsAt: "2030-06-01T19:00:00.000Z", seatCount: n, price: act.price } },
      act.adminJwt,
    );
    const dateId = d.addConcertDate.id;
    await graphql(
      act.urls[0],
      "mutation($c: ID!, $i: QueuePolicyInput!) { updateQueuePolicy(concertId: $c, input: $i) { maxActiveUsers } }",
      { c: concertId, i: { maxActiveUsers: 10 * n, admitPerSecond: 10 * n } },
      act.adminJwt,
    );
    await inBatches(people, 20, async (p, i) => {
      await call(url(i), CHARGE, { a: act.price }, p.jwt);
    });

    // The sale: every buyer one seat; the last payment sells out.
    const sold: string[] = new Array(n);
    await inBatches(buyers, 20, async (b, i) => {
      const e = await call<{ enterQueue: { token: string; status: string } }>(url(i), ENTER, { c: concertId }, b.jwt);
      if (e.data?.enterQueue.status !== "ACTIVE") throw new Error(`second act: buyer ${i} not admitted: ${e.code ?? e.data?.enterQueue.status}`);
      const h = await call<{ reserveSeats: { id: string } }>(url(i), RESERVE, { d: dateId, n: [i + 1] }, b.jwt, e.data.enterQueue.token);
      if (!h.data) throw new Error(`second act: buyer ${i} could not hold: ${h.code}`);
      const p = await call(url(i + 1), PAY, { r: h.data.reserveSeats.id }, b.jwt, e.data.enterQueue.token);
      if (p.code) throw new Error(`second act: buyer ${i} could not pay: ${p.code}`);
      sold[i] = h.data.reserveSeats.id;
    });

    // The line after the sell-out, one after another, each watching its ticket.
    const seatsToTake: number[] = [];
    const takeSeat = async (w: Person, i: number) => {
      // The admitted user looks at the seat map and holds a seat shown AVAILABLE, trying the next on a loss.
      for (let attempt = 0; attempt < 20; attempt++) {
        const map = await call<{ seats: { number: number; status: string }[] }>(url(i), SEATS, { d: dateId }, w.jwt, w.token);
        const free = map.data?.seats.filter((s) => s.status === "AVAILABLE").map((s) => s.number) ?? [];
        if (free.length === 0) {
          await sleep(200);
          continue;
        }
        const seat = free[(i + attempt) % free.length];
        const h = await call<{ reserveSeats: { id: string } }>(url(i), RESERVE, { d: dateId, n: [seat] }, w.jwt, w.token);
        if (!h.data) continue;
        const p = await call(url(i + 1), PAY, { r: h.data.reserveSeats.id }, w.jwt, w.token);
        if (p.code) w.error = `pay: ${p.code}`;
        else seatsToTake.push(seat);
        return;
      }
      w.error = "no seat after 20 tries";
    };
    for (const [i, w] of waiters.entries()) {
      const e = await call<{ enterQueue: { token: string; status: string } }>(url(i), ENTER, { c: concertId }, w.jwt);
      if (e.data?.enterQueue.status !== "WAITING")
        throw new Error(`second act: waiter ${i} entered as ${e.code ?? e.data?.enterQueue.status}, not WAITING`);
      w.token = e.data.enterQueue.token;
      w.client = createClient({
        url: act.wsUrls[i % act.wsUrls.length],
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${w.jwt}` },
        retryAttempts: 0,
      });
      w.client.subscribe<{ queueStatusChanged: { status: string } }>(
        { query: WATCH, variables: { t: w.token } },
        {
          next: (m) => {
            if (m.data?.queueStatusChanged.status === "ACTIVE" && w.activeAt === undefined) {
              w.activeAt = Date.now();
              void takeSeat(w, i);
            }
          },
          error: (err) => (w.error ??= `subscription: ${String(err)}`),
          complete: () => undefined,
        },
      );
    }
    await sleep(2_000); // every subscription has sent its first ticket
    const admittedEarly = waiters.filter((w) => w.activeAt !== undefined).length;

    // The refunds: a steady pace, across the instances.
    const paceMs = 50;
    const refundStarts: number[] = [];
    const refundMs: number[] = [];
    const refundCodes: string[] = [];
    await Promise.all(
      buyers.map(async (b, i) => {
        await sleep(i * paceMs);
        const t = Date.now();
        refundStarts.push(t);
        const r = await call(url(i), REFUND, { r: sold[i] }, b.jwt);
        refundMs.push(Date.now() - t);
        if (r.code) refundCodes.push(r.code);
      }),
    );
    const deadline = Date.now() + 30_000;
    while (
      Date.now() < deadline &&
      (waiters.filter((w) => w.activeAt !== undefined).length < n || seatsToTake.length + waiters.filter((w) => w.error).length < n)
    )
      await sleep(200);
    await sleep(2_000); // and nobody else is admitted
    for (const w of waiters) await w.client?.dispose();

    const admitted = waiters.map((w, k) => (w.activeAt !== undefined ? k : -1)).filter((k) => k >= 0);
    const pushes = waiters
      .filter((w) => w.activeAt !== undefined)
      .map((w) => w.activeAt!)
      .sort((a, b) => a - b);
    const starts = [...refundStarts].sort((a, b) => a - b);
    const deltas = pushes.slice(0, starts.length).map((t, k) => t - starts[k]);
    const statuses = await pg.query<{ status: string; n: number }>(
      `SELECT r.status::text, count(*)::int AS n FROM reservations r WHERE r.concert_id = $1 GROUP BY 1 ORDER BY 1`,
      [concertId],
    );
    const seatOwners = await pg.query<{ n: number; owners: number; admitted: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT r.user_id)::int AS owners,
              count(*) FILTER (WHERE r.user_id = ANY($2::uuid[]))::int AS admitted
         FROM seats s JOIN reservations r ON r.id = s.reservation_id
        WHERE s.concert_date_id = $1 AND s.status = 'SOLD' AND r.status = 'CONFIRMED'`,
      [dateId, admitted.map((k) => waiters[k].id)],
    );
    const money = await pg.query<{ wrong: number; refunded: number }>(
      `SELECT (SELECT count(*)::int FROM users u WHERE u.balance <> coalesce((SELECT sum(amount) FROM ledger_entries l WHERE l.user_id = u.id), 0)) AS wrong,
              (SELECT coalesce(sum(p.refunded_amount), 0)::int FROM payments p JOIN reservations r ON r.id = p.reservation_id WHERE r.concert_id = $1) AS refunded`,
      [concertId],
    );
    const expected = Array.from({ length: n }, (_, k) => k);
    const checks: Check[] = [
      {
        name: "second act: every refund went through",
        ok: refundCodes.length === 0,
        detail: `${n - refundCodes.length} of ${n} refunded${refundCodes.length ? `; errors ${[...new Set(refundCodes)].join(", ")}` : ""}`,
      },
      {
        name: "second act: each released seat admitted the earliest waiting user still in line, exactly once",
        ok: admittedEarly === 0 && JSON.stringify(admitted) === JSON.stringify(expected),
        detail: `${admitted.length} admitted of ${waiters.length} waiting (${admittedEarly} before any refund); ${
          JSON.stringify(admitted) === JSON.stringify(expected)
            ? `exactly places 1–${n} in entry order`
            : `places ${admitted
                .slice(0, 12)
                .map((k) => k + 1)
                .join(",")}…`
        }`,
      },
      {
        name: "second act: every released seat sold again, once, to an admitted user",
        ok: seatOwners.rows[0].n === n && seatOwners.rows[0].admitted === n && seatOwners.rows[0].owners === n,
        detail: `${seatOwners.rows[0].n} of ${n} seats SOLD to CONFIRMED reservations, ${seatOwners.rows[0].admitted} to admitted users, ${seatOwners.rows[0].owners} distinct owners; reservations ${statuses.rows.map((r) => `${r.status} ${r.n}`).join(", ")}; ${waiters.filter((w) => w.error).length} admitted users with trouble`,
      },
      {
        name: "second act: money and ledgers add up",
        ok: money.rows[0].wrong === 0 && money.rows[0].refunded === n * act.price,
        detail: `${money.rows[0].wrong} balances off their ledger; refunded ${money.rows[0].refunded} = ${n} × ${act.price} (no fee: the date is more than REFUND_FREE_DAYS away)`,
      },
    ];
    const result: SecondActResult = {
      refunds: n,
      waiters: waiters.length,
      refundToPush: quantiles(deltas),
      refundMs: quantiles(refundMs),
      seconds: Math.round((Date.now() - began) / 1000),
    };
    act.log(
      `second act: ${n} refunds, ${admitted.length} admitted; refund → push p50 ${result.refundToPush.p50} ms, p99 ${result.refundToPush.p99} ms`,
    );
    return { result, checks };
  } finally {
    await pg.end();
  }
}
