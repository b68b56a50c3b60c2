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
import type { QueuePolicies } from "./queue-policy";
import type { QueuePolicyValues, QueueStore, TokenState } from "./queue-store";
import { toTicket } from "./queue-ticket";
import { concertOfToken, newQueueToken } from "./queue-token";
import type { QueueGate, QueueTicketView } from "./queue.types";

export const concertChannel = (concertId: string) => `queue.concert.${concertId}`;
export type ConcertQueueEvent = { kind: "changed"; states: TokenState[] } | { kind: "soldOut" };

const INFO_TTL_MS = 1_000;
const MAX_POLICY_VALUE = 1_000_000;

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
};

export class QueueService implements QueueGate {
  private readonly concertInfo = new Map<string, { exists: boolean; soldOut: boolean; at: number }>();

  constructor(private readonly deps: Deps) {}

  async enterQueue(actor: Actor, concertId: string): Promise<QueueTicketView> {
    const info = await this.info(concertId);
    if (!info.exists) throw notFound("concert");
    if (!(await this.deps.limiter.hit(`enter:${actor.id}`, this.deps.enterPerSecond, 1))) {
      throw new AppError("RATE_LIMITED", "Too many enterQueue calls: wait a second and try again.");
    }
    if (info.soldOut) throw soldOut();
    const policy = await this.deps.policies.get(concertId);
    const result = await this.deps.store.enter(concertId, actor.id, newQueueToken(concertId), policy, this.deps.idleSeconds);
    if (result.soldOut) throw soldOut();
    await this.announce(concertId, result.admitted);
    return toTicket(result.state);
  }

  async queueStatus(actor: Actor, token: string): Promise<QueueTicketView> {
    return toTicket(await this.ownToken(actor, token, true));
  }

  async leaveQueue(actor: Actor, token: string): Promise<QueueTicketView> {
    const state = await this.ownToken(actor, token, false);
    return toTicket(await this.end(state.concertId, token, "LEFT") ?? state);
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
    await this.deps.store.soldOut(concertId);
    this.concertInfo.delete(concertId);
    await this.deps.bus.publish(concertChannel(concertId), { kind: "soldOut" } satisfies ConcertQueueEvent);
  }

  /** A date was added: the concert may have seats again. */
  async concertReopened(concertId: string): Promise<void> {
    this.concertInfo.delete(concertId);
    await this.deps.store.reopen(concertId);
  }

  /** One admission step for one concert (the ticker calls it on every instance). */
  async tick(concertId: string): Promise<{ waiting: number; active: number; admitted: number }> {
    const policy = await this.deps.policies.get(concertId);
    const result = await this.deps.store.tick(concertId, policy, this.deps.idleSeconds);
    await this.announce(concertId, [...result.admitted, ...result.expired]);
    return { waiting: result.waiting, active: result.active, admitted: result.admitted.length };
  }

  async getPolicy(actor: Actor, concertId: string): Promise<QueuePolicyValues & { concertId: string }> {
    await this.existingConcert(concertId);
    assertAdmin(actor);
    return { concertId, ...(await this.deps.policies.get(concertId)) };
  }

  async updatePolicy(actor: Actor, concertId: string, input: Partial<QueuePolicyValues>) {
    for (const [field, value] of Object.entries(input)) {
      if (value !== undefined && value !== null && (!Number.isInteger(value) || value < 1 || value > MAX_POLICY_VALUE)) {
        throw new AppError("BAD_USER_INPUT", `${field} must be a whole number from 1 to ${MAX_POLICY_VALUE}.`, { field });
      }
    }
    await this.existingConcert(concertId);
    assertAdmin(actor);
    return { concertId, ...(await this.deps.policies.update(concertId, input)) };
  }

  async stats(actor: Actor, concertId: string) {
    await this.existingConcert(concertId);
    assertAdmin(actor);
    return { concertId, ...(await this.deps.store.counts(concertId)) };
  }

  /** The token's state; a WAITING one counts as seen when `touch`. */
  async read(concertId: string, token: string, touch: boolean): Promise<TokenState | null> {
    return this.deps.store.read(concertId, token, this.deps.idleSeconds, touch);
  }

  readMany(concertId: string, tokens: string[]): Promise<(TokenState | null)[]> {
    return this.deps.store.readMany(concertId, tokens, this.deps.idleSeconds);
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
    const result = await this.deps.store.expire(concertId, token, reason, this.deps.idleSeconds);
    if (result?.changed) await this.announce(concertId, [result.state]);
    return result?.state ?? null;
  }

  /** Status changes reach the subscribers on every instance at once, not at their next refresh. */
  private async announce(concertId: string, states: TokenState[]): Promise<void> {
    if (states.length === 0) return;
    // Every admission, at entry or by the admission step, is announced here once (by the instance that made it).
    let admitted = 0;
    for (const s of states) if (s.status === "ACTIVE") admitted++;
    this.deps.metrics?.admitted(concertId, admitted);
    await this.deps.bus.publish(concertChannel(concertId), { kind: "changed", states } satisfies ConcertQueueEvent);
  }

  private async existingConcert(concertId: string): Promise<void> {
    if (!(await this.info(concertId)).exists) throw notFound("concert");
  }

  /**
   * Whether the concert exists and has no seat left on any date to come,
   * cached for a second: enterQueue is the hottest call of an on-sale.
   */
  private async info(concertId: string): Promise<{ exists: boolean; soldOut: boolean }> {
    if (!isUuid(concertId)) return { exists: false, soldOut: false };
    const hit = this.concertInfo.get(concertId);
    if (hit && Date.now() - hit.at < INFO_TTL_MS) return hit;
    const { rows } = await this.deps.pool.query<{ exists: boolean; sold_out: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM concerts WHERE id = $1) AS exists,
              EXISTS (SELECT 1 FROM concert_dates WHERE concert_id = $1 AND starts_at > now())
              AND NOT EXISTS (SELECT 1 FROM seats s JOIN concert_dates d ON d.id = s.concert_date_id
                               WHERE d.concert_id = $1 AND d.starts_at > now() AND s.status <> 'SOLD') AS sold_out`,
      [concertId],
    );
    const info = { exists: rows[0].exists, soldOut: rows[0].sold_out, at: Date.now() };
    this.concertInfo.set(concertId, info);
    return info;
  }
}

const invalidToken = (message = "This queue token is not known.") => new AppError("QUEUE_TOKEN_INVALID", message);
const soldOut = () => new AppError("SOLD_OUT", "Every seat of this concert is sold.");
