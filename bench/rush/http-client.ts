// GraphQL over HTTP for the crowd: a bounded keep-alive pool per server
// instance (what a load balancer keeps open), every call timed from the moment
// the user makes it, so time spent waiting for a free connection counts as
// latency, as it would for a real client. Every answer is recorded.
import { Agent, request } from "node:http";

export interface Answer<T> {
  data?: T;
  /** extensions.code of the first error; HTTP_<status>, NETWORK or TIMEOUT when there was no GraphQL answer. */
  code?: string;
  message?: string;
  extensions?: Record<string, unknown>;
  ms: number;
}

/**
 * Columnar records of every call: op, start (ms after the opening), duration,
 * answer code, and the part of the duration spent waiting in the generator for
 * a free keep-alive connection (-1 for timings that were not HTTP calls).
 */
export interface CallLog {
  ops: string[];
  codes: string[];
  op: number[];
  start: number[];
  ms: number[];
  code: number[];
  wait: number[];
}

const TIMEOUT_MS = 30_000;

export class CallRecorder {
  readonly log: CallLog = { ops: [], codes: ["OK"], op: [], start: [], ms: [], code: [], wait: [] };
  private readonly opIndex = new Map<string, number>();
  private readonly codeIndex = new Map<string, number>([["OK", 0]]);

  constructor(private readonly t0: number) {}

  record(op: string, startedWall: number, ms: number, code: string | undefined, waitMs = -1): void {
    let o = this.opIndex.get(op);
    if (o === undefined) this.opIndex.set(op, (o = this.log.ops.push(op) - 1));
    const name = code ?? "OK";
    let c = this.codeIndex.get(name);
    if (c === undefined) this.codeIndex.set(name, (c = this.log.codes.push(name) - 1));
    this.log.op.push(o);
    this.log.start.push(startedWall - this.t0);
    this.log.ms.push(Math.round(ms * 100) / 100);
    this.log.code.push(c);
    this.log.wait.push(waitMs < 0 ? -1 : Math.round(waitMs * 100) / 100);
  }
}

export class HttpGraphql {
  private readonly agents: Agent[];
  private readonly targets: URL[];

  constructor(
    urls: string[],
    socketsPerInstance: number,
    private readonly recorder: CallRecorder,
  ) {
    this.targets = urls.map((u) => new URL("/graphql", u));
    this.agents = urls.map(() => new Agent({ keepAlive: true, maxSockets: socketsPerInstance, maxFreeSockets: socketsPerInstance }));
  }

  async call<T>(instance: number, op: string, query: string, variables: object, headers: Record<string, string>): Promise<Answer<T>> {
    const wall = Date.now();
    const t = performance.now();
    const connected = { at: -1 };
    const answer = await this.post<T>(instance, JSON.stringify({ query, variables }), headers, connected);
    answer.ms = performance.now() - t;
    this.recorder.record(op, wall, answer.ms, answer.code, connected.at < 0 ? -1 : connected.at - t);
    return answer;
  }

  /** Records a timing that did not go through call() (WebSocket subscriptions). */
  record(op: string, startedWall: number, ms: number, code: string | undefined): void {
    this.recorder.record(op, startedWall, ms, code);
  }

  close(): void {
    for (const a of this.agents) a.destroy();
  }

  /** `connected.at` is set when the agent gives the request a connection (at once when one is free or may be opened). */
  private post<T>(instance: number, body: string, headers: Record<string, string>, connected: { at: number }): Promise<Answer<T>> {
    return new Promise((done) => {
      let settled = false;
      const finish = (a: Answer<T>) => {
        if (settled) return;
        settled = true;
        done(a);
      };
      const req = request(
        this.targets[instance],
        {
          agent: this.agents[instance],
          method: "POST",
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers },
          timeout: TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => finish(parse<T>(res.statusCode ?? 0, Buffer.concat(chunks).toString("utf8"))));
          res.on("error", (e) => finish({ code: "NETWORK", message: String(e), ms: 0 }));
        },
      );
      req.once("socket", () => {
        connected.at = performance.now();
      });
      req.on("timeout", () => {
        req.destroy();
        finish({ code: "TIMEOUT", message: `no answer within ${TIMEOUT_MS} ms`, ms: 0 });
      });
      req.on("error", (e) => finish({ code: "NETWORK", message: String(e), ms: 0 }));
      req.end(body);
    });
  }
}

function parse<T>(status: number, text: string): Answer<T> {
  let parsed: { data?: T | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };
  try {
    parsed = JSON.parse(text);
  } catch {
    return { code: `HTTP_${status}`, message: text.slice(0, 200), ms: 0 };
  }
  const e = parsed.errors?.[0];
  if (e) return { code: String(e.extensions?.code ?? `HTTP_${status}`), message: e.message, extensions: e.extensions, ms: 0 };
  if (status !== 200 || !parsed.data) return { code: `HTTP_${status}`, message: text.slice(0, 200), ms: 0 };
  return { data: parsed.data, ms: 0 };
}
