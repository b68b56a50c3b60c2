// A closed-loop HTTP load generator: `concurrency` virtual clients, each
// sending its next request as soon as the previous one is answered, over
// keep-alive connections (one per client). Only answers received after the
// warm-up and before the end count.
import { Agent, request } from "node:http";
import type Redis from "ioredis";
import { cpuWindow, summarize, type CpuReading, type Summary } from "./stats";

export interface Call {
  body: string;
  headers?: Record<string, string>;
  /** Called with the parsed answer of a successful call. */
  onData?: (data: Record<string, unknown>) => void;
}

export interface LoadOptions {
  url: string;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** The next call of virtual client `client`; null: that client has nothing left to do. */
  next: (client: number) => Call | null;
  serverPid?: number;
  redis?: Redis;
}

export interface LoadResult extends Summary {
  concurrency: number;
  rps: number;
  errors: number;
  firstError?: string;
  /** Virtual clients that ran out of work before the end (should be 0). */
  exhausted: number;
  cpu: CpuReading;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency, maxFreeSockets: o.concurrency });
  const target = new URL("/graphql", o.url);
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let exhausted = 0;
  const start = performance.now();
  const measureFrom = start + o.warmupMs;
  const end = measureFrom + o.durationMs;
  let cpu: Promise<() => Promise<CpuReading>> | undefined;
  let reading: Promise<CpuReading> | undefined;
  // CPU is read over the measured window exactly, not over the answers still in flight after it.
  const warmup = setTimeout(() => (cpu = cpuWindow(o.serverPid, o.redis)), o.warmupMs);
  const stop = setTimeout(() => (reading = cpu?.then((done) => done())), o.warmupMs + o.durationMs);

  const client = async (id: number) => {
    while (performance.now() < end) {
      const call = o.next(id);
      if (!call) {
        exhausted++;
        return;
      }
      const t0 = performance.now();
      const { status, text } = await post(agent, target, call);
      const t1 = performance.now();
      let ok = status === 200;
      let error = ok ? undefined : `HTTP ${status}: ${text.slice(0, 200)}`;
      if (ok) {
        const parsed = parseJson(text);
        if (parsed.errors?.length || !parsed.data) {
          ok = false;
          error = parsed.errors?.[0]?.message ?? text.slice(0, 200);
        } else call.onData?.(parsed.data);
      }
      if (t1 < measureFrom || t1 > end) continue; // answered outside the measured window
      if (ok) latencies.push(t1 - t0);
      else {
        errors++;
        firstError ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, i) => client(i)));
  clearTimeout(warmup);
  clearTimeout(stop);
  const cpuReading = await (reading ?? (await (cpu ?? cpuWindow(o.serverPid, o.redis)))());
  agent.destroy();
  return {
    concurrency: o.concurrency,
    rps: Math.round(latencies.length / (o.durationMs / 1000)),
    ...summarize(latencies),
    errors,
    firstError,
    exhausted,
    cpu: cpuReading,
  };
}

function parseJson(text: string): { data?: Record<string, unknown>; errors?: { message: string }[] } {
  try {
    return JSON.parse(text);
  } catch {
    return { errors: [{ message: `not JSON: ${text.slice(0, 200)}` }] };
  }
}

function post(agent: Agent, target: URL, call: Call): Promise<{ status: number; text: string }> {
  return new Promise((done) => {
    const req = request(
      target,
      {
        agent,
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(call.body), ...call.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", (e) => done({ status: 0, text: String(e) }));
      },
    );
    req.on("error", (e) => done({ status: 0, text: String(e) }));
    req.end(call.body);
  });
}

/** One GraphQL call outside a load run (setup, admin). Throws on any error. */
export async function graphql<T = Record<string, unknown>>(url: string, query: string, variables: object, token?: string): Promise<T> {
  const agent = new Agent({ keepAlive: false });
  const body = JSON.stringify({ query, variables });
  const { status, text } = await post(agent, new URL("/graphql", url), {
    body,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const parsed = JSON.parse(text || "{}") as { data?: T; errors?: { message: string }[] };
  if (status !== 200 || parsed.errors?.length || !parsed.data) throw new Error(`GraphQL call failed (${status}): ${text.slice(0, 300)}`);
  return parsed.data;
}

/** Runs every call once, `concurrency` at a time, over keep-alive connections; returns the parsed data in order. */
export async function runCalls(url: string, calls: Call[], concurrency: number): Promise<Record<string, unknown>[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL("/graphql", url);
  const out: Record<string, unknown>[] = new Array(calls.length);
  let next = 0;
  const worker = async () => {
    while (next < calls.length) {
      const i = next++;
      const { status, text } = await post(agent, target, calls[i]);
      const parsed = JSON.parse(text || "{}") as { data?: Record<string, unknown>; errors?: unknown[] };
      if (status !== 200 || parsed.errors?.length || !parsed.data) throw new Error(`call ${i} failed (${status}): ${text.slice(0, 300)}`);
      out[i] = parsed.data;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return out;
}
