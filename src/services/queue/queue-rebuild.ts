// Keeps each concert's line in Redis whole (rule 27). Redis is the line's working
// copy; PostgreSQL's journal (queue-journal.ts) is what survives. A line whose
// marker is gone from Redis (queue-rebuild-scripts.ts) is rebuilt from the
// journal: every WAITING token in its order, every ACTIVE one with its session's
// end and its hold, the ended ones of the last two days with their reason.
// The pre-queue (rules 16, 17) comes back in draw order: each token that
// entered before the opening gets its draw key again, recomputed from the
// concert's seed and its user (opening-draw.ts), and once drawn_at says the
// draw is done it stays the head of the line. A waiting list (rule 23) comes
// back sold out with its credits recounted from the seats on sale (END).
//
// Found two ways: a step of the line fails with QLOST (someone used it), and a
// watch every WATCH_MS compares Redis with the journal for every line that has
// people in it (nobody needs to ask for it to come back). One instance rebuilds
// under a lock in Redis; every script of the rebuild checks the lock and the
// marker, so a second instance, or a slow first one, can never load it twice.
import { randomUUID } from "node:crypto";
import type { Pool } from "pg";
import type { Logger } from "../../observability/logger";
import type { RedisClient } from "../../redis/redis-client";
import { serviceUnavailable } from "../../errors/unavailable";
import { OutageLog } from "../../observability/outage-log";
import { BEGIN, END, INVALIDATE, LOAD, OPEN, UNLOCK } from "./queue-rebuild-scripts";
import { JOURNAL_STATEMENT_TIMEOUT_MS } from "./queue-journal";
import { HOLD_GRACE_MS } from "./redis-queue-store";
import { drawKey } from "../opening-draw";

const prefix = (concertId: string) => `q:{${concertId}}:`;
const tag = (concertId: string) => `{${concertId}}`;
const REGISTRY = "q:concerts";
/** Tokens per LOAD script: one script holds Redis for a few ms at most. */
const LOAD_SLICE = 1_000;
/** Ended tokens older than this are not brought back (their hashes would have expired too). */
const ENDED_KEPT_MS = 172_800_000;
const LOCK_MS = 30_000;
export const WATCH_MS = 1_000;

export interface LineKeeperOptions {
  /**
   * How long a rebuild waits after it finds the line lost, so that a journal write
   * already under way (an entry Redis took just before it lost it) is committed
   * or has failed before the journal is read. Longer than a journal statement may take.
   */
  graceMs?: number;
  watchMs?: number;
}

type Scripts = Record<"qlOpen" | "qlBegin" | "qlLoad" | "qlEnd" | "qlUnlock" | "qlInvalidate", (...args: (string | number)[]) => Promise<number>>;

export class LineKeeper {
  private readonly rebuilding = new Map<string, Promise<void>>();
  private readonly owner = randomUUID();
  private readonly graceMs: number;
  private readonly watchMs: number;
  private timer: NodeJS.Timeout | undefined;
  private watching: Promise<void> | undefined;
  private readonly outage: OutageLog;
  /** Lines this instance rebuilt, for the tests and the fault bench. */
  rebuilds = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly pool: Pool,
    private readonly logger: Logger,
    options: LineKeeperOptions = {},
  ) {
    this.graceMs = options.graceMs ?? JOURNAL_STATEMENT_TIMEOUT_MS + 300;
    this.watchMs = options.watchMs ?? WATCH_MS;
    this.outage = new OutageLog(logger, "queue line watch");
    const define = (name: string, lua: string) => redis.defineCommand(name, { numberOfKeys: 2, lua });
    define("qlOpen", OPEN);
    define("qlBegin", BEGIN);
    define("qlLoad", LOAD);
    define("qlEnd", END);
    define("qlUnlock", UNLOCK);
    define("qlInvalidate", INVALIDATE);
  }

  private get scripts(): Scripts {
    return this.redis as unknown as Scripts;
  }

  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.watching = this.watch()
        .then(
          () => this.outage.ok(),
          (error) => this.outage.failed(error),
        )
        .finally(() => {
          this.watching = undefined;
          if (this.timer) this.timer = setTimeout(tick, this.watchMs).unref();
        });
    };
    this.timer = setTimeout(tick, this.watchMs).unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.watching;
    await Promise.allSettled([...this.rebuilding.values()]);
  }

  /**
   * A step of the line found no marker. A line opened for the first time gets one
   * and the step runs again; a line that was lost is rebuilt in the background
   * and the step answers SERVICE_UNAVAILABLE meanwhile (a rebuild outlasts the
   * second an answer may take).
   */
  async ensure(concertId: string): Promise<void> {
    if (!this.rebuilding.has(concertId)) {
      // A line the journal has no token of (new, or opened by another caller a
      // moment ago) has nothing to rebuild: it only needs its marker.
      const { rows } = await this.pool.query<{ empty: boolean }>(
        `WITH opened AS (INSERT INTO queue_lines (concert_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1)
         SELECT EXISTS (SELECT 1 FROM opened)
             OR NOT EXISTS (SELECT 1 FROM queue_tokens WHERE concert_id = $1 AND seq IS NOT NULL) AS empty`,
        [concertId],
      );
      if (rows[0].empty) {
        await this.scripts.qlOpen(prefix(concertId), tag(concertId), randomUUID());
        return;
      }
      // Tokens in the journal were entered after their line had its marker: if
      // the marker is there now, another caller opened the line meanwhile.
      if ((await this.redis.exists(`${prefix(concertId)}epoch`)) === 1) return;
      this.rebuildInBackground(concertId);
    }
    throw serviceUnavailable("redis");
  }

  /** Every line with people in it: is it in Redis, and is Redis's copy at least as new as the journal? */
  async watch(): Promise<void> {
    const { rows } = await this.pool.query<{ concert_id: string; last_seq: string | null }>(
      `SELECT l.concert_id,
              (SELECT max(t.seq) FROM queue_tokens t WHERE t.concert_id = l.concert_id AND t.status <> 'EXPIRED') AS last_seq
         FROM queue_lines l
        WHERE EXISTS (SELECT 1 FROM queue_tokens t WHERE t.concert_id = l.concert_id AND t.status <> 'EXPIRED')`,
    );
    await Promise.all(
      rows.map(async ({ concert_id: concertId, last_seq }) => {
        if (this.rebuilding.has(concertId)) return;
        const p = prefix(concertId);
        const [epoch, seq] = await Promise.all([this.redis.exists(`${p}epoch`), this.redis.get(`${p}seq`)]);
        if (epoch === 0) return this.rebuildInBackground(concertId);
        // Redis's counter only grows; behind the journal, this copy of the line is
        // older than what was acknowledged (a replica that lagged took over).
        if (last_seq !== null && Number(seq ?? 0) < Number(last_seq)) {
          this.logger.warn("queue line in Redis is older than the journal: rebuilding it", { concertId, redisSeq: seq, journalSeq: last_seq });
          if ((await this.scripts.qlInvalidate(p, tag(concertId))) === 1) this.rebuildInBackground(concertId);
        }
      }),
    );
  }

  private rebuildInBackground(concertId: string): void {
    if (this.rebuilding.has(concertId)) return;
    const run = this.rebuild(concertId)
      .then(() => undefined)
      .catch((error) => this.logger.warn("queue line rebuild failed; it is tried again", { concertId, error }))
      .finally(() => this.rebuilding.delete(concertId));
    this.rebuilding.set(concertId, run);
  }

  /** Rebuilds one line unless another instance holds the lock (then that one does). */
  async rebuild(concertId: string): Promise<boolean> {
    const p = prefix(concertId);
    const t = tag(concertId);
    const locked = await this.redis.set(`${p}rebuilding`, this.owner, "PX", LOCK_MS, "NX");
    if (locked !== "OK") return false;
    try {
      await new Promise((resolve) => setTimeout(resolve, this.graceMs));
      const started = Date.now();
      const { rows } = await this.pool.query<{
        token: string;
        user_id: string;
        seq: string;
        status: string;
        session_ends_at: string | null;
        hold_until: string | null;
        expired_reason: string | null;
        pre_queue: boolean;
      }>(
        `SELECT token, user_id, seq, status, session_ends_at, hold_until, expired_reason, pre_queue
           FROM queue_tokens
          WHERE concert_id = $1 AND seq IS NOT NULL
            AND (status <> 'EXPIRED' OR updated_at > now() - make_interval(secs => $2::double precision / 1000))
          ORDER BY seq`,
        [concertId, ENDED_KEPT_MS],
      );
      const line = await this.lineFacts(concertId);
      if ((await this.scripts.qlBegin(p, t, this.owner)) !== 1) return false;
      for (let i = 0; i < rows.length; i += LOAD_SLICE) {
        const args: (string | number)[] = [this.owner, HOLD_GRACE_MS];
        for (const r of rows.slice(i, i + LOAD_SLICE)) {
          // Without a seed (none should be missing) a pre-queue token keeps its place of entry.
          const key = r.pre_queue && r.status === "WAITING" && line.seed ? drawKey(line.seed, r.user_id) : "";
          args.push(r.token, r.user_id, r.seq, r.status, r.session_ends_at ?? 0, r.hold_until ?? 0, r.expired_reason ?? "", key);
        }
        if ((await this.scripts.qlLoad(p, t, ...args)) < 0) throw new Error("lost the rebuild lock");
      }
      const lastSeq = rows.length > 0 ? rows[rows.length - 1].seq : "0";
      // Read last, just before the line is back: a seat put back on sale until
      // now is counted here (its own offer failed: the line was not in Redis).
      const onSale = line.waitlist ? await this.seatsOnSale(concertId) : 0;
      const ended = await this.scripts.qlEnd(
        p,
        t,
        this.owner,
        lastSeq,
        line.soldOut ? 1 : 0,
        randomUUID(),
        line.drawnFor ?? "",
        line.drawnAt ?? 0,
        line.waitlist ? 1 : 0,
        onSale,
      );
      if (ended !== 1) return false;
      await this.redis.zadd(REGISTRY, Date.now(), concertId);
      await this.pool.query(`UPDATE queue_lines SET rebuilt_at = now(), rebuilds = rebuilds + 1 WHERE concert_id = $1`, [concertId]);
      this.rebuilds++;
      const live = rows.filter((r) => r.status !== "EXPIRED").length;
      this.logger.warn("queue line rebuilt from the journal", {
        concertId,
        live,
        ended: rows.length - live,
        drawn: line.drawnFor !== null,
        waitlist: line.waitlist,
        ms: Date.now() - started,
      });
      return true;
    } catch (error) {
      await this.scripts.qlUnlock(p, t, this.owner).catch(() => undefined);
      throw error;
    }
  }

  /**
   * What the line's state besides its tokens comes back from. The draw is done
   * once drawn_at is set (QueueService.openIfDue sets it after the store's
   * draw; a line lost in between is drawn again, to the same order). A line is a
   * waiting list when its concert keeps its line and either the sell-out was
   * recorded (queue_lines.waitlist) or every seat of its dates to come is sold
   * now (a sell-out whose step the loss of Redis interrupted); a line that
   * ended (sold_out) is not.
   */
  private async lineFacts(concertId: string) {
    const { rows } = await this.pool.query<{
      sold_out: boolean;
      waitlist: boolean;
      seed: Buffer | null;
      drawn_for: string | null;
      drawn_at: number | null;
    }>(
      `SELECT coalesce(l.sold_out, false) AS sold_out,
              c.keep_line_after_sell_out AND NOT coalesce(l.sold_out, false) AND (
                coalesce(l.waitlist, false)
                OR (EXISTS (SELECT 1 FROM concert_dates WHERE concert_id = c.id AND starts_at > now())
                    AND NOT EXISTS (SELECT 1 FROM seats s JOIN concert_dates d ON d.id = s.concert_date_id
                                     WHERE d.concert_id = c.id AND d.starts_at > now() AND s.status <> 'SOLD'))
              ) AS waitlist,
              c.draw_seed AS seed,
              CASE WHEN c.drawn_at IS NOT NULL THEN c.draw_commitment END AS drawn_for,
              (extract(epoch FROM c.drawn_at) * 1000)::float8 AS drawn_at
         FROM concerts c LEFT JOIN queue_lines l ON l.concert_id = c.id
        WHERE c.id = $1`,
      [concertId],
    );
    const r = rows[0];
    return {
      soldOut: r?.sold_out ?? false,
      waitlist: r?.waitlist === true,
      seed: r?.seed ?? null,
      drawnFor: r?.drawn_for ?? null,
      drawnAt: r?.drawn_at === null || r?.drawn_at === undefined ? null : Math.round(r.drawn_at),
    };
  }

  /** Seats AVAILABLE now on the concert's dates to come (what a waiting list can offer). */
  private async seatsOnSale(concertId: string): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM seats s JOIN concert_dates d ON d.id = s.concert_date_id
        WHERE d.concert_id = $1 AND d.starts_at > now() AND s.status = 'AVAILABLE'`,
      [concertId],
    );
    return rows[0].n;
  }
}
