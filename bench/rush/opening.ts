// The rush's scheduled opening (`--opening-seconds=N`, off by default; issue 12,
// rules 16 and 17): the concert's saleOpensAt lies N s after the crowd starts
// and the whole crowd arrives before it, each user entering the pre-queue
// (WAITING, place 0, saleOpensInSeconds) and watching queueStatusChanged.
// Figures: the draw's own step on the server (its "opening draw done" log
// line), the time from saleOpensAt until `concert { openingDrawSeed }` shows
// the seed, and the time from saleOpensAt until each pre-queue subscriber was
// pushed its place. Checks: nobody ACTIVE before the opening, the commitment is
// the seed's SHA-256, and the order recomputed from the published seed and the
// users' IDs (HMAC-SHA256, lowest hex first, as the README shows anyone how to)
// is the one the line used and the places pushed.
import { createHash, createHmac } from "node:crypto";
import { graphql } from "../lib/load";
import { sleep } from "../lib/server";
import type { Check, TokenFacts } from "./checks";
import type { PlannedUser } from "./plan";
import { quantiles, type Quantiles } from "./quantiles";
import type { QueueSamples } from "./samplers";
import { serverLogLines } from "./summaries";
import type { UserResult } from "./user-flow";

export interface OpeningResult {
  opensAt: string;
  openingSeconds: number;
  /** Users whose enterQueue answered before the opening, and of them those in the pre-queue (WAITING, place 0, saleOpensInSeconds). */
  enteredBefore: number;
  preQueue: number;
  /** Users who entered after the opening (the crowd arrived late: the machine could not keep up). */
  enteredAfter: number;
  /** Pre-queue users whose subscription had its first ticket before the opening. */
  subscribers: number;
  /** The draw step on the instance that did it ("opening draw done"), ms; the tokens it ordered. */
  drawMs: number | null;
  drawOrdered: number | null;
  /** saleOpensAt → `concert { openingDrawSeed }` non-null (the answer that first showed it), polled every 50 ms, ms; and the sending of the last poll that still showed none (the seed appeared in between; a poll's own latency under load widens the span). */
  seedSeenMs: number | null;
  seedNotYetMs: number | null;
  /** saleOpensAt → each pre-queue subscriber's first message with its place (or ACTIVE), ms; `never`: subscribers that got none. */
  placePush: Quantiles & { never: number };
  /** Of the first places told: WAITING with a place, ACTIVE at once. */
  placedWaiting: number;
  placedActive: number;
}

/** Sets the concert's opening (updateConcert); the commitment published with it. */
export async function scheduleOpening(url: string, adminJwt: string, concertId: string, opensAt: number): Promise<string> {
  const r = await graphql<{ updateConcert: { openingDrawCommitment: string | null; saleOpensAt: string } }>(
    url,
    "mutation($id: ID!, $i: UpdateConcertInput!) { updateConcert(id: $id, input: $i) { saleOpensAt openingDrawCommitment } }",
    { id: concertId, i: { saleOpensAt: new Date(opensAt).toISOString() } },
    adminJwt,
  );
  if (!r.updateConcert.openingDrawCommitment) throw new Error("updateConcert set saleOpensAt but published no commitment");
  return r.updateConcert.openingDrawCommitment;
}

/** Polls `concert { openingDrawSeed }` from just before the opening until the seed shows (or `untilMs` passes). */
export class SeedWatcher {
  /** The poll that first showed the seed: answered at seenAt; the last poll that did not was sent at lastNullSentAt (the seed appeared in between). */
  seenAt: number | null = null;
  lastNullSentAt: number | null = null;
  seed: string | null = null;
  commitment: string | null = null;
  private stopped = false;
  private done: Promise<void> | undefined;

  constructor(
    private readonly url: string,
    private readonly adminJwt: string,
    private readonly concertId: string,
    private readonly opensAt: number,
  ) {}

  start(untilMs: number): void {
    this.done = (async () => {
      await sleep(Math.max(0, this.opensAt - 300 - Date.now()));
      while (!this.stopped && Date.now() < untilMs) {
        const sent = Date.now();
        try {
          const r = await graphql<{ concert: { openingDrawSeed: string | null; openingDrawCommitment: string | null } }>(
            this.url,
            "query($id: ID!) { concert(id: $id) { openingDrawSeed openingDrawCommitment } }",
            { id: this.concertId },
            this.adminJwt,
          );
          if (r.concert.openingDrawSeed) {
            this.seenAt = Date.now();
            this.seed = r.concert.openingDrawSeed;
            this.commitment = r.concert.openingDrawCommitment;
            return;
          }
          this.lastNullSentAt = sent;
        } catch {
          // a slow or failed read: try again
        }
        await sleep(50);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

/** The "opening draw done" line of the servers' logs (exactly one instance draws). */
export function drawFromLogs(dir: string, n: number): { ms: number; ordered: number; lines: number } | null {
  let found: { ms: number; ordered: number } | null = null;
  let lines = 0;
  for (const line of serverLogLines(dir, n)) {
    if (!line.includes("opening draw done")) continue;
    try {
      const j = JSON.parse(line) as { ms?: number; ordered?: number };
      lines++;
      found = { ms: Number(j.ms), ordered: Number(j.ordered) };
    } catch {
      // not JSON
    }
  }
  return found ? { ...found, lines } : null;
}

const keyOf = (seed: Buffer, userId: string) => createHmac("sha256", seed).update(userId, "utf8").digest("hex");

export function openingFigures(input: {
  opensAt: number;
  t0: number;
  openingSeconds: number;
  plan: PlannedUser[];
  users: UserResult[];
  tokens: TokenFacts[];
  queue: QueueSamples;
  commitment: string;
  seed: SeedWatcher;
  draw: ReturnType<typeof drawFromLogs>;
}): { result: OpeningResult; checks: Check[] } {
  const { opensAt, users } = input;
  const checks: Check[] = [];
  const add = (name: string, ok: boolean, detail: string) => checks.push({ name: `opening: ${name}`, ok, detail });
  const byToken = new Map(input.tokens.map((t) => [t.token, t]));
  const userIdOf = new Map(input.plan.map((u) => [u.i, u.userId]));

  // Who was in the pre-queue.
  const before = users.filter((u) => u.enteredAt !== undefined && u.enteredAt < opensAt);
  const after = users.filter((u) => u.enteredAt !== undefined && u.enteredAt >= opensAt);
  const pre = before.filter(
    (u) => u.entered === "WAITING" && u.enteredPosition === 0 && typeof u.saleOpensInSeconds === "number" && u.saleOpensInSeconds > 0,
  );
  const oddEntries = before.filter((u) => !pre.includes(u));
  add(
    "every entry before the opening is a pre-queue ticket (WAITING, place 0, saleOpensInSeconds)",
    oddEntries.length === 0 && pre.length > 0,
    `${pre.length} of ${before.length} entries answered before the opening` +
      (oddEntries.length
        ? `; others: ${oddEntries
            .slice(0, 3)
            .map((u) => `user ${u.i} ${u.entered} place ${u.enteredPosition} opensIn ${u.saleOpensInSeconds}`)
            .join("; ")}`
        : "") +
      `; ${after.length} users entered after it (arrived late), ${users.length - before.length - after.length} never entered`,
  );

  // Nobody ACTIVE before the opening: not by enterQueue, not by a push, not in Redis, not in queueStats.
  const activeAnswers = before.filter((u) => u.entered === "ACTIVE").length;
  const activePushes = users.filter((u) => u.sub?.activeAt !== undefined && u.sub.activeAt < opensAt).length;
  const admittedEarly = input.tokens.filter((t) => t.a > 0 && t.a < opensAt).length;
  const openingMs = opensAt - input.t0;
  const statsEarly = input.queue.t.filter((t, k) => t < openingMs - 500 && input.queue.active[k] > 0).length;
  const statsBefore = input.queue.t.filter((t) => t < openingMs - 500).length;
  add(
    "nobody ACTIVE before the opening",
    activeAnswers + activePushes + admittedEarly + statsEarly === 0,
    `${activeAnswers} enterQueue answers ACTIVE, ${activePushes} ACTIVE pushes and ${admittedEarly} tokens admitted (Redis) before saleOpensAt; ` +
      `${statsEarly} of ${statsBefore} queueStats samples before it with ACTIVE > 0`,
  );

  // The seed and its commitment.
  const seedHex = input.seed.seed;
  const seed = seedHex ? Buffer.from(seedHex, "hex") : null;
  const commitmentOk =
    seed !== null && createHash("sha256").update(seed).digest("hex") === input.commitment && input.seed.commitment === input.commitment;
  add(
    "the published seed matches the commitment published with saleOpensAt",
    commitmentOk,
    seed
      ? `sha256(seed) ${commitmentOk ? "=" : "≠"} the commitment ${input.commitment.slice(0, 12)}…`
      : "the seed never appeared on concert { openingDrawSeed }",
  );

  // The order recomputed from the seed and the users' IDs.
  // The pre-queue as the line holds it: every token with a draw key (an answer may arrive after the opening for an entry taken before it).
  const preTokens = users
    .filter((u) => u.token && (byToken.get(u.token)?.k ?? "") !== "")
    .map((u) => ({ u, t: byToken.get(u.token!), key: seed ? keyOf(seed, userIdOf.get(u.i)!) : "" }));
  preTokens.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const rank = new Map(preTokens.map((x, k) => [x.u.i, k + 1]));
  const keyMismatch = preTokens.filter((x) => x.t?.k !== x.key).length;
  // Admissions follow the draw order: along the recomputed ranks, admission times never go back, and the admitted are its head.
  let outOfOrder = 0;
  let latest = 0;
  let gap = false;
  let notHead = 0;
  for (const x of preTokens) {
    const a = x.t?.a ?? 0;
    if (a === 0) {
      if (x.u.leftAt === undefined) gap = true;
      continue;
    }
    if (gap) notHead++;
    if (a < latest) outOfOrder++;
    latest = Math.max(latest, a);
  }
  // The first place pushed: WAITING at place p means the p − 1 still ahead in the pre-queue, so
  // rank − p of those ranked ahead had left the pre-queue (admitted, or left the line) when it was read: none may be
  // missing (p > rank) and no more than had gone by the time it arrived.
  const goneAt = preTokens.map((x) => Math.min(x.t?.a || Infinity, x.u.leftAt ?? Infinity)).sort((a, b) => a - b);
  const goneBy = (ms: number) => {
    let lo = 0;
    let hi = goneAt.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (goneAt[mid] <= ms) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const wrongPlaces: string[] = [];
  let placedWaiting = 0;
  let placedActive = 0;
  for (const x of preTokens) {
    const s = x.u.sub;
    if (s?.placeAt === undefined) continue;
    const r = rank.get(x.u.i)!;
    if (s.placeStatus === "WAITING") {
      placedWaiting++;
      const gone = r - s.place!;
      if (gone < 0 || gone > goneBy(s.placeAt)) wrongPlaces.push(`user ${x.u.i}: drawn ${r}, told ${s.place} with ${goneBy(s.placeAt)} gone`);
    } else if (s.placeStatus === "ACTIVE") {
      placedActive++;
      if ((x.t?.a ?? 0) === 0) wrongPlaces.push(`user ${x.u.i}: told ACTIVE, never admitted`);
    }
  }
  add(
    "the line's order and the places pushed are the order recomputed from the published seed and the users' IDs",
    seed !== null && keyMismatch === 0 && outOfOrder === 0 && notHead === 0 && wrongPlaces.length === 0 && placedWaiting + placedActive > 0,
    `${preTokens.length} pre-queue tokens: ${keyMismatch} whose draw key in Redis ≠ HMAC-SHA256(seed, userId); ` +
      `${preTokens.filter((x) => (x.t?.a ?? 0) > 0).length} admitted, ${outOfOrder} out of draw order, ${notHead} after a skipped one; ` +
      `first places: ${placedWaiting} WAITING, ${placedActive} ACTIVE, ${wrongPlaces.length} not the drawn place${wrongPlaces.length ? ` (${wrongPlaces.slice(0, 3).join("; ")})` : ""}`,
  );

  const subscribers = pre.filter((u) => u.sub?.firstAt !== undefined && u.sub.firstAt < opensAt);
  const placed = subscribers.filter((u) => u.sub!.placeAt !== undefined).map((u) => u.sub!.placeAt! - opensAt);
  const never = subscribers.length - placed.length;
  add(
    "every pre-queue subscriber was pushed its place",
    never === 0 && subscribers.length > 0,
    `${subscribers.length} of ${pre.length} pre-queue users subscribed before the opening; ${never} never told a place (or ACTIVE)`,
  );
  const result: OpeningResult = {
    opensAt: new Date(opensAt).toISOString(),
    openingSeconds: input.openingSeconds,
    enteredBefore: before.length,
    preQueue: pre.length,
    enteredAfter: after.length,
    subscribers: subscribers.length,
    drawMs: input.draw?.ms ?? null,
    drawOrdered: input.draw?.ordered ?? null,
    seedSeenMs: input.seed.seenAt === null ? null : input.seed.seenAt - opensAt,
    seedNotYetMs: input.seed.lastNullSentAt === null ? null : input.seed.lastNullSentAt - opensAt,
    placePush: { ...quantiles(placed), never },
    placedWaiting,
    placedActive,
  };
  return { result, checks };
}
