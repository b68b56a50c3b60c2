// The rush's figures, from every call the crowd made, every user's ending, the
// sales PostgreSQL recorded, the queue and process samples: per-operation
// throughput and latency, admission-to-push delay, tickets per second, time to
// sold out, errors by code, and one-second series for the chart.
import type { CallLog } from "./http-client";
import type { TokenFacts } from "./checks";
import type { ProcessSeries } from "./processes";
import { quantiles, type Quantiles } from "./quantiles";
import type { HealthSamples, QueueSamples } from "./samplers";
import type { UserResult } from "./user-flow";

/** In report order; wsConnect (socket + connection_ack) and queueStatusChanged (subscribe to first ticket) are timed from the subscribe call. */
export const OPS = [
  "signIn",
  "enterQueue",
  "wsConnect",
  "queueStatusChanged",
  "leaveQueue",
  "seats",
  "reserveSeats",
  "chargeBalance",
  "pay",
] as const;

export interface OpFigure extends Quantiles {
  op: string;
  /** Answers per second: over the seconds the operation was in use, and the busiest second. */
  meanPerSecond: number;
  peakPerSecond: number;
  errors: Record<string, number>;
  /** Of each call's time, the wait in the generator for a free keep-alive connection (HTTP calls only). */
  connectionWait?: Quantiles;
}

export interface Sale {
  /** ms after the opening */
  at: number;
  seats: number;
}

export interface Series {
  /** Second k covers [k, k+1) s after the opening. */
  seconds: number;
  perSecond: Record<string, number[]>;
  /** queueStatusChanged messages the crowd received per second. */
  pushes: number[];
  /** p99 latency of the answers of each second, ms: every operation; holds and pays. */
  p99All: number[];
  p99HoldPay: number[];
  /** Slowest GET /healthz of each second, ms: how long the busiest instance's event loop made a request wait. */
  healthMax: number[];
  waiting: number[];
  active: number[];
  tickets: number[];
  /** % of one core per process group. */
  cpu: Record<string, number[]>;
}

export interface Merged {
  byOp: Map<string, { start: number[]; ms: number[]; code: string[]; wait: number[] }>;
}

export function mergeCalls(logs: CallLog[]): Merged {
  const byOp = new Map<string, { start: number[]; ms: number[]; code: string[]; wait: number[] }>();
  for (const log of logs) {
    for (let k = 0; k < log.op.length; k++) {
      const name = log.ops[log.op[k]];
      let e = byOp.get(name);
      if (!e) byOp.set(name, (e = { start: [], ms: [], code: [], wait: [] }));
      e.start.push(log.start[k]);
      e.ms.push(log.ms[k]);
      e.code.push(log.codes[log.code[k]]);
      if (log.wait[k] >= 0) e.wait.push(log.wait[k]);
    }
  }
  return { byOp };
}

export function opFigures(m: Merged): OpFigure[] {
  const out: OpFigure[] = [];
  const names = [...OPS.filter((o) => m.byOp.has(o)), ...[...m.byOp.keys()].filter((o) => !(OPS as readonly string[]).includes(o))];
  for (const op of names) {
    const e = m.byOp.get(op)!;
    const errors: Record<string, number> = {};
    const perSecond = new Map<number, number>();
    let first = Infinity;
    let last = -Infinity;
    e.ms.forEach((ms, k) => {
      if (e.code[k] !== "OK") errors[e.code[k]] = (errors[e.code[k]] ?? 0) + 1;
      const done = e.start[k] + ms;
      first = Math.min(first, e.start[k]);
      last = Math.max(last, done);
      const s = Math.floor(done / 1000);
      perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
    });
    const span = Math.max(1, (last - first) / 1000);
    out.push({
      op,
      ...quantiles(e.ms),
      meanPerSecond: Math.round(e.ms.length / span),
      peakPerSecond: Math.max(0, ...perSecond.values()),
      errors,
      ...(e.wait.length > 0 ? { connectionWait: quantiles(e.wait) } : {}),
    });
  }
  return out;
}

export function errorCounts(m: Merged): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of m.byOp.values()) for (const c of e.code) if (c !== "OK") out[c] = (out[c] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1]));
}

/** Admission (Redis `a`) to the ACTIVE push, for subscribers whose first ticket said WAITING. */
export function pushDelays(users: UserResult[], tokens: TokenFacts[]): Quantiles & { alreadyActiveAtSubscribe: number } {
  const a = new Map(tokens.map((t) => [t.token, t.a]));
  const delays: number[] = [];
  let already = 0;
  for (const u of users) {
    const s = u.sub;
    if (!s || s.activeAt === undefined) continue;
    if (s.firstStatus !== "WAITING") {
      already++;
      continue;
    }
    const admitted = a.get(u.token!) ?? 0;
    if (admitted > 0) delays.push(s.activeAt - admitted);
  }
  return { ...quantiles(delays), alreadyActiveAtSubscribe: already };
}

export function ticketFigures(sales: Sale[]) {
  const perSecond = new Map<number, number>();
  let total = 0;
  for (const s of sales) {
    const k = Math.floor(s.at / 1000);
    perSecond.set(k, (perSecond.get(k) ?? 0) + s.seats);
    total += s.seats;
  }
  // The busiest one-second window anywhere (sliding), besides the calendar seconds.
  let sliding = 0;
  let lo = 0;
  let inWindow = 0;
  for (let hi = 0; hi < sales.length; hi++) {
    inWindow += sales[hi].seats;
    while (sales[hi].at - sales[lo].at >= 1000) inWindow -= sales[lo++].seats;
    sliding = Math.max(sliding, inWindow);
  }
  // When a share of all the tickets sold had been sold (s after the opening).
  const shareAt = (share: number) => {
    let acc = 0;
    for (const s of sales) if ((acc += s.seats) >= share * total) return Math.round(s.at / 100) / 10;
    return NaN;
  };
  const first = sales[0]?.at ?? NaN;
  const last = sales[sales.length - 1]?.at ?? NaN;
  return {
    total,
    payments: sales.length,
    peakPerSecond: Math.max(0, ...perSecond.values()),
    peakSlidingSecond: sliding,
    /** From the opening to the last sale. */
    meanPerSecond: Math.round(total / Math.max(1, last / 1000)),
    halfSoldSeconds: shareAt(0.5),
    ninetyPctSoldSeconds: shareAt(0.9),
    firstSaleSeconds: Math.round(first / 100) / 10,
    lastSaleSeconds: Math.round(last / 100) / 10,
  };
}

export function buildSeries(
  m: Merged,
  sales: Sale[],
  queue: QueueSamples,
  proc: ProcessSeries,
  endMs: number,
  pushesPerSecond: number[],
  health: HealthSamples,
): Series {
  const seconds = Math.max(1, Math.ceil(endMs / 1000));
  const zeros = () => new Array<number>(seconds).fill(0);
  const perSecond: Record<string, number[]> = {};
  const lat: number[][] = Array.from({ length: seconds }, () => []);
  const latHP: number[][] = Array.from({ length: seconds }, () => []);
  for (const [op, e] of m.byOp) {
    if (op === "wsConnect" || op === "queueStatusChanged") continue; // not answers to requests
    const row = (perSecond[op] = zeros());
    e.ms.forEach((ms, k) => {
      const s = Math.floor((e.start[k] + ms) / 1000);
      if (s < 0 || s >= seconds) return;
      row[s]++;
      lat[s].push(ms);
      if (op === "reserveSeats" || op === "pay") latHP[s].push(ms);
    });
  }
  const p99 = (xs: number[]) => (xs.length ? quantiles(xs).p99 : NaN);
  // The slowest /healthz answer of each second on any instance (a missing answer counts as 10 s).
  const healthMax = new Array<number>(seconds).fill(NaN);
  health.t.forEach((ts, k) => {
    ts.forEach((t, i) => {
      const s = Math.floor(t / 1000);
      if (s < 0 || s >= seconds) return;
      const v = Number.isFinite(health.ms[k][i]) ? health.ms[k][i] : 10_000;
      healthMax[s] = Number.isNaN(healthMax[s]) ? v : Math.max(healthMax[s], v);
    });
  });
  const tickets = zeros();
  for (const s of sales) {
    const k = Math.floor(s.at / 1000);
    if (k >= 0 && k < seconds) tickets[k] += s.seats;
  }
  const waiting = new Array<number>(seconds).fill(NaN);
  const active = new Array<number>(seconds).fill(NaN);
  queue.t.forEach((t, k) => {
    const s = Math.floor(t / 1000);
    if (s < 0 || s >= seconds) return;
    waiting[s] = Math.max(Number.isNaN(waiting[s]) ? 0 : waiting[s], queue.waiting[k]);
    active[s] = Math.max(Number.isNaN(active[s]) ? 0 : active[s], queue.active[k]);
  });
  const cpu: Record<string, number[]> = {};
  const groups = [...new Set(proc.labels.map((l) => l.group))];
  for (const g of [...groups, "machine", "other"]) cpu[g] = new Array<number>(seconds).fill(NaN);
  for (let i = 1; i < proc.t.length; i++) {
    const s = Math.floor(proc.t[i] / 1000) - 1;
    if (s < 0 || s >= seconds) continue;
    const dt = (proc.t[i] - proc.t[i - 1]) / 1000;
    for (const g of groups) {
      let used = 0;
      proc.labels.forEach((l, k) => {
        if (l.group === g) {
          const d = proc.cpu[i][k] - proc.cpu[i - 1][k];
          if (Number.isFinite(d)) used += d;
        }
      });
      cpu[g][s] = Math.round((used / dt) * 100);
    }
    const cores = (proc.total[i] - proc.total[i - 1]) / (dt * 100);
    cpu.machine[s] = Math.round(((proc.busy[i] - proc.busy[i - 1]) / Math.max(1, proc.total[i] - proc.total[i - 1])) * 100 * Math.round(cores));
    cpu.other[s] = Math.max(0, cpu.machine[s] - groups.reduce((a, g) => a + cpu[g][s], 0));
  }
  return {
    seconds,
    perSecond,
    pushes: Array.from({ length: seconds }, (_, k) => pushesPerSecond[k] ?? 0),
    p99All: lat.map(p99),
    healthMax,
    p99HoldPay: latHP.map(p99),
    waiting,
    active,
    tickets,
    cpu,
  };
}

export function outcomes(users: UserResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const u of users) out[u.outcome] = (out[u.outcome] ?? 0) + 1;
  return out;
}
