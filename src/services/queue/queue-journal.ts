// The waiting room's journal in PostgreSQL (rule 27): what a Redis that lost its
// data is rebuilt from (queue-rebuild.ts). One row per token (queue_tokens),
// upserted; a status only moves forward, so rows may arrive in any order.
//
// Writes are group-committed: whatever is recorded while the batches in flight
// are being written goes out as the next batch, one INSERT … SELECT FROM unnest(…)
// statement, so under a rush an entry costs a share of one round trip. Two
// batches are in flight at once (one committing while the next is sent), each
// in token order, so two batches touching the same rows lock them in the same
// order and cannot deadlock. A
// `record` resolves only once its rows are committed: enterQueue answers after
// its token is durable, never before. `note` is for what Redis already decided
// (admissions, endings, holds): a failed batch keeps those rows and writes them
// with the next one.
import { Pool } from "pg";
import { named } from "../../db/named";
import type { QueueExpiry, QueueStatus } from "./queue.types";

export interface JournalRow {
  token: string;
  concertId: string;
  /** "" when the writer does not know it (a hold): the entry's row has it. */
  userId: string;
  /** The order of entry; only the entry itself knows it. */
  seq?: number;
  status: QueueStatus;
  /** ACTIVE: when the session ends (epoch ms). */
  sessionEndsAt?: number;
  /** A hold's end (epoch ms); 0: the hold was released; undefined: unchanged. */
  holdUntil?: number;
  reason?: QueueExpiry;
  /** The token entered the pre-queue (rule 16): the rebuild puts it back in draw order. */
  preQueue?: boolean;
}

/** Rows per statement at most: a larger backlog goes out in several. */
const BATCH = 5_000;
/** A statement that has not finished by then fails (the server cancels it): nothing waits long on an outage. */
export const JOURNAL_STATEMENT_TIMEOUT_MS = 900;
const RETRY_MS = 250;
/** Batches written at once (the journal's pool has as many connections). */
export const IN_FLIGHT = 2;

const RANK: Record<QueueStatus, number> = { WAITING: 0, ACTIVE: 1, EXPIRED: 2 };

/** Two rows about one token as one: the later status wins, and nothing known is forgotten. */
export function mergeRows(a: JournalRow, b: JournalRow): JournalRow {
  const forward = RANK[b.status] >= RANK[a.status];
  return {
    token: a.token,
    concertId: a.concertId,
    userId: a.userId || b.userId,
    seq: a.seq ?? b.seq,
    status: forward ? b.status : a.status,
    sessionEndsAt: b.sessionEndsAt ?? a.sessionEndsAt,
    holdUntil: b.holdUntil ?? a.holdUntil,
    reason: forward ? (b.reason ?? a.reason) : a.reason,
    preQueue: a.preQueue || b.preQueue || undefined,
  };
}

const UPSERT = `
INSERT INTO queue_tokens AS t (token, concert_id, user_id, seq, status, session_ends_at, hold_until, expired_reason, pre_queue)
SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[], $8::text[], $9::boolean[])
ON CONFLICT (token) DO UPDATE SET
  user_id = CASE WHEN t.user_id = '' THEN EXCLUDED.user_id ELSE t.user_id END,
  seq = coalesce(t.seq, EXCLUDED.seq),
  status = CASE WHEN array_position(ARRAY['WAITING','ACTIVE','EXPIRED'], EXCLUDED.status)
                   > array_position(ARRAY['WAITING','ACTIVE','EXPIRED'], t.status) THEN EXCLUDED.status ELSE t.status END,
  session_ends_at = coalesce(EXCLUDED.session_ends_at, t.session_ends_at),
  hold_until = coalesce(EXCLUDED.hold_until, t.hold_until),
  expired_reason = coalesce(t.expired_reason, EXCLUDED.expired_reason),
  pre_queue = t.pre_queue OR EXCLUDED.pre_queue,
  updated_at = now()`;

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

export class QueueJournal {
  private pending = new Map<string, JournalRow>();
  private waiters: Waiter[] = [];
  /** Rows of failed batches that Redis already acted on: written with the next batch. */
  private retry = new Map<string, JournalRow>();
  private readonly writing = new Set<Promise<void>>();
  private starting = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Batches and rows written, for the benchmark and the metrics. */
  readonly stats = { batches: 0, rows: 0, failures: 0, mostInFlight: 0 };

  constructor(readonly pool: Pool) {}

  /** A pool of the journal's own: requests waiting for connections never delay an entry's commit. */
  static createPool(url: string, max = IN_FLIGHT): Pool {
    const pool = new Pool({
      connectionString: url,
      max,
      connectionTimeoutMillis: JOURNAL_STATEMENT_TIMEOUT_MS,
      // Server-side: a batch commits within this or not at all (the rebuild's grace
      // relies on it). No client-side query timeout: on a loaded machine it fires
      // while the answer waits in the event loop, failing batches that committed.
      statement_timeout: JOURNAL_STATEMENT_TIMEOUT_MS,
      idleTimeoutMillis: 30_000,
    });
    pool.on("error", () => undefined);
    pool.on("connect", (client) => client.on("error", () => undefined));
    return pool;
  }

  /** Resolves once every row is committed; rejects (rows dropped) when the batch fails. */
  record(rows: JournalRow[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      for (const row of rows) this.add(this.pending, row);
      this.waiters.push({ resolve, reject });
      this.kick();
    });
  }

  /** Like record, but a failure keeps the rows for the next batch; resolves either way. */
  note(rows: JournalRow[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    for (const row of rows) this.add(this.retry, row);
    return new Promise<void>((resolve) => {
      this.waiters.push({ resolve, reject: () => resolve() });
      this.kick();
    });
  }

  /** Rows waiting for a write that failed (0 once PostgreSQL has them). */
  get backlog(): number {
    return this.retry.size;
  }

  /** Writes what is pending and stops. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    while (this.writing.size > 0 || this.starting) await Promise.all([...this.writing, new Promise((r) => setImmediate(r))]);
    if (this.pending.size + this.retry.size > 0) await this.flush().catch(() => undefined);
  }

  private add(into: Map<string, JournalRow>, row: JournalRow): void {
    const known = into.get(row.token);
    into.set(row.token, known ? mergeRows(known, row) : row);
  }

  private kick(): void {
    // A batch starts on the next turn of the event loop, so the requests arriving in this one join it.
    if (this.starting || this.writing.size >= IN_FLIGHT || this.waiters.length === 0) return;
    this.starting = true;
    setImmediate(() => {
      this.starting = false;
      if (this.writing.size >= IN_FLIGHT || this.waiters.length === 0) return;
      const batch: Promise<void> = this.flush().finally(() => {
        this.writing.delete(batch);
        this.kick();
      });
      this.writing.add(batch);
      this.stats.mostInFlight = Math.max(this.stats.mostInFlight, this.writing.size);
      // and the next batch may start while this one commits
      this.kick();
    });
  }

  private async flush(): Promise<void> {
    const waiters = this.waiters;
    const rows = this.pending;
    const retried = this.retry;
    this.waiters = [];
    this.pending = new Map();
    this.retry = new Map();
    // A token in both (an entry and its admission in one batch) becomes one row.
    for (const row of retried.values()) this.add(rows, row);
    // In token order: two batches in flight lock their common rows in the same order.
    const all = [...rows.values()].sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
    try {
      for (let i = 0; i < all.length; i += BATCH) await this.write(all.slice(i, i + BATCH));
      this.stats.batches++;
      this.stats.rows += all.length;
      for (const w of waiters) w.resolve();
    } catch (error) {
      this.stats.failures++;
      // What Redis already did is written later; an entry fails (its caller undoes it).
      for (const row of retried.values()) this.add(this.retry, row);
      for (const w of waiters) w.reject(error);
      this.scheduleRetry();
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.retry.size === 0) return;
      this.waiters.push({ resolve: () => undefined, reject: () => undefined });
      this.kick();
    }, RETRY_MS);
    this.retryTimer.unref();
  }

  private async write(rows: JournalRow[]): Promise<void> {
    await this.pool.query(
      named(UPSERT, [
        rows.map((r) => r.token),
        rows.map((r) => r.concertId),
        rows.map((r) => r.userId),
        rows.map((r) => r.seq ?? null),
        rows.map((r) => r.status),
        rows.map((r) => r.sessionEndsAt ?? null),
        rows.map((r) => r.holdUntil ?? null),
        rows.map((r) => r.reason ?? null),
        rows.map((r) => r.preQueue === true),
      ]),
    );
  }
}
