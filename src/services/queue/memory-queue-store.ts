// The queue store in this process: the embedded default when REDIS_URL is
// unset (one instance). Same rules as the Redis scripts; every step runs to
// completion on the event loop, so steps cannot interleave.
import type { QueueExpiry, QueueStatus } from "./queue.types";
import type { DrawResult, EnterResult, Opening, QueueCounts, QueuePolicyValues, QueueStore, TickResult, TokenState } from "./queue-store";
import { RankIndex, ScoredKeys } from "./order-structures";
import { HOLD_GRACE_MS } from "./redis-queue-store";

const TICK_BATCH = 1_000;
/** An idle queue nobody entered for this long leaves the ticker's rounds. */
const IDLE_MS = 600_000;

interface Token {
  userId: string;
  seq: number;
  status: QueueStatus;
  sessionEnd: number;
  holdEnd: number;
  reason: QueueExpiry | null;
}

class ConcertQueue {
  seq = 0;
  soldOut = false;
  soldOutSeq = 0;
  /** Sold out, the line kept as a waiting list (rule 23); `credits`: seats back on sale not yet offered. */
  waitlist = false;
  credits = 0;
  readonly tokens = new Map<string, Token>();
  readonly bySeq = new Map<number, string>();
  waiting = new RankIndex();
  head = 1;
  waitingCount = 0;
  readonly seen = new ScoredKeys();
  readonly active = new ScoredKeys();
  readonly users = new Map<string, string>();
  readonly admissions: number[] = [];
  admitted = 0;
  rate: number | null = null;
  rateAt = 0;
  rateCount = 0;
  lastActivity = Date.now();
  /** Left out of the ticker's rounds until someone enters again. */
  idle = false;
  /** The pre-queue: token -> its draw key (its tokens are in the line too, by seq). */
  readonly preQueue = new Map<string, string>();
  /** The commitment whose draw is done. */
  drawnFor: string | null = null;
  /** Admissions per second of the last minute: second -> count. */
  readonly admittedAt = new Map<number, number>();
  /** The policy an admin last set: it overrides the callers' (setPolicy). */
  policy: QueuePolicyValues | null = null;
}

/** Nobody is admitted while paused, before the opening, or while the pre-queue waits for its draw (rules 16, 25). */
function gated(q: ConcertQueue, policy: QueuePolicyValues, opening: Opening | undefined, now: number): boolean {
  if (policy.admissionOpen === false) return true;
  if (opening?.opensAt != null && now < opening.opensAt) return true;
  return q.preQueue.size > 0;
}

export class MemoryQueueStore implements QueueStore {
  private readonly queues = new Map<string, ConcertQueue>();

  private queue(concertId: string): ConcertQueue {
    let q = this.queues.get(concertId);
    if (!q) this.queues.set(concertId, (q = new ConcertQueue()));
    return q;
  }

  /** A token's status: EXPIRED (SOLD_OUT) once the line's sell-out reached it. */
  private statusOf(q: ConcertQueue, t: Token): QueueStatus {
    return soldOutFor(q, t) ? "EXPIRED" : t.status;
  }

  private state(concertId: string, q: ConcertQueue, token: string, idleMs: number, now: number): TokenState | null {
    const t = q.tokens.get(token);
    if (!t) return null;
    const status = this.statusOf(q, t);
    // A waiting list with no seat back on sale has no estimate (rule 23).
    const admissionRate = q.waitlist && q.credits <= 0 ? null : q.rate;
    // One object literal per state (the subscribers' refresh reads many)
    let position = 0;
    let expiresAt = 0;
    if (status === "WAITING") {
      position = q.preQueue.has(token) ? 0 : q.waiting.before(t.seq) + 1;
      expiresAt = (q.seen.get(token) ?? now) + idleMs;
    } else if (status === "ACTIVE") expiresAt = Math.max(t.sessionEnd, t.holdEnd);
    const expiredReason = status !== "EXPIRED" ? null : soldOutFor(q, t) ? "SOLD_OUT" : t.reason;
    return { token, userId: t.userId, concertId, status, position, expiresAt, expiredReason, now, admissionRate };
  }

  private expireOne(q: ConcertQueue, token: string, reason: QueueExpiry): boolean {
    const t = q.tokens.get(token);
    if (!t || this.statusOf(q, t) === "EXPIRED") return false;
    if (t.status === "WAITING") this.removeWaiting(q, t);
    q.preQueue.delete(token);
    q.seen.delete(token);
    q.active.delete(token);
    t.status = "EXPIRED";
    t.reason = reason;
    if (q.users.get(t.userId) === token) q.users.delete(t.userId);
    return true;
  }

  private removeWaiting(q: ConcertQueue, t: Token): void {
    if (!q.waiting.has(t.seq)) return;
    q.waiting.remove(t.seq);
    q.bySeq.delete(t.seq);
    q.waitingCount--;
  }

  private admit(concertId: string, q: ConcertQueue, given: QueuePolicyValues, idleMs: number, now: number, opening?: Opening): TokenState[] {
    const policy = q.policy ?? given;
    if (gated(q, policy, opening, now)) return [];
    // Sold out: a waiting list admits one user per seat back on sale (rule 23).
    if (q.soldOut && (!q.waitlist || q.credits <= 0)) return [];
    while (q.admissions.length > 0 && q.admissions[0] <= now - 1000) q.admissions.shift();
    let room = Math.min(policy.maxActiveUsers - q.active.size, policy.admitPerSecond - q.admissions.length);
    if (q.soldOut) room = Math.min(room, q.credits);
    const out: TokenState[] = [];
    while (room > 0 && q.waitingCount > 0) {
      while (!q.waiting.has(q.head)) q.head++;
      const token = q.bySeq.get(q.head)!;
      const t = q.tokens.get(token)!;
      this.removeWaiting(q, t);
      t.status = "ACTIVE";
      t.sessionEnd = now + policy.activeSessionSeconds * 1000;
      q.active.set(token, t.sessionEnd);
      q.seen.delete(token);
      q.admissions.push(now);
      out.push(this.state(concertId, q, token, idleMs, now)!);
      room--;
    }
    q.admitted += out.length;
    if (out.length > 0) {
      const second = Math.floor(now / 1000);
      q.admittedAt.set(second, (q.admittedAt.get(second) ?? 0) + out.length);
      for (const at of q.admittedAt.keys()) if (at <= second - 60) q.admittedAt.delete(at);
    }
    if (q.soldOut) q.credits -= out.length;
    return out;
  }

  async enter(
    concertId: string,
    userId: string,
    newToken: string,
    policy: QueuePolicyValues,
    idleSeconds: number,
    opening?: Opening,
  ): Promise<EnterResult> {
    const q = this.queue(concertId);
    const now = Date.now();
    const idleMs = idleSeconds * 1000;
    q.lastActivity = now;
    q.idle = false;
    const existing = q.users.get(userId);
    if (existing) {
      q.seen.touch(existing, now);
      const state = this.state(concertId, q, existing, idleMs, now);
      if (state && state.status !== "EXPIRED") return { soldOut: false, created: false, state, admitted: [] };
    }
    if (q.soldOut && !q.waitlist) return { soldOut: true };
    const seq = ++q.seq;
    q.tokens.set(newToken, { userId, seq, status: "WAITING", sessionEnd: 0, holdEnd: 0, reason: null });
    q.bySeq.set(seq, newToken);
    q.waiting.add(seq);
    q.waitingCount++;
    q.seen.set(newToken, now);
    q.users.set(userId, newToken);
    if (opening?.opensAt != null && opening.drawKey && now < opening.opensAt) q.preQueue.set(newToken, opening.drawKey);
    const admitted = this.admit(concertId, q, policy, idleMs, now, opening);
    return { soldOut: false, created: true, state: this.state(concertId, q, newToken, idleMs, now)!, admitted };
  }

  async read(concertId: string, token: string, idleSeconds: number, touch: boolean): Promise<TokenState | null> {
    const q = this.queues.get(concertId);
    if (!q) return null;
    const now = Date.now();
    if (touch) q.seen.touch(token, now);
    return this.state(concertId, q, token, idleSeconds * 1000, now);
  }

  async readMany(concertId: string, tokens: string[], idleSeconds: number): Promise<(TokenState | null)[]> {
    const q = this.queues.get(concertId);
    if (!q) return tokens.map(() => null);
    const now = Date.now();
    const idleMs = idleSeconds * 1000;
    return tokens.map((token) => {
      q.seen.touch(token, now);
      return this.state(concertId, q, token, idleMs, now);
    });
  }

  async expire(concertId: string, token: string, reason: QueueExpiry, idleSeconds: number) {
    const q = this.queues.get(concertId);
    if (!q) return null;
    const changed = this.expireOne(q, token, reason);
    const state = this.state(concertId, q, token, idleSeconds * 1000, Date.now());
    return state ? { changed, state } : null;
  }

  async setHold(concertId: string, token: string, untilMs: number | null): Promise<void> {
    const q = this.queues.get(concertId);
    const t = q?.tokens.get(token);
    if (!q || !t || this.statusOf(q, t) !== "ACTIVE") return;
    t.holdEnd = untilMs ?? 0;
    q.active.set(token, untilMs === null ? t.sessionEnd : Math.max(t.sessionEnd, untilMs + HOLD_GRACE_MS));
  }

  async tick(concertId: string, policy: QueuePolicyValues, idleSeconds: number, opening?: Opening): Promise<TickResult> {
    const q = this.queue(concertId);
    const now = Date.now();
    const idleMs = idleSeconds * 1000;
    const expired: TokenState[] = [];
    for (const token of q.active.popDue(now, TICK_BATCH)) {
      if (this.expireOne(q, token, "SESSION_TIMEOUT")) expired.push(this.state(concertId, q, token, idleMs, now)!);
    }
    for (const token of q.seen.popDue(now - idleMs, TICK_BATCH)) {
      if (this.expireOne(q, token, "ABANDONED")) expired.push(this.state(concertId, q, token, idleMs, now)!);
    }
    const admitted = this.admit(concertId, q, policy, idleMs, now, opening);
    if (q.rateAt === 0) {
      q.rateAt = now;
      q.rateCount = q.admitted;
    } else if (now - q.rateAt >= 2000) {
      const dt = (now - q.rateAt) / 1000;
      const instant = (q.admitted - q.rateCount) / dt;
      const alpha = 1 - Math.exp(-dt / 10);
      if (q.rate !== null) q.rate += alpha * (instant - q.rate);
      else if (instant > 0) q.rate = instant;
      q.rateAt = now;
      q.rateCount = q.admitted;
    }
    return { admitted, expired, waiting: q.waitingCount, active: q.active.size };
  }

  async setPolicy(concertId: string, policy: QueuePolicyValues): Promise<void> {
    this.queue(concertId).policy = { ...policy };
  }

  async soldOut(concertId: string): Promise<void> {
    const q = this.queue(concertId);
    q.soldOut = true;
    q.soldOutSeq = q.seq;
    // Tokens up to soldOutSeq now read as EXPIRED (SOLD_OUT); drop the line's structures without visiting them.
    q.waiting = new RankIndex();
    q.head = q.seq + 1;
    q.waitingCount = 0;
    q.bySeq.clear();
    q.preQueue.clear();
    q.seen.clear();
    q.active.clear();
    q.users.clear();
  }

  async reopen(concertId: string): Promise<void> {
    const q = this.queue(concertId);
    q.soldOut = q.waitlist = false;
    q.credits = 0;
  }

  async sellOutKeepingLine(concertId: string, idleSeconds: number): Promise<TokenState[]> {
    const q = this.queue(concertId);
    const now = Date.now();
    q.soldOut = q.waitlist = true;
    q.credits = 0;
    const ended: TokenState[] = [];
    for (const token of [...q.active.keys()]) {
      const t = q.tokens.get(token)!;
      if (t.holdEnd <= now && this.expireOne(q, token, "SOLD_OUT")) ended.push(this.state(concertId, q, token, idleSeconds * 1000, now)!);
    }
    return ended;
  }

  async seatsBack(concertId: string, seats: number, policy: QueuePolicyValues, idleSeconds: number): Promise<TokenState[]> {
    const q = this.queues.get(concertId);
    if (!q?.waitlist) return [];
    q.credits += seats;
    return this.admit(concertId, q, policy, idleSeconds * 1000, Date.now());
  }

  async endLine(concertId: string): Promise<void> {
    const q = this.queue(concertId);
    q.waitlist = false;
    q.credits = 0;
    await this.soldOut(concertId);
  }

  async counts(concertId: string) {
    const q = this.queues.get(concertId);
    return { waiting: q?.waitingCount ?? 0, active: q?.active.size ?? 0 };
  }

  /** As the Redis script: the pre-queue's entry numbers handed out again in draw-key order. */
  async draw(concertId: string, commitment: string, opensAt: number | null): Promise<DrawResult | null> {
    const q = this.queue(concertId);
    if (q.drawnFor === commitment) return { done: false, ordered: 0 };
    if (opensAt !== null && Date.now() < opensAt) return null;
    // Keys are unique (one live token per user, one key per user): sorting by key alone is the draw order.
    const entries = [...q.preQueue].map(([token, key]) => ({ token, key, t: q.tokens.get(token)! }));
    const seqs = Float64Array.from(entries, (e) => e.t.seq).sort();
    entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    entries.forEach((e, i) => {
      e.t.seq = seqs[i];
      q.bySeq.set(seqs[i], e.token);
    });
    q.preQueue.clear();
    q.drawnFor = commitment;
    return { done: true, ordered: entries.length };
  }

  async everEntered(concertId: string): Promise<boolean> {
    return (this.queues.get(concertId)?.seq ?? 0) > 0;
  }

  async stats(concertId: string): Promise<QueueCounts> {
    const q = this.queues.get(concertId);
    const second = Math.floor(Date.now() / 1000);
    let admittedLastMinute = 0;
    for (const [at, n] of q?.admittedAt ?? []) if (at > second - 60) admittedLastMinute += n;
    return { waiting: q?.waitingCount ?? 0, active: q?.active.size ?? 0, preQueue: q?.preQueue.size ?? 0, admittedLastMinute };
  }

  async concerts(): Promise<string[]> {
    return [...this.queues.entries()].filter(([, q]) => !q.idle).map(([id]) => id);
  }

  async forgetIfIdle(concertId: string): Promise<void> {
    // The queue itself stays (its ended tokens still answer queueStatus); the ticker skips it.
    const q = this.queues.get(concertId);
    if (q && Date.now() - q.lastActivity > IDLE_MS) q.idle = true;
  }

  async close(): Promise<void> {}
}

/** Whether the line's sell-out ended this token (one that had not ended before). */
const soldOutFor = (q: ConcertQueue, t: Token) => t.status !== "EXPIRED" && t.seq <= q.soldOutSeq;
