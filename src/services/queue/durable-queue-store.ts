// The Redis queue store made durable (rule 27): every step goes to Redis as
// before, and what it decided goes to PostgreSQL's journal (queue-journal.ts).
// An entry is answered only once its token is in the journal; if the journal
// cannot take it, the entry is undone in Redis and answered SERVICE_UNAVAILABLE
// (nothing done). Admissions, endings and holds are journaled before they are
// announced. A step that finds its line gone from Redis has it rebuilt
// (queue-rebuild.ts) and, meanwhile, answers SERVICE_UNAVAILABLE.
import type { Pool } from "pg";
import { serviceUnavailable } from "../../errors/unavailable";
import type { QueueExpiry } from "./queue.types";
import type { JournalRow, QueueJournal } from "./queue-journal";
import type { LineKeeper } from "./queue-rebuild";
import type { DrawResult, EnterResult, Opening, QueueCounts, QueuePolicyValues, QueueStore, TickResult, TokenState } from "./queue-store";
import { LineLostError, type RedisQueueStore } from "./redis-queue-store";

const rowOf = (s: TokenState, extra: Partial<JournalRow> = {}): JournalRow => ({
  token: s.token,
  concertId: s.concertId,
  userId: s.userId,
  status: s.status,
  sessionEndsAt: s.status === "ACTIVE" ? s.expiresAt : undefined,
  reason: s.expiredReason ?? undefined,
  ...extra,
});

/** Tokens this instance remembers having journaled (a bound on memory; forgetting one costs one more write). */
const JOURNALED_KEPT = 200_000;

export class DurableQueueStore implements QueueStore {
  private readonly journaled = new Set<string>();

  constructor(
    private readonly inner: RedisQueueStore,
    private readonly journal: QueueJournal,
    private readonly keeper: LineKeeper,
    private readonly pool: Pool,
  ) {}

  async enter(
    concertId: string,
    userId: string,
    newToken: string,
    policy: QueuePolicyValues,
    idleSeconds: number,
    opening?: Opening,
  ): Promise<EnterResult> {
    const result = await this.guarded(concertId, () => this.inner.enter(concertId, userId, newToken, policy, idleSeconds, opening));
    if (result.soldOut) return result;
    const others = this.journal.note(result.admitted.filter((s) => s.token !== result.state.token).map((s) => rowOf(s)));
    // A token Redis already had is journaled too unless this instance did it
    // already: its first entry may have run in Redis after its caller had given
    // up (an answer is never late, a command may be).
    if (result.created || !this.journaled.has(result.state.token)) {
      try {
        await this.journal.record([rowOf(result.state, { seq: result.seq, preQueue: result.preQueue })]);
      } catch (error) {
        // Not durable, so not acknowledged: take a new token out of the line again.
        if (result.created) await this.inner.expire(concertId, result.state.token, "LEFT", idleSeconds).catch(() => undefined);
        throw serviceUnavailable("database", error);
      }
      if (this.journaled.size >= JOURNALED_KEPT) this.journaled.clear();
      this.journaled.add(result.state.token);
    }
    await others;
    return result;
  }

  read(concertId: string, token: string, idleSeconds: number, touch: boolean): Promise<TokenState | null> {
    return this.guarded(concertId, () => this.inner.read(concertId, token, idleSeconds, touch));
  }

  readMany(concertId: string, tokens: string[], idleSeconds: number): Promise<(TokenState | null)[]> {
    return this.guarded(concertId, () => this.inner.readMany(concertId, tokens, idleSeconds));
  }

  async expire(concertId: string, token: string, reason: QueueExpiry, idleSeconds: number) {
    const result = await this.guarded(concertId, () => this.inner.expire(concertId, token, reason, idleSeconds));
    if (result?.changed) await this.journal.note([rowOf(result.state)]);
    return result;
  }

  async setHold(concertId: string, token: string, untilMs: number | null): Promise<void> {
    await this.guarded(concertId, () => this.inner.setHold(concertId, token, untilMs));
    // Only an ACTIVE token can hold; the row of an entry that was journaled already names its user.
    await this.journal.note([{ token, concertId, userId: "", status: "ACTIVE", holdUntil: untilMs ?? 0 }]);
  }

  async tick(concertId: string, policy: QueuePolicyValues, idleSeconds: number, opening?: Opening): Promise<TickResult> {
    const result = await this.guarded(concertId, () => this.inner.tick(concertId, policy, idleSeconds, opening));
    await this.journal.note([...result.admitted, ...result.expired].map((s) => rowOf(s)));
    return result;
  }

  /** PostgreSQL has the policy already (queue_policies); a rebuilt line follows the instances' copies until it is set again. */
  setPolicy(concertId: string, policy: QueuePolicyValues): Promise<void> {
    return this.inner.setPolicy(concertId, policy);
  }

  async soldOut(concertId: string): Promise<void> {
    await this.guarded(concertId, () => this.inner.soldOut(concertId));
    await this.recordSoldOut(concertId);
  }

  /** The waiting list (rule 23): the tokens it ends are journaled like any ending. */
  async sellOutKeepingLine(concertId: string, idleSeconds: number): Promise<TokenState[]> {
    const ended = await this.guarded(concertId, () => this.inner.sellOutKeepingLine(concertId, idleSeconds));
    // A rebuild of this line brings the waiting list back (queue-rebuild.ts).
    await this.pool.query(`UPDATE queue_lines SET waitlist = true WHERE concert_id = $1`, [concertId]);
    await this.journal.note(ended.map((s) => rowOf(s)));
    return ended;
  }

  async seatsBack(concertId: string, seats: number, policy: QueuePolicyValues, idleSeconds: number): Promise<TokenState[]> {
    const admitted = await this.guarded(concertId, () => this.inner.seatsBack(concertId, seats, policy, idleSeconds));
    await this.journal.note(admitted.map((s) => rowOf(s)));
    return admitted;
  }

  async endLine(concertId: string): Promise<void> {
    await this.guarded(concertId, () => this.inner.endLine(concertId));
    await this.recordSoldOut(concertId);
  }

  private async recordSoldOut(concertId: string): Promise<void> {
    await this.pool.query(`UPDATE queue_lines SET sold_out = true, waitlist = false WHERE concert_id = $1`, [concertId]);
    await this.pool.query(
      `UPDATE queue_tokens SET status = 'EXPIRED', expired_reason = coalesce(expired_reason, 'SOLD_OUT'), updated_at = now()
        WHERE concert_id = $1 AND status <> 'EXPIRED'`,
      [concertId],
    );
  }

  async reopen(concertId: string): Promise<void> {
    await this.inner.reopen(concertId);
    await this.pool.query(`UPDATE queue_lines SET sold_out = false, waitlist = false WHERE concert_id = $1`, [concertId]);
  }

  counts(concertId: string) {
    return this.inner.counts(concertId);
  }

  /** The opening draw: Redis orders the pre-queue; drawn_at in PostgreSQL records it (QueueService.openIfDue). */
  draw(concertId: string, commitment: string, opensAt: number | null): Promise<DrawResult | null> {
    return this.guarded(concertId, () => this.inner.draw(concertId, commitment, opensAt));
  }

  /** Whether anyone ever entered: the journal knows even when Redis lost the line. */
  async everEntered(concertId: string): Promise<boolean> {
    const { rows } = await this.pool.query(`SELECT 1 FROM queue_tokens WHERE concert_id = $1 LIMIT 1`, [concertId]);
    return rows.length > 0 || this.inner.everEntered(concertId);
  }

  stats(concertId: string): Promise<QueueCounts> {
    return this.guarded(concertId, () => this.inner.stats(concertId));
  }

  concerts(): Promise<string[]> {
    return this.inner.concerts();
  }

  forgetIfIdle(concertId: string): Promise<void> {
    return this.inner.forgetIfIdle(concertId);
  }

  async close(): Promise<void> {
    await this.keeper.stop();
    await this.journal.close();
    await this.inner.close();
  }

  /** Runs a step; if its line is not in Redis, opens it (a new line) or has it rebuilt, and runs it again. */
  private async guarded<T>(concertId: string, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      if (!(error instanceof LineLostError)) throw error;
      await this.keeper.ensure(concertId); // throws SERVICE_UNAVAILABLE while a lost line is rebuilt
      return step();
    }
  }
}
