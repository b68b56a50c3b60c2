// Watching the service during the rush, as an admin and as the database sees it:
// queueStats every 250 ms (waiting and ACTIVE counts: the ACTIVE ceiling is
// checked on every sample), and once a second the holds left past their time.
import { Agent, get } from "node:http";
import { Client } from "pg";
import { CallRecorder, HttpGraphql } from "./http-client";

const STATS = "query($c: ID!) { queueStats(concertId: $c) { waiting active } }";

export interface QueueSamples {
  /** ms after the opening; waiting, active; failed samples are left out and counted. */
  t: number[];
  waiting: number[];
  active: number[];
  failed: number;
  firstError?: string;
  /** queueStats latency, ms. */
  ms: number[];
}

export class QueueSampler {
  readonly samples: QueueSamples = { t: [], waiting: [], active: [], failed: 0, ms: [] };
  private readonly http: HttpGraphql;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    url: string,
    private readonly concertId: string,
    private readonly adminJwt: string,
    private readonly t0: () => number,
    private readonly everyMs = 250,
  ) {
    this.http = new HttpGraphql([url], 1, new CallRecorder(0));
  }

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        const began = Date.now();
        const a = await this.http.call<{ queueStats: { waiting: number; active: number } }>(
          0,
          "queueStats",
          STATS,
          { c: this.concertId },
          {
            authorization: `Bearer ${this.adminJwt}`,
          },
        );
        if (a.data) {
          this.samples.t.push(Date.now() - this.t0());
          this.samples.waiting.push(a.data.queueStats.waiting);
          this.samples.active.push(a.data.queueStats.active);
          this.samples.ms.push(Math.round(a.ms * 10) / 10);
        } else {
          this.samples.failed++;
          this.samples.firstError ??= `${a.code}: ${a.message}`;
        }
        await new Promise((r) => setTimeout(r, Math.max(0, this.everyMs - (Date.now() - began))));
      }
    })();
  }

  async stop(): Promise<QueueSamples> {
    this.stopped = true;
    await this.loop;
    this.http.close();
    return this.samples;
  }
}

export interface HoldSamples {
  t: number[];
  /** HELD now, and HELD more than 2 s past held_until (reservations; seats). */
  held: number[];
  staleReservations: number[];
  staleSeats: number[];
}

export const STALE_HOLDS_SQL = `SELECT
  (SELECT count(*)::int FROM reservations WHERE status = 'HELD') AS held,
  (SELECT count(*)::int FROM reservations WHERE status = 'HELD' AND held_until < now() - interval '2 seconds') AS "staleReservations",
  (SELECT count(*)::int FROM seats WHERE status = 'HELD' AND held_until < now() - interval '2 seconds') AS "staleSeats"`;

export class HoldSampler {
  readonly samples: HoldSamples = { t: [], held: [], staleReservations: [], staleSeats: [] };
  private timer: NodeJS.Timeout | undefined;
  private client: Client;
  private busy = false;

  constructor(
    url: string,
    private readonly t0: () => number,
  ) {
    this.client = new Client({ connectionString: url });
    this.client.on("error", () => undefined); // the database is dropped at the end; a failed sample is skipped
  }

  async start(): Promise<void> {
    await this.client.connect();
    this.timer = setInterval(() => void this.sample(), 1_000);
  }

  async stop(): Promise<HoldSamples> {
    if (this.timer === undefined) return this.samples;
    clearInterval(this.timer);
    this.timer = undefined;
    while (this.busy) await new Promise((r) => setTimeout(r, 20));
    await this.client.end().catch(() => undefined);
    return this.samples;
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const { rows } = await this.client.query<{ held: number; staleReservations: number; staleSeats: number }>(STALE_HOLDS_SQL);
      this.samples.t.push(Date.now() - this.t0());
      this.samples.held.push(rows[0].held);
      this.samples.staleReservations.push(rows[0].staleReservations);
      this.samples.staleSeats.push(rows[0].staleSeats);
    } catch {
      // skipped
    } finally {
      this.busy = false;
    }
  }
}

export interface HealthSamples {
  /** Per instance: ms after the opening and the latency of GET /healthz (NaN: no answer within 10 s). */
  t: number[][];
  ms: number[][];
}

/**
 * GET /healthz on every instance every 250 ms over a kept-alive connection:
 * the answer needs nothing but the event loop, so its latency is the time a
 * request waits behind everything else the instance is doing.
 */
export class HealthSampler {
  readonly samples: HealthSamples;
  private stopped = false;
  private loops: Promise<void>[] = [];
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });

  constructor(
    private readonly urls: string[],
    private readonly t0: () => number,
    private readonly everyMs = 250,
  ) {
    this.samples = { t: urls.map(() => []), ms: urls.map(() => []) };
  }

  start(): void {
    this.loops = this.urls.map(async (url, k) => {
      while (!this.stopped) {
        const began = Date.now();
        const t = performance.now();
        const ok = await new Promise<boolean>((done) => {
          const req = get(`${url}/healthz`, { agent: this.agent, timeout: 10_000 }, (res) => {
            res.resume();
            res.on("end", () => done(res.statusCode === 200));
          });
          req.on("timeout", () => req.destroy());
          req.on("error", () => done(false));
        });
        this.samples.t[k].push(began - this.t0());
        this.samples.ms[k].push(ok ? Math.round((performance.now() - t) * 10) / 10 : NaN);
        await new Promise((r) => setTimeout(r, Math.max(0, this.everyMs - (Date.now() - began))));
      }
    });
  }

  async stop(): Promise<HealthSamples> {
    this.stopped = true;
    await Promise.all(this.loops);
    this.agent.destroy();
    return this.samples;
  }
}
