// The waiting room's rules: entering, leaving, where a token stands, the gate
// the seat and payment features pass through, and the token endings they cause.
import type { Pool } from "pg";
import type { Actor } from "../../auth/access-tokens";
import { AppError, forbidden, notFound } from "../../errors/app-error";
import type { RateLimiter } from "../../limits/rate-limiter";
import type { EventBus } from "../../pubsub/event-bus";
import type { Metrics } from "../../observability/metrics";
import { assertAdmin } from "../access";
import { isUuid } from "../ids";
import { DateDirectory } from "../date-directory";
import type { QueuePolicies } from "./queue-policy";
import type { QueuePolicyValues, QueueStore, TokenState } from "./queue-store";
import { toTicket } from "./queue-ticket";
import { concertOfToken, newQueueToken } from "./queue-token";
import { drawKey } from "../opening-draw";
import type { Logger } from "../../observability/logger";
import type { QueueGate, QueueTicketView } from "./queue.types";
import { afterCommit } from "../after-commit";

export const concertChannel = (concertId: string) => `queue.concert.${concertId}`;
/** `drawn`: the opening draw gave the pre-queue its places; every watcher reads its token again. */
export type ConcertQueueEvent = { kind: "changed"; states: TokenState[] } | { kind: "soldOut" } | { kind: "drawn" };
/** A concert's opening, limit or flags changed: every instance drops its cached facts of it. */
const CONCERT_CHANGED = "queue.concert-facts";

/** What the queue knows of a concert, cached for a second (enterQueue is the hottest call of an on-sale). */
interface ConcertInfo {
  exists: boolean;
  soldOut: boolean;
  /** The scheduled opening (epoch ms), null: none. */
  opensAt: number | null;
  commitment: string | null;
  /** The draw's seed while it is to come (secret: used here for the entrants' draw keys). */
  seed: Buffer | null;
  drawn: boolean;
  /** Seats AVAILABLE now over the dates to come (rule 18). */
  seatsLeft: number;
  /** keepLineAfterSellOut (rule 23). */
  keepLine: boolean;
  /** When the concert's last date starts (epoch ms); null without dates. */
  lastStartsAt: number | null;
  at: number;
}

const INFO_TTL_MS = 1_000;
const MAX_POLICY_VALUE = 1_000_000;
/** How long a policy the line's store missed (Redis away) is offered to it again. */
const POLICY_SYNC_RETRY_MS = 10 * 60_000;

type Deps = {
  store: QueueStore;
  policies: QueuePolicies;
  pool: Pool;
  bus: EventBus;
  limiter: RateLimiter;
  idleSeconds: number;
  /** enterQueue calls one user may make per second. */
  enterPerSecond: number;
  metrics?: Pick<Metrics, "admitted">;
  logger?: Logger;
};

/** The last opening draw this instance did, for the bench and the logs. */
export interface DrawRecord {
  concertId: string;
  ordered: number;
  /** The draw step's wall time on this instance (ms). */
  ms: number;
  at: number;
}

export class QueueService implements QueueGate {
  private readonly concertInfo = new Map<string, ConcertInfo>();
  /** The one read of a concert's facts in flight: a hundred callers at a copy's expiry send one query, not a hundred. */
  private readonly infoReads = new Map<string, Promise<ConcertInfo>>();
  /** Bumped on every drop: a read begun before a drop does not cache what it read. */
  private readonly infoDrops = new Map<string, number>();
  private readonly listening: Promise<() => void>;
  /** Opening draws this instance performed (exactly one instance performs each). */
  drawsPerformed = 0;
  lastDraw: DrawRecord | null = null;

  private readonly dates: DateDirectory;
  /** Waiting lists this instance has closed (their concert's last date started). */
  private readonly linesEnded = new Set<string>();

  constructor(private readonly deps: Deps) {
    this.dates = new DateDirectory(deps.pool);
    this.listening = deps.bus.listen<{ concertId: string }>(CONCERT_CHANGED, ({ concertId }) => this.dropInfo(concertId));
  }

  async close(): Promise<void> {
    (await this.listening)();
  }

  async enterQueue(actor: Actor, concertId: string): Promise<QueueTicketView> {
    const info = await this.info(concertId);
    if (!info.exists) throw notFound("concert");
    if (!(await this.deps.limiter.hit(`enter:${actor.id}`, this.deps.enterPerSecond, 1))) {
      throw new AppError("RATE_LIMITED", "Too many enterQueue calls: wait a second and try again.");
    }
    if (info.soldOut && !info.keepLine) throw soldOut();
    const policy = await this.deps.policies.get(concertId);
    const opening = {
      opensAt: info.opensAt,
      drawKey: info.seed && !info.drawn ? drawKey(info.seed, actor.id) : null,
    };
    const result = await this.deps.store.enter(concertId, actor.id, newQueueToken(concertId), policy, this.deps.idleSeconds, opening);
    if (result.soldOut) throw soldOut();
    await this.announce(concertId, result.admitted);
    return toTicket(await this.withFacts(result.state));
  }

  async queueStatus(actor: Actor, token: string): Promise<QueueTicketView> {
    return toTicket(await this.ownToken(actor, token, true));
  }

  async leaveQueue(actor: Actor, token: string): Promise<QueueTicketView> {
    const state = await this.ownToken(actor, token, false);
    const ended = await this.endReporting(state.concertId, token, "LEFT");
    // On a waiting list an ACTIVE user was admitted for a seat: leaving passes it on.
    if (state.status === "ACTIVE" && ended?.changed && (await this.info(state.concertId)).keepLine) await this.passOn(state.concertId, 1);
    return toTicket(await this.withFacts(ended?.state ?? state));
  }

  /** Pauses (false) or resumes (true) admission from the line (rule 25). */
  async setAdmission(actor: Actor, concertId: string, open: boolean) {
    await this.existingConcert(concertId);
    assertAdmin(actor);
    return { concertId, admissionOpen: true, ...(await this.setPolicy(concertId, { admissionOpen: open })) };
  }

  /** A concert's opening, limit or flags changed (updateConcert): every instance reads its facts again. */
  async concertChanged(concertId: string): Promise<void> {
    this.dropInfo(concertId);
    await this.deps.bus.publish(CONCERT_CHANGED, { concertId });
  }

  /** Whether anyone ever entered the concert's line (rule 16). */
  everEntered(concertId: string): Promise<boolean> {
    return this.deps.store.everEntered(concertId);
  }

  /**
   * The opening draw (rule 17) once the opening has come: the store orders the
   * pre-queue in one atomic step, once per commitment whichever instance gets
   * there first; then the seed is published (drawn_at) and every instance's
   * watchers read their tokens again, so each pre-queue subscriber gets its place.
   * Every instance calls this from its admission loop; it costs nothing once drawn.
   */
  async openIfDue(concertId: string): Promise<void> {
    const info = await this.info(concertId);
    if (!info.exists || !info.commitment || info.drawn) return;
    if (info.opensAt !== null && info.opensAt > Date.now()) return;
    const started = performance.now();
    const result = await this.deps.store.draw(concertId, info.commitment, info.opensAt);
    if (!result) return; // the store's clock says not yet
    const ms = performance.now() - started;
    if (result.done) {
      this.drawsPerformed++;
      this.lastDraw = { concertId, ordered: result.ordered, ms, at: Date.now() };
      this.deps.logger?.info("opening draw done", { concertId, ordered: result.ordered, ms: Math.round(ms) });
    }
    const { rowCount } = await this.deps.pool.query(
      `UPDATE concerts SET drawn_at = now()
        WHERE id = $1 AND draw_commitment = $2 AND drawn_at IS NULL AND (sale_opens_at IS NULL OR sale_opens_at <= now())`,
      [concertId, info.commitment],
    );
    if (!result.done && rowCount === 0) {
      // Another instance did both; its announcement reaches every instance.
      this.dropInfo(concertId);
      return;
    }
    await this.concertChanged(concertId);
    await this.deps.bus.publish(concertChannel(concertId), { kind: "drawn" } satisfies ConcertQueueEvent);
  }

  async requireActive(actor: { id: string }, token: string | undefined, concertId: string): Promise<void> {
    if (!token) throw new AppError("QUEUE_TOKEN_REQUIRED", "Send the X-Queue-Token you got from enterQueue.");
    if (concertOfToken(token) !== concertId) throw invalidToken("This queue token is not for this concert.");
    const state = await this.deps.store.read(concertId, token, this.deps.idleSeconds, false);
    if (!state) throw invalidToken();
    if (state.userId !== actor.id) throw forbidden("This queue token belongs to another user.");
    if (state.status === "WAITING") {
      throw new AppError("QUEUE_NOT_ACTIVE", `You are still waiting in line (place ${state.position}).`);
    }
    // A session past its end counts as ended even before the next admission step notices.
    if (state.status === "EXPIRED" || state.expiresAt <= state.now) {
      throw new AppError("QUEUE_TOKEN_EXPIRED", "This queue token has expired: enter the queue again.");
    }
  }

  async holdPlaced(token: string, heldUntil: Date): Promise<void> {
    const concertId = concertOfToken(token);
    if (concertId) await this.deps.store.setHold(concertId, token, heldUntil.getTime());
  }

  async holdReleased(token: string): Promise<void> {
    const concertId = concertOfToken(token);
    if (concertId) await this.deps.store.setHold(concertId, token, null);
  }

  async expireToken(token: string, reason: "PAID" | "HOLD_TIMEOUT"): Promise<void> {
    const concertId = concertOfToken(token);
    if (concertId) await this.end(concertId, token, reason);
  }

  async concertSoldOut(concertId: string): Promise<void> {
    if ((await this.info(concertId)).keepLine) return this.sellOutKeepingLine(concertId);
    await this.deps.store.soldOut(concertId);
    this.dropInfo(concertId);
    await this.deps.bus.publish(concertChannel(concertId), { kind: "soldOut" } satisfies ConcertQueueEvent);
  }

  /** A date was added: the concert may have seats again. */
  async concertReopened(concertId: string): Promise<void> {
    this.dropInfo(concertId);
    this.linesEnded.delete(concertId);
    await this.deps.store.reopen(concertId);
  }

  async seatsBackOnSale(seats: readonly { concertDateId: string }[], wereSold = false): Promise<void> {
    const perConcert = new Map<string, number>();
    for (const seat of seats) {
      const { concertId } = await this.dates.get(seat.concertDateId);
      perConcert.set(concertId, (perConcert.get(concertId) ?? 0) + 1);
    }
    for (const [concertId, count] of perConcert) {
      if ((await this.info(concertId)).keepLine) {
        await this.passOn(concertId, count);
      } else if (wereSold) {
        // Rule 6 ended the line at the sell-out; new entries may join again.
        this.dropInfo(concertId);
        await this.deps.store.reopen(concertId);
      }
    }
  }

  /** One admission step for one concert (the ticker calls it on every instance). */
  /** Null: the concert is not in this deployment's database (another one shares the Redis). */
  async tick(concertId: string): Promise<{ waiting: number; active: number; admitted: number } | null> {
    const info = await this.info(concertId);
    // A concert of another deployment sharing this Redis (its database is not
    // ours): admitting its line under our default policy would break its rules.
    if (!info.exists) return null;
    await this.openIfDue(concertId);
    const policy = await this.deps.policies.get(concertId);
    const result = await this.deps.store.tick(concertId, policy, this.deps.idleSeconds, { opensAt: info.opensAt });
    await this.announce(concertId, [...result.admitted, ...result.expired]);
    const admitted = result.admitted.length + (await this.tickWaitingList(concertId, result.expired));
    return { waiting: result.waiting, active: result.active, admitted };
  }

  /**
   * The waiting list's part of a tick: a session that ended unused passes its
   * seat on, and once the concert's last date has started the line closes.
   * Returns how many were admitted.
   */
  private async tickWaitingList(concertId: string, expired: TokenState[]): Promise<number> {
    const info = await this.info(concertId);
    if (!info.keepLine) return 0;
    if (info.lastStartsAt !== null && info.lastStartsAt <= Date.now()) {
      if (!this.linesEnded.has(concertId)) {
        this.linesEnded.add(concertId);
        await this.deps.store.endLine(concertId);
        await this.deps.bus.publish(concertChannel(concertId), { kind: "soldOut" } satisfies ConcertQueueEvent);
      }
      return 0;
    }
    const unused = expired.filter((s) => s.expiredReason === "SESSION_TIMEOUT").length;
    return unused > 0 ? this.passOn(concertId, unused) : 0;
  }

  /** Rule 23: ACTIVE tokens without a hold end SOLD_OUT; the line stays, admitting one per seat back on sale. */
  private async sellOutKeepingLine(concertId: string): Promise<void> {
    const ended = await this.deps.store.sellOutKeepingLine(concertId, this.deps.idleSeconds);
    this.dropInfo(concertId);
    await this.announce(concertId, ended);
    // A seat that came back between the sale that sold out and this step had
    // its offer reset with the others: offer what is on sale now once more.
    const { rows } = await this.deps.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM seats s JOIN concert_dates d ON d.id = s.concert_date_id
        WHERE d.concert_id = $1 AND d.starts_at > now() AND s.status = 'AVAILABLE'`,
      [concertId],
    );
    if (rows[0].n > 0) await this.passOn(concertId, rows[0].n);
  }

  /** On a waiting list, `seats` back on sale admit as many from the head of the line. Returns how many were admitted. */
  private async passOn(concertId: string, seats: number): Promise<number> {
    const policy = await this.deps.policies.get(concertId);
    const admitted = await this.deps.store.seatsBack(concertId, seats, policy, this.deps.idleSeconds);
    await this.announce(concertId, admitted);
    return admitted.length;
  }

  async getPolicy(actor: Actor, concertId: string): Promise<QueuePolicyValues & { concertId: string }> {
    await this.existingConcert(concertId);
    assertAdmin(actor);
    return { concertId, admissionOpen: true, ...(await this.deps.policies.get(concertId)) };
  }

  async updatePolicy(actor: Actor, concertId: string, input: Partial<QueuePolicyValues>) {
    for (const [field, value] of Object.entries(input)) {
      if (value !== undefined && value !== null && (!Number.isInteger(value) || (value as number) < 1 || (value as number) > MAX_POLICY_VALUE)) {
        throw new AppError("BAD_USER_INPUT", `${field} must be a whole number from 1 to ${MAX_POLICY_VALUE}.`, { field });
      }
    }
    await this.existingConcert(concertId);
    assertAdmin(actor);
    return { concertId, admissionOpen: true, ...(await this.setPolicy(concertId, input)) };
  }

  /**
   * PostgreSQL keeps the policy, and the line's store gets it before the answer: every
   * instance's next step follows it, even one whose cached copy has not been dropped yet.
   */
  private async setPolicy(concertId: string, input: Partial<QueuePolicyValues>): Promise<QueuePolicyValues> {
    const value = await this.deps.policies.update(concertId, input);
    try {
      await this.deps.store.setPolicy(concertId, value);
    } catch (error) {
      // PostgreSQL has it, the line's store not (Redis away): the store would go on with the
      // policy it had. The answer is the error; the store gets the policy once Redis answers,
      // read again from PostgreSQL then (not from this instance's copy, which cannot hear of
      // another instance's change while Redis is away), so a later change is not overwritten.
      void afterCommit(this.deps.logger, async () => this.deps.store.setPolicy(concertId, await this.deps.policies.fresh(concertId)), {
        forMs: POLICY_SYNC_RETRY_MS,
      });
      throw error;
    }
    return value;
  }

  async stats(actor: Actor, concertId: string): Promise<QueueStatsView> {
    await this.existingConcert(concertId);
    assertAdmin(actor);
    return this.currentStats(concertId);
  }

  /** QueueStats now (rule 26), with no access check: the caller has done it. */
  async currentStats(concertId: string): Promise<QueueStatsView> {
    const [counts, info] = await Promise.all([this.deps.store.stats(concertId), this.info(concertId)]);
    return {
      concertId,
      waiting: counts.waiting,
      active: counts.active,
      preQueue: counts.preQueue,
      admittedPerSecond: counts.admittedLastMinute / 60,
      seatsLeft: info.seatsLeft,
    };
  }

  /** The token's state; a WAITING one counts as seen when `touch`. */
  async read(concertId: string, token: string, touch: boolean): Promise<TokenState | null> {
    const state = await this.deps.store.read(concertId, token, this.deps.idleSeconds, touch);
    return state && this.withFacts(state);
  }

  async readMany(concertId: string, tokens: string[]): Promise<(TokenState | null)[]> {
    const states = await this.deps.store.readMany(concertId, tokens, this.deps.idleSeconds);
    const facts = await this.facts(concertId);
    // The states are the store's fresh objects: given the facts in place (a spread per state
    // was 15% of the waiting room's refresh, with the garbage it left).
    for (const s of states) {
      if (!s) continue;
      s.seatsLeft = facts.seatsLeft;
      s.saleOpensAt = facts.saleOpensAt;
      s.admissionOpen = facts.admissionOpen;
    }
    return states;
  }

  /** The caller's own token, or the contract's error. */
  async ownToken(actor: { id: string }, token: string, touch: boolean): Promise<TokenState> {
    const concertId = concertOfToken(token);
    const state = concertId ? await this.read(concertId, token, touch) : null;
    if (!state) throw invalidToken();
    if (state.userId !== actor.id) throw forbidden("This queue token belongs to another user.");
    return state;
  }

  private async end(concertId: string, token: string, reason: "PAID" | "HOLD_TIMEOUT" | "LEFT"): Promise<TokenState | null> {
    return (await this.endReporting(concertId, token, reason))?.state ?? null;
  }

  private async endReporting(concertId: string, token: string, reason: "PAID" | "HOLD_TIMEOUT" | "LEFT") {
    const result = await this.deps.store.expire(concertId, token, reason, this.deps.idleSeconds);
    if (result?.changed) await this.announce(concertId, [result.state]);
    return result;
  }

  /** Status changes reach the subscribers on every instance at once, not at their next refresh. */
  private async announce(concertId: string, states: TokenState[]): Promise<void> {
    if (states.length === 0) return;
    // Every admission, at entry or by the admission step, is announced here once (by the instance that made it).
    let admitted = 0;
    for (const s of states) if (s.status === "ACTIVE") admitted++;
    this.deps.metrics?.admitted(concertId, admitted);
    const facts = await this.facts(concertId);
    await this.deps.bus.publish(concertChannel(concertId), {
      kind: "changed",
      states: states.map((s) => ({ ...s, ...facts })),
    } satisfies ConcertQueueEvent);
  }

  /** The concert's facts a ticket shows besides the token's own (rules 16, 18, 25). */
  private async facts(concertId: string): Promise<Pick<TokenState, "seatsLeft" | "saleOpensAt" | "admissionOpen">> {
    const [info, policy] = await Promise.all([this.info(concertId), this.deps.policies.get(concertId)]);
    return { seatsLeft: info.seatsLeft, saleOpensAt: info.opensAt, admissionOpen: policy.admissionOpen !== false };
  }

  private async withFacts(state: TokenState): Promise<TokenState> {
    return { ...state, ...(await this.facts(state.concertId)) };
  }

  private async existingConcert(concertId: string): Promise<void> {
    if (!(await this.info(concertId)).exists) throw notFound("concert");
  }

  /**
   * Whether the concert exists, has no seat left on any date to come, its
   * opening and the seats left, cached for a second: enterQueue is the hottest
   * call of an on-sale. A change of the opening drops the copy on every instance.
   */
  private info(concertId: string): Promise<ConcertInfo> | ConcertInfo {
    if (!isUuid(concertId)) return NO_CONCERT;
    const hit = this.concertInfo.get(concertId);
    if (hit && Date.now() - hit.at < INFO_TTL_MS) return hit;
    const inFlight = this.infoReads.get(concertId);
    // An expired copy serves while its one refresh runs; after a drop, everyone waits for it.
    if (inFlight) return hit ?? inFlight;
    const read = this.readInfo(concertId, hit);
    this.infoReads.set(concertId, read);
    const done = () => {
      if (this.infoReads.get(concertId) === read) this.infoReads.delete(concertId);
    };
    read.then(done, done);
    return hit ?? read;
  }

  private dropInfo(concertId: string): void {
    this.concertInfo.delete(concertId);
    this.infoReads.delete(concertId);
    this.infoDrops.set(concertId, (this.infoDrops.get(concertId) ?? 0) + 1);
  }

  private async readInfo(concertId: string, hit: ConcertInfo | undefined): Promise<ConcertInfo> {
    const drops = this.infoDrops.get(concertId) ?? 0;
    const read = this.deps.pool.query<{
      exists: boolean;
      sold_out: boolean;
      opens_at: number | null;
      commitment: string | null;
      seed: Buffer | null;
      drawn: boolean;
      seats_left: number;
      keep_line: boolean | null;
      last_starts: Date | null;
    }>(
      `SELECT /* queue: the concert's facts, for the ticker and enterQueue */ c.id IS NOT NULL AS exists,
              (extract(epoch FROM c.sale_opens_at) * 1000)::float8 AS opens_at,
              c.draw_commitment AS commitment,
              CASE WHEN c.drawn_at IS NULL THEN c.draw_seed END AS seed,
              c.drawn_at IS NOT NULL AS drawn,
              concert_sold_out($1::uuid) AS sold_out,
              (SELECT count(*) FROM seats s JOIN concert_dates d ON d.id = s.concert_date_id
                WHERE d.concert_id = $1 AND d.starts_at > now()
                  AND (s.status = 'AVAILABLE' OR (s.status = 'HELD' AND hold_is_over(s.held_until))))::int AS seats_left,
              c.keep_line_after_sell_out AS keep_line,
              (SELECT max(starts_at) FROM concert_dates WHERE concert_id = $1) AS last_starts
         FROM (SELECT 1) one LEFT JOIN concerts c ON c.id = $1`,
      [concertId],
    );
    // While PostgreSQL does not answer, the last copy serves: what needs only
    // Redis (a queueStatus, the admission step) goes on (a first read still fails).
    const rows = await read.then(
      (result) => result.rows,
      (error: unknown) => {
        if (hit) return undefined;
        throw error;
      },
    );
    if (!rows) return hit!;
    const r = rows[0];
    const info: ConcertInfo = {
      exists: r.exists,
      soldOut: r.sold_out,
      opensAt: r.opens_at,
      commitment: r.commitment,
      seed: r.seed,
      drawn: r.drawn,
      seatsLeft: r.seats_left,
      keepLine: r.keep_line === true,
      lastStartsAt: r.last_starts ? r.last_starts.getTime() : null,
      at: Date.now(),
    };
    if ((this.infoDrops.get(concertId) ?? 0) === drops) this.concertInfo.set(concertId, info);
    return info;
  }
}

const NO_CONCERT: ConcertInfo = {
  exists: false,
  soldOut: false,
  opensAt: null,
  commitment: null,
  seed: null,
  drawn: false,
  seatsLeft: 0,
  keepLine: false,
  lastStartsAt: null,
  at: 0,
};

export interface QueueStatsView {
  concertId: string;
  waiting: number;
  active: number;
  preQueue: number;
  admittedPerSecond: number;
  seatsLeft: number;
}

const invalidToken = (message = "This queue token is not known.") => new AppError("QUEUE_TOKEN_INVALID", message);
const soldOut = () => new AppError("SOLD_OUT", "Every seat of this concert is sold.");
