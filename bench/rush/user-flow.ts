// One fan's on-sale, start to end: (sign in,) enter the queue, watch the ticket
// over graphql-ws while WAITING (or give up), then once ACTIVE read the seat
// map, hold 1–4 seats (retrying a SEAT_UNAVAILABLE with other seats), charge
// the balance and pay — or let the hold run out, or pay twice with one key.
import WebSocket from "ws";
import { createClient, type Client } from "graphql-ws";
import type { HttpGraphql } from "./http-client";
import { random, type PlannedUser } from "./plan";

/** Each operation named as the crowd records it, so that the servers' /metrics time it under that name too. */
export const Q = {
  signIn: "mutation signIn($e: String!, $p: String!) { signIn(email: $e, password: $p) { accessToken } }",
  enter: "mutation enterQueue($c: ID!) { enterQueue(concertId: $c) { token status queuePosition saleOpensInSeconds } }",
  watch: "subscription queueStatusChanged($t: String!) { queueStatusChanged(token: $t) { status queuePosition expiredReason } }",
  leave: "mutation leaveQueue($t: String!) { leaveQueue(token: $t) { status expiredReason } }",
  seats: "query seats($d: ID!) { seats(concertDateId: $d) { number status } }",
  /** The compact map (--seat-map=compact), timed under the same name as the list. */
  seatAvailability: "query seats($d: ID!) { seatAvailability(concertDateId: $d) { seatCount statuses } }",
  hold: "mutation reserveSeats($d: ID!, $s: [Int!]!) { reserveSeats(concertDateId: $d, seatNumbers: $s) { id totalPrice heldUntil } }",
  charge: "mutation chargeBalance($a: Int!, $k: String) { chargeBalance(amount: $a, idempotencyKey: $k) }",
  pay: "mutation pay($r: ID!, $k: String) { pay(reservationId: $r, idempotencyKey: $k) { id status amount } }",
};

export type Outcome =
  | "paid"
  | "letRunOut"
  | "leftWaiting"
  | "noSeat"
  | "soldOutAtEntry"
  | "soldOutWaiting"
  | "soldOutActive"
  | "holdRanOutBeforePay"
  | "error"
  | "timeout";

export interface SubRecord {
  /** Wall-clock ms: subscribe called, first ticket, ACTIVE pushed, EXPIRED pushed. */
  openedAt: number;
  firstAt?: number;
  firstStatus?: string;
  activeAt?: number;
  endAt?: number;
  endReason?: string;
  messages: number;
  /** Sockets opened again after a close or a failure, and the close codes seen before the end. */
  reconnects: number;
  closeCodes: number[];
  error?: string;
  /** With a scheduled opening: the first message that told a place (WAITING with a place > 0, or ACTIVE, or EXPIRED), wall-clock ms, and that place (0 when not WAITING). */
  placeAt?: number;
  place?: number;
  placeStatus?: string;
}

export interface UserResult {
  i: number;
  instance: number;
  token?: string;
  /** WAITING, ACTIVE, or the error code of enterQueue (or of signIn). */
  entered: string;
  /** What enterQueue answered besides the status: the place, and saleOpensInSeconds (null once open). */
  enteredPosition?: number;
  saleOpensInSeconds?: number | null;
  sub?: SubRecord;
  /** Wall-clock ms enterQueue answered. */
  enteredAt?: number;
  /** Wall-clock ms the leaveQueue was sent, and the reason it answered. */
  leftAt?: number;
  leftReason?: string;
  outcome: Outcome;
  holdAttempts: number;
  seatsHeld: number;
  reservationId?: string;
  paymentId?: string;
  paidAt?: number;
  /** doublePay users: whether both answers named the same COMPLETED payment. */
  doublePay?: string;
  note?: string;
}

export interface FlowEnv {
  http: HttpGraphql;
  wsUrls: string[];
  concertId: string;
  dateId: string;
  popularSeats: number;
  /** How the seat map is read (options.ts). */
  seatMap: "list" | "compact";
  password: string;
  seed: number;
  /** Wall-clock ms after which the user stops where it is. */
  deadline: number;
  /** Open subscriptions right now (for progress). */
  live: { subscriptions: number };
  /** Counts the queueStatusChanged messages received, per second after the opening. */
  pushes: { count(wallMs: number): void };
  /** Wall-clock ms of a scheduled opening (the crowd waits in the pre-queue until then); undefined: none. */
  opensAt?: number;
}

const MAX_HOLD_ATTEMPTS = 4;
const WS_RETRIES = 5;
/** With no free seat on the map, look again after these pauses (seats held by others may come back), then leave. */
const MAP_REREAD_PAUSES_MS = [2_000, 4_000];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

class Stop extends Error {
  constructor(
    readonly outcome: Outcome,
    note?: string,
  ) {
    super(note ?? outcome);
  }
}

export async function playUser(u: PlannedUser, env: FlowEnv): Promise<UserResult> {
  const r: UserResult = { i: u.i, instance: u.instance, entered: "", outcome: "error", holdAttempts: 0, seatsHeld: 0 };
  try {
    await play(u, env, r);
  } catch (error) {
    if (error instanceof Stop) {
      r.outcome = error.outcome;
      if (error.outcome === "error" || error.outcome === "timeout") r.note ??= error.message;
    } else {
      r.outcome = "error";
      r.note ??= error instanceof Error ? error.message : String(error);
    }
  }
  return r;
}

async function play(u: PlannedUser, env: FlowEnv, r: UserResult): Promise<void> {
  const { http } = env;
  let jwt = u.jwt;
  if (!jwt) {
    const a = await http.call<{ signIn: { accessToken: string } }>(u.instance, "signIn", Q.signIn, { e: u.email, p: env.password }, {});
    if (!a.data) {
      r.entered = `signIn:${a.code}`;
      throw new Stop("error", `signIn: ${a.code} ${a.message}`);
    }
    jwt = a.data.signIn.accessToken;
  }
  const auth = { authorization: `Bearer ${jwt}` };
  const entered = await http.call<{ enterQueue: { token: string; status: string; queuePosition: number; saleOpensInSeconds: number | null } }>(
    u.instance,
    "enterQueue",
    Q.enter,
    { c: env.concertId },
    auth,
  );
  if (!entered.data) {
    r.entered = entered.code ?? "?";
    throw new Stop(entered.code === "SOLD_OUT" ? "soldOutAtEntry" : "error", `enterQueue: ${entered.code} ${entered.message}`);
  }
  const { token, status } = entered.data.enterQueue;
  r.enteredAt = Date.now();
  r.token = token;
  r.entered = status;
  r.enteredPosition = entered.data.enterQueue.queuePosition;
  r.saleOpensInSeconds = entered.data.enterQueue.saleOpensInSeconds;
  const withToken = { ...auth, "x-queue-token": token };

  if (status === "WAITING") {
    const admitted = await waitForAdmission(u, env, r, jwt, token);
    if (!admitted) return; // r.outcome set
  } else if (status !== "ACTIVE") {
    throw new Stop("error", `enterQueue answered ${status}`);
  }

  // ACTIVE: the seat map, then a hold.
  const rnd = random(env.seed * 7919 + u.i);
  const excluded = new Set<number>();
  let free = await readFreeSeats(u, env, withToken);
  let rereads = 0;
  let held: { id: string; totalPrice: number } | undefined;
  if (u.thinkBeforeHoldMs > 0) await sleep(u.thinkBeforeHoldMs);
  while (!held && r.holdAttempts < MAX_HOLD_ATTEMPTS) {
    checkDeadline(env);
    const wanted = pickSeats(free, excluded, u.seatsWanted, u.popular, env.popularSeats, rnd);
    if (wanted.length === 0) {
      if (rereads >= MAP_REREAD_PAUSES_MS.length) break;
      await sleep(MAP_REREAD_PAUSES_MS[rereads++]);
      free = await readFreeSeats(u, env, withToken);
      excluded.clear();
      continue;
    }
    r.holdAttempts++;
    const a = await http.call<{ reserveSeats: { id: string; totalPrice: number } }>(
      u.instance,
      "reserveSeats",
      Q.hold,
      { d: env.dateId, s: wanted },
      withToken,
    );
    if (a.data) {
      held = a.data.reserveSeats;
      r.seatsHeld = wanted.length;
      r.reservationId = held.id;
    } else if (a.code === "SEAT_UNAVAILABLE") {
      const taken = (a.extensions?.seatNumbers as number[] | undefined) ?? wanted;
      for (const n of taken) excluded.add(n);
    } else {
      throw endedOr(a.code, `reserveSeats: ${a.code} ${a.message}`);
    }
  }
  if (!held) {
    await leave(u, env, r, auth, token);
    r.outcome = "noSeat";
    return;
  }
  if (u.ending === "letRunOut") {
    r.outcome = "letRunOut";
    return;
  }

  if (u.thinkBeforePayMs > 0) await sleep(u.thinkBeforePayMs);
  const charged = await http.call<{ chargeBalance: number }>(u.instance, "chargeBalance", Q.charge, { a: held.totalPrice, k: `charge-${u.i}` }, auth);
  if (charged.data === undefined) throw new Stop("error", `chargeBalance: ${charged.code} ${charged.message}`);
  const payVars = { r: held.id, k: `pay-${u.i}` };
  type Paid = { pay: { id: string; status: string; amount: number } };
  const pays = await Promise.all(
    Array.from({ length: u.ending === "doublePay" ? 2 : 1 }, () => http.call<Paid>(u.instance, "pay", Q.pay, payVars, withToken)),
  );
  const first = pays[0];
  // Too slow to pay (charge and pay queued for longer than the hold): the contract's HOLD_EXPIRED, nothing charged twice.
  if (!first.data && first.code === "HOLD_EXPIRED") throw new Stop("holdRanOutBeforePay");
  if (!first.data) throw endedOr(first.code, `pay: ${first.code} ${first.message}`);
  if (first.data.pay.status !== "COMPLETED") throw new Stop("error", `pay answered ${first.data.pay.status}`);
  r.paymentId = first.data.pay.id;
  r.paidAt = Date.now();
  r.outcome = "paid";
  if (pays.length === 2) {
    const second = pays[1];
    r.doublePay = !second.data
      ? `error:${second.code}`
      : second.data.pay.id === first.data.pay.id && second.data.pay.status === "COMPLETED"
        ? "same"
        : "different";
  }
}

/** Watches the ticket until ACTIVE (true) or until it ends or the user gives up (false, outcome set). */
async function waitForAdmission(u: PlannedUser, env: FlowEnv, r: UserResult, jwt: string, token: string): Promise<boolean> {
  const sub: SubRecord = { openedAt: Date.now(), messages: 0, reconnects: 0, closeCodes: [] };
  r.sub = sub;
  const client: Client = createClient({
    url: env.wsUrls[u.instance],
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${jwt}` },
    // Like a browser client: a dropped or refused socket is retried (1, 2, 4 s
    // and a jitter), and the subscription sent again on the new one.
    retryAttempts: WS_RETRIES,
    shouldRetry: () => true,
    lazy: true,
    connectionAckWaitTimeout: 30_000,
    on: {
      connected: (_socket, _payload, wasRetry) => {
        if (wasRetry) sub.reconnects++;
        if (!connectedOnce) {
          connectedOnce = true;
          // The socket's handshake and connection_ack, timed from the subscribe call (retries included).
          env.http.record("wsConnect", sub.openedAt, Date.now() - sub.openedAt, undefined);
        }
      },
      closed: (event) => {
        const code = (event as { code?: number }).code;
        if (code !== 1000 && sub.activeAt === undefined && sub.endAt === undefined) sub.closeCodes.push(code ?? 0);
      },
    },
  });
  env.live.subscriptions++;
  let connectedOnce = false;
  let settle!: (how: "active" | "ended" | "failed") => void;
  const settled = new Promise<"active" | "ended" | "failed">((resolve) => (settle = resolve));
  client.subscribe<{ queueStatusChanged: { status: string; queuePosition: number; expiredReason: string | null } }>(
    { query: Q.watch, variables: { t: token } },
    {
      next(result) {
        const now = Date.now();
        sub.messages++;
        env.pushes.count(now);
        const t = result.data?.queueStatusChanged;
        if (!t) {
          sub.error ??= result.errors?.[0]?.message ?? "empty message";
          settle("failed");
          return;
        }
        if (sub.firstAt === undefined) {
          sub.firstAt = now;
          sub.firstStatus = t.status;
          env.http.record("queueStatusChanged", sub.openedAt, now - sub.openedAt, undefined);
        }
        if (env.opensAt !== undefined && sub.placeAt === undefined && (t.status !== "WAITING" || t.queuePosition > 0)) {
          sub.placeAt = now;
          sub.place = t.status === "WAITING" ? t.queuePosition : 0;
          sub.placeStatus = t.status;
        }
        if (t.status === "ACTIVE") {
          sub.activeAt ??= now;
          settle("active");
        } else if (t.status === "EXPIRED") {
          sub.endAt ??= now;
          sub.endReason ??= t.expiredReason ?? "?";
          settle("ended");
        }
      },
      error(error) {
        sub.error ??= describe(error);
        settle("failed");
      },
      complete() {
        settle("ended");
      },
    },
  );
  let gaveUp: NodeJS.Timeout | undefined;
  if (u.ending === "giveUp") {
    gaveUp = setTimeout(
      () => {
        if (sub.activeAt !== undefined || sub.endAt !== undefined) return;
        // The EXPIRED (LEFT) push ends the wait; if it never comes, stop waiting for it after 5 s.
        void leave(u, env, r, { authorization: `Bearer ${jwt}` }, token)
          .catch(() => undefined)
          .then(() => setTimeout(() => settle("ended"), 5_000));
      },
      u.giveUpAfterMs + Math.max(0, (env.opensAt ?? 0) - Date.now()),
    ); // in the pre-queue: counted from the opening
  }
  const deadline = setTimeout(() => settle("failed"), Math.max(0, env.deadline - Date.now()));
  let how = await settled;
  clearTimeout(deadline);
  clearTimeout(gaveUp);
  if (how === "active" && r.leftAt !== undefined) {
    // Admitted while the leave was on its way: the leave ends the session. Wait for its EXPIRED push (bounded).
    const ended = await new Promise<boolean>((resolve) => {
      const started = Date.now();
      const poll = setInterval(() => {
        if (sub.endAt !== undefined || r.leftReason !== undefined || Date.now() - started > 5_000) {
          clearInterval(poll);
          resolve(sub.endAt !== undefined || r.leftReason !== undefined);
        }
      }, 50);
    });
    if (ended) how = "ended";
  }
  env.live.subscriptions--;
  // dispose() rejects (with the socket's error) when the connection never opened.
  void Promise.resolve(client.dispose()).catch(() => undefined);
  if (how === "active") return true;
  if (r.leftAt !== undefined) {
    r.outcome = "leftWaiting";
    return false;
  }
  if (how === "ended" && sub.endReason === "SOLD_OUT") {
    r.outcome = "soldOutWaiting";
    return false;
  }
  if (Date.now() >= env.deadline) throw new Stop("timeout", "still waiting at the deadline");
  throw new Stop("error", `subscription ${how}: ${sub.error ?? sub.endReason ?? "no reason"}`);
}

async function leave(u: PlannedUser, env: FlowEnv, r: UserResult, auth: Record<string, string>, token: string): Promise<void> {
  r.leftAt = Date.now();
  const a = await env.http.call<{ leaveQueue: { status: string; expiredReason: string } }>(u.instance, "leaveQueue", Q.leave, { t: token }, auth);
  r.leftReason = a.data ? a.data.leaveQueue.expiredReason : `error:${a.code}`;
}

async function readFreeSeats(u: PlannedUser, env: FlowEnv, headers: Record<string, string>): Promise<number[]> {
  checkDeadline(env);
  const free: number[] = [];
  if (env.seatMap === "compact") {
    type Availability = { seatAvailability: { seatCount: number; statuses: string } };
    const a = await env.http.call<Availability>(u.instance, "seats", Q.seatAvailability, { d: env.dateId }, headers);
    if (!a.data) throw endedOr(a.code, `seatAvailability: ${a.code} ${a.message}`);
    // 2 bits a seat, least significant first; 0 is AVAILABLE (the schema's description of `statuses`).
    const bytes = Buffer.from(a.data.seatAvailability.statuses, "base64");
    for (let n = 1; n <= a.data.seatAvailability.seatCount; n++) if (((bytes[(n - 1) >> 2] >> (((n - 1) & 3) * 2)) & 3) === 0) free.push(n);
    return free;
  }
  const a = await env.http.call<{ seats: { number: number; status: string }[] }>(u.instance, "seats", Q.seats, { d: env.dateId }, headers);
  if (!a.data) throw endedOr(a.code, `seats: ${a.code} ${a.message}`);
  for (const s of a.data.seats) if (s.status === "AVAILABLE") free.push(s.number);
  return free.sort((x, y) => x - y);
}

/**
 * A block of up to `want` free seats (consecutive in the list of free ones, as
 * the map showed them). Fans of the popular section pick inside it while their
 * map shows free seats there, anywhere after that; the others anywhere. As the
 * section fills, maps a moment old send many to the same last seats: the fight.
 */
export function pickSeats(free: number[], excluded: Set<number>, want: number, popular: boolean, popularSeats: number, rnd: () => number): number[] {
  const open = free.filter((n) => !excluded.has(n));
  if (open.length === 0) return [];
  let pool = open;
  if (popular) {
    const section = open.filter((n) => n <= popularSeats);
    pool = section.length > 0 ? section : open;
  }
  const k = Math.min(want, pool.length);
  const start = Math.min(Math.floor(rnd() * pool.length), pool.length - k);
  return pool.slice(start, start + k);
}

/** A token that ended under the user (sold out) stops it; anything else is an error. */
function endedOr(code: string | undefined, note: string): Stop {
  return new Stop(code === "QUEUE_TOKEN_EXPIRED" || code === "SOLD_OUT" ? "soldOutActive" : "error", note);
}

function checkDeadline(env: FlowEnv): void {
  if (Date.now() >= env.deadline) throw new Stop("timeout", "deadline passed");
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (Array.isArray(error)) return (error as { message?: string }[]).map((e) => e.message).join("; ");
  if (error && typeof error === "object") {
    const e = error as { code?: number; reason?: string; message?: string; error?: { message?: string } };
    if (typeof e.code === "number") return `socket closed ${e.code} ${e.reason ?? ""}`.trim();
    const m = e.message ?? e.error?.message;
    if (m) return `socket error: ${m}`;
  }
  return String(error);
}
