// The invariants, checked after the rush against what PostgreSQL and Redis hold
// and what the crowd saw. Each check prints its numbers; any violation fails
// the bench.
import type Redis from "ioredis";
import { Client } from "pg";
import type { PlannedUser } from "./plan";
import type { HoldSamples, QueueSamples } from "./samplers";
import { STALE_HOLDS_SQL } from "./samplers";
import type { UserResult } from "./user-flow";

export interface Check {
  name: string;
  ok: boolean;
  /** The numbers behind the verdict, as a short sentence. */
  detail: string;
}

export interface TokenFacts {
  token: string;
  user: number;
  /** Entry sequence, admission time (Redis ms, 0 when never admitted), status, reason. */
  q: number;
  a: number;
  s: string;
  r: string;
  /** The pre-queue draw key (hex; "" for an entry after the opening). */
  k: string;
}

export async function readTokens(redis: Redis, concertId: string, users: UserResult[]): Promise<TokenFacts[]> {
  const withToken = users.filter((u) => u.token);
  const out: TokenFacts[] = [];
  for (let i = 0; i < withToken.length; i += 5_000) {
    const batch = withToken.slice(i, i + 5_000);
    const p = redis.pipeline();
    for (const u of batch) p.hmget(`q:{${concertId}}:t:${u.token}`, "q", "a", "s", "r", "k");
    const rows = (await p.exec()) ?? [];
    rows.forEach(([, v], k) => {
      const [q, a, s, r, key] = (v as (string | null)[]) ?? [];
      out.push({ token: batch[k].token!, user: batch[k].i, q: Number(q ?? NaN), a: Number(a ?? 0), s: s ?? "", r: r ?? "", k: key ?? "" });
    });
  }
  return out;
}

export async function runChecks(input: {
  dbUrl: string;
  dateId: string;
  maxActive: number;
  plan: PlannedUser[];
  users: UserResult[];
  tokens: TokenFacts[];
  queue: QueueSamples;
  holds: HoldSamples;
  soldOut: boolean;
  /** Wall-clock ms when the crowd's flows were stopped (all done, or the deadline). */
  crowdStoppedAt: number;
}): Promise<Check[]> {
  const checks: Check[] = [];
  const byToken = new Map(input.tokens.map((t) => [t.token, t]));
  const add = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  const db = new Client({ connectionString: input.dbUrl });
  await db.connect();
  const one = async <T = number>(sql: string, params: unknown[] = []): Promise<T> => Object.values((await db.query(sql, params)).rows[0])[0] as T;
  try {
    // --- Seats: each sold at most once, and the three counts agree.
    const doubleSold = await one(
      `SELECT count(*)::int FROM (SELECT rs.seat_id FROM reservation_seats rs JOIN reservations r ON r.id = rs.reservation_id
         WHERE r.status = 'CONFIRMED' GROUP BY rs.seat_id HAVING count(*) > 1) x`,
    );
    const sold = await one(`SELECT count(*)::int FROM seats WHERE status = 'SOLD'`);
    const confirmedSeats = await one(
      `SELECT count(*)::int FROM reservation_seats rs JOIN reservations r ON r.id = rs.reservation_id WHERE r.status = 'CONFIRMED'`,
    );
    const completedSeats = await one(
      `SELECT count(*)::int FROM reservation_seats rs JOIN payments p ON p.reservation_id = rs.reservation_id WHERE p.status = 'COMPLETED'`,
    );
    const soldElsewhere = await one(
      `SELECT count(*)::int FROM seats s WHERE s.status = 'SOLD' AND NOT EXISTS (
         SELECT 1 FROM reservation_seats rs JOIN reservations r ON r.id = rs.reservation_id
          WHERE rs.seat_id = s.id AND r.id = s.reservation_id AND r.status = 'CONFIRMED')`,
    );
    const unpaidConfirmed = await one(
      `SELECT count(*)::int FROM reservations r JOIN payments p ON p.reservation_id = r.id
        WHERE (r.status = 'CONFIRMED') <> (p.status = 'COMPLETED')`,
    );
    const clientSeats = input.users.filter((u) => u.outcome === "paid").reduce((n, u) => n + u.seatsHeld, 0);
    add("every seat sold at most once", doubleSold === 0, `${doubleSold} seats in two CONFIRMED reservations`);
    add(
      "SOLD seats = CONFIRMED reservations' seats = COMPLETED payments' seats",
      sold === confirmedSeats && sold === completedSeats && soldElsewhere === 0 && unpaidConfirmed === 0 && clientSeats === sold,
      `${sold} SOLD = ${confirmedSeats} CONFIRMED = ${completedSeats} COMPLETED; ${soldElsewhere} SOLD seats not in their CONFIRMED reservation; ` +
        `${unpaidConfirmed} reservations whose status and payment disagree; the crowd was told of ${clientSeats} seats paid`,
    );

    // --- Money: charges − payments = balances, and every balance is its ledger.
    const money = (
      await db.query<{ charges: string; payments: string; balances: string; ledgerMismatch: number; paymentsNoLedger: number; chargedTwice: number }>(
        `SELECT (SELECT coalesce(sum(amount), 0) FROM ledger_entries WHERE kind = 'CHARGE') AS charges,
                (SELECT coalesce(-sum(amount), 0) FROM ledger_entries WHERE kind = 'PAYMENT') AS payments,
                (SELECT coalesce(sum(balance), 0) FROM users) AS balances,
                (SELECT count(*)::int FROM users u LEFT JOIN (SELECT user_id, sum(amount) AS s FROM ledger_entries GROUP BY user_id) l
                    ON l.user_id = u.id WHERE u.balance <> coalesce(l.s, 0)) AS "ledgerMismatch",
                (SELECT count(*)::int FROM payments p WHERE p.status = 'COMPLETED' AND NOT EXISTS
                    (SELECT 1 FROM ledger_entries e WHERE e.payment_id = p.id AND e.amount = -p.amount)) AS "paymentsNoLedger",
                (SELECT count(*)::int FROM (SELECT user_id FROM ledger_entries WHERE kind = 'CHARGE' GROUP BY user_id HAVING count(*) > 1) x) AS "chargedTwice"`,
      )
    ).rows[0];
    const [charges, payments, balances] = [Number(money.charges), Number(money.payments), Number(money.balances)];
    add(
      "the money adds up (charges − payments = balances; each balance = its ledger)",
      charges - payments === balances && money.ledgerMismatch === 0 && money.paymentsNoLedger === 0,
      `${fmt(charges)} charged − ${fmt(payments)} paid = ${fmt(charges - payments)}; balances ${fmt(balances)}; ` +
        `${money.ledgerMismatch} users whose balance ≠ ledger; ${money.paymentsNoLedger} COMPLETED payments without their ledger entry`,
    );
    const doublePayers = input.users.filter((u) => u.doublePay !== undefined);
    const sameAnswer = doublePayers.filter((u) => u.doublePay === "same").length;
    add(
      "a key used twice moves money once (pay twice with one key: the same payment)",
      sameAnswer === doublePayers.length && money.chargedTwice === 0,
      `${sameAnswer} of ${doublePayers.length} double payers got the same COMPLETED payment twice; ${money.chargedTwice} users charged more than once`,
    );

    // --- Holds: none past its time, during the run (1 s samples) or after it.
    const end = (await db.query<{ held: number; staleReservations: number; staleSeats: number }>(STALE_HOLDS_SQL)).rows[0];
    const maxStaleR = Math.max(0, ...input.holds.staleReservations);
    const maxStaleS = Math.max(0, ...input.holds.staleSeats);
    const letRunOut = input.users.filter((u) => u.outcome === "letRunOut" && u.reservationId).map((u) => u.reservationId!);
    const notExpired = letRunOut.length
      ? await one(
          `SELECT count(*)::int FROM reservations r JOIN payments p ON p.reservation_id = r.id
                    WHERE r.id = ANY($1::uuid[]) AND (r.status <> 'EXPIRED' OR p.status <> 'EXPIRED')`,
          [letRunOut],
        )
      : 0;
    const runOutTokens = input.users.filter((u) => u.outcome === "letRunOut").map((u) => byToken.get(u.token!));
    const notHoldTimeout = runOutTokens.filter((t) => t?.r !== "HOLD_TIMEOUT").length;
    add(
      "no hold left past its time",
      maxStaleR === 0 && maxStaleS === 0 && end.staleReservations === 0 && end.staleSeats === 0 && notExpired === 0 && notHoldTimeout === 0,
      `HELD > 2 s past held_until: at most ${maxStaleR} reservations and ${maxStaleS} seats in ${input.holds.t.length} samples, ` +
        `${end.staleReservations} and ${end.staleSeats} at the end (${end.held} HELD); ` +
        `${letRunOut.length - notExpired} of ${letRunOut.length} holds left to run out ended EXPIRED with their payment, ${runOutTokens.length - notHoldTimeout} tokens HOLD_TIMEOUT`,
    );
  } finally {
    await db.end();
  }

  // --- ACTIVE never above maxActiveUsers.
  const maxActive = Math.max(0, ...input.queue.active);
  add(
    "ACTIVE never above maxActiveUsers",
    maxActive <= input.maxActive && input.queue.t.length > 0,
    `at most ${maxActive} ACTIVE (limit ${input.maxActive}) in ${input.queue.t.length} queueStats samples (${input.queue.failed} failed)`,
  );

  // --- Admitted in the order they entered.
  // The line's order: a drawn pre-queue (tokens with a draw key, --opening-seconds) first by its key, then entry order.
  const lineOrder = (x: TokenFacts, y: TokenFacts) => (x.k && y.k ? (x.k < y.k ? -1 : x.k > y.k ? 1 : 0) : x.k ? -1 : y.k ? 1 : x.q - y.q);
  const admitted = input.tokens.filter((t) => t.a > 0).sort(lineOrder);
  let outOfOrder = 0;
  let latest = 0;
  for (const t of admitted) {
    if (t.a < latest) outOfOrder++;
    latest = Math.max(latest, t.a);
  }
  // A token that left while WAITING must not have been passed over: no later
  // entrant admitted before the leave was even sent.
  const firstAdmittedAfter = new Float64Array(admitted.length + 1).fill(Infinity);
  for (let k = admitted.length - 1; k >= 0; k--) firstAdmittedAfter[k] = Math.min(firstAdmittedAfter[k + 1], admitted[k].a);
  const userById = new Map(input.users.map((u) => [u.i, u]));
  let skipped = 0;
  let leftWaiting = 0;
  for (const t of input.tokens) {
    const u = userById.get(t.user);
    if (t.a > 0 || !u || u.leftAt === undefined) continue;
    leftWaiting++;
    // index of the first admitted token after t in the line
    let lo = 0;
    let hi = admitted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (lineOrder(admitted[mid], t) > 0) hi = mid;
      else lo = mid + 1;
    }
    if (firstAdmittedAfter[lo] < u.leftAt - 2) skipped++;
  }
  const missingSeq = input.tokens.filter((t) => !Number.isFinite(t.q)).length;
  add(
    "users admitted in the order they entered",
    outOfOrder === 0 && skipped === 0 && missingSeq === 0,
    `${admitted.length} admissions in entry order with ${outOfOrder} out of order; ${skipped} of ${leftWaiting} users who left while WAITING passed over; ` +
      `${missingSeq} tokens without an entry sequence`,
  );

  // --- Every waiting subscriber heard its admission (unless it left or the
  // concert sold out first). An admission in the last seconds before the crowd
  // was stopped may not have been pushed yet: those are counted, not failed.
  // A WAITING token dropped (ABANDONED) while its subscription was open breaks
  // rule 5 (an open subscription keeps the token seen).
  const subscribers = input.users.filter((u) => u.sub);
  let pushed = 0;
  let exemptLeft = 0;
  let exemptSoldOut = 0;
  let tooLate = 0;
  let stillWaiting = 0;
  const missed: string[] = [];
  const abandoned: string[] = [];
  let droppedBeforeOpen = 0;
  let admittedBeforeOpen = 0;
  for (const u of subscribers) {
    const t = byToken.get(u.token!);
    const admittedAt = t?.a ?? 0;
    const sub = u.sub!;
    if (sub.endReason === "ABANDONED" || t?.r === "ABANDONED") {
      // Only a token dropped after its subscription was open (a first ticket not already EXPIRED) breaks rule 5;
      // one dropped before the client could get a socket through was simply never seen for the idle time.
      if (sub.firstStatus !== undefined && sub.firstStatus !== "EXPIRED") {
        abandoned.push(`user ${u.i} (${sub.reconnects} reconnects, first ticket ${sub.firstAt! - sub.openedAt} ms after subscribing)`);
      } else droppedBeforeOpen++;
    }
    if (sub.activeAt !== undefined) pushed++;
    else if (u.leftAt !== undefined) exemptLeft++;
    else if (admittedAt === 0 && (sub.endReason === "SOLD_OUT" || t?.r === "SOLD_OUT")) exemptSoldOut++;
    else if (admittedAt > 0 && admittedAt > input.crowdStoppedAt - 10_000) tooLate++;
    else if (admittedAt === 0 && sub.endReason === undefined) stillWaiting++;
    // Admitted before its socket got through: its first ticket, when it came, could only tell the state then.
    else if (admittedAt > 0 && (sub.firstAt === undefined || sub.firstAt > admittedAt || sub.firstStatus !== "WAITING")) admittedBeforeOpen++;
    else if (sub.endReason !== "ABANDONED")
      missed.push(`user ${u.i}: ${admittedAt > 0 ? "admitted" : "never admitted"}, ${sub.error ?? sub.endReason ?? u.outcome}`);
  }
  add(
    "every waiting subscriber received its admission",
    missed.length === 0 && abandoned.length === 0,
    `${n(subscribers.length)} subscribers: ${n(pushed)} ACTIVE pushes, ${n(exemptLeft)} left first, ${n(exemptSoldOut)} sold out first, ` +
      `${n(missed.length)} admitted without a push${missed.length ? ` (${missed.slice(0, 3).join("; ")})` : ""}, ` +
      `${n(abandoned.length)} dropped as ABANDONED while subscribed${abandoned.length ? ` (${abandoned.slice(0, 2).join("; ")})` : ""}; ` +
      `not counted: ${n(droppedBeforeOpen)} dropped (ABANDONED) and ${n(admittedBeforeOpen)} admitted before their subscription could open, ` +
      `${n(tooLate)} admitted in the last 10 s before the crowd was stopped, ${n(stillWaiting)} still WAITING then`,
  );

  // --- Every user reached an ending the contract allows.
  const bad = input.users.filter((u) => u.outcome === "error" || u.outcome === "timeout");
  const notPlayed = input.plan.length - input.users.length;
  const timeouts = bad.filter((u) => u.outcome === "timeout").length;
  add(
    "every user reached an expected ending (not an invariant: fails on service errors, e.g. a socket that could not connect in time)",
    bad.length === 0 && notPlayed === 0,
    `${n(input.users.length - bad.length)} of ${n(input.plan.length)} users; ${n(bad.length - timeouts)} errors, ${n(timeouts)} still going when the crowd was stopped` +
      (bad.length ? ` (first error: ${(bad.find((u) => u.outcome === "error") ?? bad[0]).note})` : ""),
  );
  return checks;
}

const fmt = (x: number) => x.toLocaleString("en");
const n = fmt;
