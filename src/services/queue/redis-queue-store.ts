// The queue store on Redis: any number of instances share it.
import type { RedisClient } from "../../redis/redis-client";
import { GUARD } from "./queue-rebuild-scripts";
import { QUEUE_EXPIRIES, QUEUE_STATUSES, type QueueExpiry, type QueueStatus } from "./queue.types";
import type { DrawResult, EnterResult, Opening, QueueCounts, QueuePolicyValues, QueueStore, TickResult, TokenState } from "./queue-store";
import {
  DRAW,
  ENTER,
  EXPIRE,
  FORGET,
  READ,
  SEATS_BACK,
  SELL_OUT_KEEPING_LINE,
  SET_HOLD,
  SET_POLICY,
  SOLD_OUT,
  STATS,
  TICK,
} from "./redis-queue-scripts";

/** How long after its hold's end a session may outlive it, so HOLD_TIMEOUT (not SESSION_TIMEOUT) ends it. */
export const HOLD_GRACE_MS = 5_000;
/** Tokens ended or dropped per tick at most; the rest wait for the next tick (a quarter second later). */
const TICK_BATCH = 1_000;
const REGISTRY = "q:concerts";
/** An idle concert (nobody waiting or active) nobody entered for this long leaves the ticker's registry. */
const REGISTRY_IDLE_MS = 600_000;

type Raw = [string, string, string, number, number, string, number, string] | false | null;

const prefix = (concertId: string) => `q:{${concertId}}:`;
/**
 * The scripts' second key: only the concert's id, in braces so that on a Redis
 * Cluster it hashes to the same slot as the line's keys (a script's keys must
 * share one slot, or Redis refuses it with CROSSSLOT).
 */
const tag = (concertId: string) => `{${concertId}}`;

/** A step of the line found the line gone from Redis (no marker): see queue-rebuild.ts. */
export class LineLostError extends Error {
  constructor(readonly concertId: string) {
    super(`The line of concert ${concertId} is not in Redis`);
    this.name = "LineLostError";
  }
}

/**
 * The statuses and reasons as this module's own strings: a watcher keeps what it
 * last read for seconds, and a copy from each reply was memory and garbage per read.
 */
const NAMES: Record<string, string> = Object.fromEntries([...QUEUE_STATUSES, ...QUEUE_EXPIRIES].map((n) => [n, n]));

function toState(raw: Raw, concertId: string): TokenState | null {
  if (!raw) return null;
  const [token, userId, status, position, expiresAt, reason, now, rate] = raw;
  return {
    token,
    userId,
    concertId,
    status: (NAMES[status] ?? status) as QueueStatus,
    position: Number(position),
    expiresAt: Number(expiresAt),
    expiredReason: reason ? ((NAMES[reason] ?? reason) as QueueExpiry) : null,
    now: Number(now),
    admissionRate: rate === "" ? null : Number(rate),
  };
}

export class RedisQueueStore implements QueueStore {
  /** When this instance last put each concert in the ticker's registry. */
  private readonly registered = new Map<string, number>();

  /**
   * `guarded`: every step first checks the line's marker and fails with
   * LineLostError without it (the durable line, queue-rebuild.ts).
   */
  constructor(
    private readonly redis: RedisClient,
    options: { guarded?: boolean } = {},
  ) {
    const guard = options.guarded ? GUARD : "";
    const define = (name: string, lua: string) => redis.defineCommand(name, { numberOfKeys: 2, lua: guard + lua });
    define("qEnter", ENTER);
    define("qRead", READ);
    define("qExpire", EXPIRE);
    define("qSetHold", SET_HOLD);
    define("qTick", TICK);
    define("qSoldOut", SOLD_OUT);
    define("qDraw", DRAW);
    define("qStats", STATS);
    define("qSellOutKeepingLine", SELL_OUT_KEEPING_LINE);
    define("qSeatsBack", SEATS_BACK);
    redis.defineCommand("qForget", { numberOfKeys: 1, lua: FORGET });
    // Unguarded: a policy may be set before anyone entered, and a line rebuilt follows it.
    redis.defineCommand("qSetPolicy", { numberOfKeys: 2, lua: SET_POLICY });
  }

  async enter(
    concertId: string,
    userId: string,
    newToken: string,
    policy: QueuePolicyValues,
    idleSeconds: number,
    opening?: Opening,
  ): Promise<EnterResult> {
    const r = await this.call<unknown[]>(
      "qEnter",
      prefix(concertId),
      tag(concertId),
      userId,
      newToken,
      policy.maxActiveUsers,
      policy.admitPerSecond,
      policy.activeSessionSeconds * 1000,
      idleSeconds * 1000,
      opening?.opensAt ?? "",
      opening?.drawKey ?? "",
      policy.admissionOpen === false ? 0 : 1,
    );
    if (r[0] === "SOLD_OUT") return { soldOut: true };
    const created = r[1] === 1;
    if (created) await this.register(concertId);
    return {
      soldOut: false,
      created,
      state: toState(r[2] as Raw, concertId)!,
      admitted: ((r[3] as Raw[] | undefined) ?? []).map((x) => toState(x, concertId)!),
      seq: r[4] === undefined || r[4] === null ? undefined : Number(r[4]),
      preQueue: r[5] === 1,
    };
  }

  async read(concertId: string, token: string, idleSeconds: number, touch: boolean): Promise<TokenState | null> {
    const [raw] = await this.call<Raw[]>("qRead", prefix(concertId), tag(concertId), idleSeconds * 1000, touch ? 1 : 0, token);
    return toState(raw, concertId);
  }

  async readMany(concertId: string, tokens: string[], idleSeconds: number): Promise<(TokenState | null)[]> {
    if (tokens.length === 0) return [];
    const raws = await this.call<Raw[]>("qRead", prefix(concertId), tag(concertId), idleSeconds * 1000, 1, ...tokens);
    return raws.map((raw) => toState(raw, concertId));
  }

  async expire(concertId: string, token: string, reason: QueueExpiry, idleSeconds: number) {
    const [changed, raw] = await this.call<[number, Raw]>("qExpire", prefix(concertId), tag(concertId), token, reason, idleSeconds * 1000);
    const state = toState(raw, concertId);
    return state ? { changed: changed === 1, state } : null;
  }

  async setHold(concertId: string, token: string, untilMs: number | null): Promise<void> {
    await this.call<number>("qSetHold", prefix(concertId), tag(concertId), token, untilMs === null ? "" : untilMs, HOLD_GRACE_MS);
  }

  async tick(concertId: string, policy: QueuePolicyValues, idleSeconds: number, opening?: Opening): Promise<TickResult> {
    const [admitted, expired, waiting, active] = await this.call<[Raw[], Raw[], number, number]>(
      "qTick",
      prefix(concertId),
      tag(concertId),
      policy.maxActiveUsers,
      policy.admitPerSecond,
      policy.activeSessionSeconds * 1000,
      idleSeconds * 1000,
      TICK_BATCH,
      opening?.opensAt ?? "",
      policy.admissionOpen === false ? 0 : 1,
    );
    return {
      admitted: admitted.map((x) => toState(x, concertId)!),
      expired: expired.map((x) => toState(x, concertId)!),
      waiting: Number(waiting),
      active: Number(active),
    };
  }

  async setPolicy(concertId: string, policy: QueuePolicyValues): Promise<void> {
    await this.call<number>(
      "qSetPolicy",
      prefix(concertId),
      tag(concertId),
      policy.maxActiveUsers,
      policy.admitPerSecond,
      policy.activeSessionSeconds * 1000,
      policy.admissionOpen === false ? 0 : 1,
    );
  }

  async soldOut(concertId: string): Promise<void> {
    await this.call<number>("qSoldOut", prefix(concertId), tag(concertId));
  }

  async reopen(concertId: string): Promise<void> {
    await this.redis.hdel(`${prefix(concertId)}meta`, "soldout", "waitlist", "credits");
  }

  async sellOutKeepingLine(concertId: string, idleSeconds: number): Promise<TokenState[]> {
    const ended = await this.call<Raw[]>("qSellOutKeepingLine", prefix(concertId), tag(concertId), idleSeconds * 1000);
    return ended.map((x) => toState(x, concertId)!);
  }

  async seatsBack(concertId: string, seats: number, policy: QueuePolicyValues, idleSeconds: number): Promise<TokenState[]> {
    const admitted = await this.call<Raw[]>(
      "qSeatsBack",
      prefix(concertId),
      tag(concertId),
      seats,
      policy.maxActiveUsers,
      policy.admitPerSecond,
      policy.activeSessionSeconds * 1000,
      idleSeconds * 1000,
    );
    return admitted.map((x) => toState(x, concertId)!);
  }

  async endLine(concertId: string): Promise<void> {
    // Two atomic steps: with the waiting list closed first, nobody joins or is admitted in between.
    await this.redis.hdel(`${prefix(concertId)}meta`, "waitlist", "credits");
    await this.soldOut(concertId);
  }

  async counts(concertId: string) {
    const p = prefix(concertId);
    const [waiting, pre, active] = await Promise.all([
      this.redis.zcard(`${p}waiting`),
      this.redis.zcard(`${p}pqdraw`),
      this.redis.zcard(`${p}active`),
    ]);
    return { waiting: waiting + pre, active };
  }

  async draw(concertId: string, commitment: string, opensAt: number | null): Promise<DrawResult | null> {
    const [outcome, ordered] = await this.call<[number, number]>("qDraw", prefix(concertId), concertId, commitment, opensAt ?? "");
    if (outcome === -1) return null;
    return { done: outcome === 1, ordered: Number(ordered) };
  }

  async everEntered(concertId: string): Promise<boolean> {
    return (await this.redis.exists(`${prefix(concertId)}seq`)) === 1;
  }

  async stats(concertId: string): Promise<QueueCounts> {
    const [waiting, active, preQueue, admittedLastMinute] = await this.call<number[]>("qStats", prefix(concertId), concertId);
    return { waiting, active, preQueue, admittedLastMinute };
  }

  async concerts(): Promise<string[]> {
    return this.redis.zrange(REGISTRY, 0, -1);
  }

  async forgetIfIdle(concertId: string): Promise<void> {
    // One key, one script: the entry is removed only if no instance renewed it
    // meanwhile (an instance renews it at least once a second while people enter).
    await this.call<number>("qForget", REGISTRY, concertId, Date.now() - REGISTRY_IDLE_MS);
  }

  async close(): Promise<void> {}

  /** Keeps the concert in the ticker's registry; once a second is enough, not on every entry. */
  private async register(concertId: string): Promise<void> {
    const now = Date.now();
    if (now - (this.registered.get(concertId) ?? 0) < 1_000) return;
    this.registered.set(concertId, now);
    await this.redis.zadd(REGISTRY, now, concertId);
  }

  /** Runs a script defined in the constructor (EVALSHA, loading it again after a Redis restart). */
  private call<T>(name: string, ...args: (string | number)[]): Promise<T> {
    const sent = (this.redis as unknown as Record<string, (...a: (string | number)[]) => Promise<T>>)[name](...args);
    return sent.catch((error: unknown) => {
      if (error instanceof Error && error.message.startsWith("QLOST") && typeof args[1] === "string") {
        throw new LineLostError(args[1].replace(/^\{|\}$/g, ""));
      }
      throw error;
    });
  }
}
