// Phase 4: 5,000 open queueStatusChanged subscriptions on one instance, each
// its own graphql-ws WebSocket, held idle and then admitted: the delay from
// admission (the token's `a` field in Redis) to the ACTIVE push, and the
// instance's CPU and memory meanwhile.
import WebSocket from "ws";
import { createClient, type Client } from "graphql-ws";
import type Redis from "ioredis";
import { graphql, runCalls } from "./load";
import { cpuWindow, processRssMiB, summarize, type CpuReading, type Summary } from "./stats";
import { sleep, type ServerChild } from "./server";

const ENTER = "mutation($c: ID!) { enterQueue(concertId: $c) { token status queuePosition } }";
const WATCH =
  "subscription($t: String!) { queueStatusChanged(token: $t) { token status queuePosition remainingTime estimatedWaitSeconds expiredReason } }";
const POLICY = "mutation($c: ID!, $i: QueuePolicyInput!) { updateQueuePolicy(concertId: $c, input: $i) { maxActiveUsers admitPerSecond } }";
const OPEN_BATCH = 250;

export interface SubscriptionResult {
  subscriptions: number;
  failed: number;
  openSeconds: number;
  rssBeforeMiB: number;
  idle: CpuReading & { rssMiB: number; pushes: number };
  /** The line moving at `movingPerSecond` admissions with everyone else still waiting (rule 12's cadence at work). */
  moving?: CpuReading & { rssMaxMiB: number; pushes: number; pushesPerSecond: number; admitPerSecond: number; bytesPerSubscriber: number };
  admitting: CpuReading & { rssMaxMiB: number; pushes: number; admittedSeconds: number };
  /** Admission (Redis `a`) to the ACTIVE push received, ms. */
  delayMs: Summary;
  /** Subscribers that never received ACTIVE, and tokens with no admission time in Redis. */
  notPushed: number;
  notAdmitted: number;
  /** Subscriptions that errored or closed, and the first reason. */
  errors: number;
  firstError?: string;
}

interface Watcher {
  client: Client;
  token: string;
  first?: number;
  activeAt?: number;
  messages: number;
  error?: string;
}

export async function measureSubscriptions(o: {
  server: ServerChild;
  redis: Redis;
  concertId: string;
  /** Access tokens of count + 1 users: the first one takes the only ACTIVE place. */
  userTokens: string[];
  adminToken: string;
  admitPerSecond: number;
  idleMs: number;
  /** Admissions per second of the "moving" window (0: none) and its length. */
  movingPerSecond?: number;
  movingMs?: number;
  /** Has the server write a heap snapshot (BENCH_HEAP_SNAPSHOTS): before the sockets open and once they are idle. */
  heapSnapshot?: (label: string) => Promise<void>;
}): Promise<SubscriptionResult> {
  const { server, concertId } = o;
  const enter = (jwt: string) => ({
    body: JSON.stringify({ query: ENTER, variables: { c: concertId } }),
    headers: { authorization: `Bearer ${jwt}` },
  });
  await graphql(server.url, POLICY, { c: concertId, i: { maxActiveUsers: 1 } }, o.adminToken);
  await runCalls(server.url, [enter(o.userTokens[0])], 1);
  const entered = await runCalls(server.url, o.userTokens.slice(1).map(enter), 100);
  const tickets = entered.map((d) => d.enterQueue as { token: string; status: string });
  if (tickets.some((t) => t.status !== "WAITING")) throw new Error("expected every subscriber's token to be WAITING");

  await o.heapSnapshot?.("before");
  const rssBeforeMiB = processRssMiB(server.pid);
  const watchers: Watcher[] = [];
  const t0 = performance.now();
  for (let i = 0; i < tickets.length; i += OPEN_BATCH) {
    const batch = tickets.slice(i, i + OPEN_BATCH).map((t, j) => open(server.wsUrl, o.userTokens[i + j + 1], t.token));
    watchers.push(...(await Promise.all(batch)));
  }
  const openSeconds = Math.round((performance.now() - t0) / 100) / 10;
  const failed = watchers.filter((w) => w.error || w.first === undefined).length;
  const messages = () => watchers.reduce((n, w) => n + w.messages, 0);

  // Idle: the subscriptions are open, nobody is admitted.
  await sleep(2_000);
  let pushes0 = messages();
  const idleCpu = await cpuWindow(server.pid, o.redis);
  let rssIdle = 0;
  for (let t = 0; t < o.idleMs; t += 1_000) {
    await sleep(1_000);
    rssIdle = Math.max(rssIdle, processRssMiB(server.pid));
  }
  const idle = { ...(await idleCpu()), rssMiB: rssIdle, pushes: messages() - pushes0 };
  await o.heapSnapshot?.("idle");

  // The line moves slowly: everyone else still waiting, pushed on rule 12's cadence.
  let moving: SubscriptionResult["moving"];
  if (o.movingPerSecond && o.movingMs) {
    await graphql(server.url, POLICY, { c: concertId, i: { maxActiveUsers: 10_000, admitPerSecond: o.movingPerSecond } }, o.adminToken);
    await sleep(15_000); // a whole far-back cycle (13.5 s) before measuring
    const m0 = messages();
    const movingCpu = await cpuWindow(server.pid, o.redis);
    let rssMax = 0;
    for (let t = 0; t < o.movingMs; t += 1_000) {
      await sleep(1_000);
      rssMax = Math.max(rssMax, processRssMiB(server.pid));
    }
    const reading = await movingCpu();
    const pushes = messages() - m0;
    moving = {
      ...reading,
      rssMaxMiB: rssMax,
      pushes,
      pushesPerSecond: Math.round(pushes / reading.seconds),
      admitPerSecond: o.movingPerSecond,
      bytesPerSubscriber: Math.round(((rssMax - rssBeforeMiB) * 1024 * 1024) / watchers.length),
    };
  }

  // Admission: raise the policy and wait for every ACTIVE push (bounded).
  pushes0 = messages();
  const admitCpu = await cpuWindow(server.pid, o.redis);
  await graphql(server.url, POLICY, { c: concertId, i: { maxActiveUsers: 1_000_000, admitPerSecond: o.admitPerSecond } }, o.adminToken);
  const deadline = performance.now() + 10_000 + (tickets.length / o.admitPerSecond) * 3_000;
  let rssMax = 0;
  while (watchers.some((w) => !w.error && w.activeAt === undefined) && performance.now() < deadline) {
    await sleep(250);
    rssMax = Math.max(rssMax, processRssMiB(server.pid));
  }
  const admittingCpu = await admitCpu();
  const pushes = messages() - pushes0;

  // When each token was admitted, as Redis recorded it.
  const pipeline = o.redis.pipeline();
  for (const w of watchers) pipeline.hget(`q:{${concertId}}:t:${w.token}`, "a");
  const admittedAt = ((await pipeline.exec()) ?? []).map(([, v]) => Number(v));
  const delays: number[] = [];
  watchers.forEach((w, i) => {
    if (w.activeAt !== undefined && admittedAt[i] > 0) delays.push(w.activeAt - admittedAt[i]);
  });
  const admitted = admittedAt.filter((a) => a > 0);
  const admittedSeconds = admitted.length ? (Math.max(...admitted) - Math.min(...admitted)) / 1000 : NaN;

  await Promise.all(watchers.map((w) => w.client.dispose()));
  return {
    subscriptions: watchers.length - failed,
    failed,
    openSeconds,
    rssBeforeMiB,
    idle,
    moving,
    admitting: { ...admittingCpu, rssMaxMiB: rssMax, pushes, admittedSeconds: Math.round(admittedSeconds * 10) / 10 },
    delayMs: summarize(delays),
    notPushed: watchers.filter((w) => w.activeAt === undefined).length,
    notAdmitted: admittedAt.filter((a) => !(a > 0)).length,
    errors: watchers.filter((w) => w.error).length,
    firstError: watchers.find((w) => w.error)?.error,
  };
}

/** One WebSocket, one subscription; resolves once the first ticket arrived (or it failed). */
function open(url: string, jwt: string, token: string): Promise<Watcher> {
  return new Promise((resolve) => {
    const client = createClient({
      url,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${jwt}` },
      retryAttempts: 0,
      lazy: true,
    });
    const w: Watcher = { client, token, messages: 0 };
    const timer = setTimeout(() => {
      w.error ??= "no first ticket within 30 s";
      resolve(w);
    }, 30_000);
    client.subscribe<{ queueStatusChanged: { status: string } }>(
      { query: WATCH, variables: { t: token } },
      {
        next(result) {
          const now = Date.now();
          w.messages++;
          if (result.errors?.length) w.error ??= result.errors[0].message;
          const status = result.data?.queueStatusChanged.status;
          if (status === "ACTIVE") w.activeAt ??= now;
          if (w.first === undefined) {
            w.first = now;
            clearTimeout(timer);
            resolve(w);
          }
        },
        error(error) {
          w.error ??= describe(error);
          clearTimeout(timer);
          resolve(w);
        },
        complete() {
          if (w.activeAt === undefined) w.error ??= "completed before ACTIVE";
        },
      },
    );
  });
}

/** graphql-ws reports a closed socket as a CloseEvent and GraphQL errors as an array. */
function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (Array.isArray(error)) return (error as { message?: string }[]).map((e) => e.message).join("; ");
  if (error && typeof error === "object" && "code" in error) {
    const e = error as { code: number; reason?: string };
    return `socket closed ${e.code} ${e.reason ?? ""}`.trim();
  }
  return String(error);
}
