// A load-generator process: plays its share of the crowd and reports every
// call and every user's ending to the orchestrator (rush.bench) over IPC. Its
// users arrive on the shared schedule (ms after the opening t0, the same wall
// clock in every process); a late arrival is launched at once and its lateness
// recorded, so an overloaded generator shows instead of silently slowing down.
import { CallRecorder, HttpGraphql, type CallLog } from "./http-client";
import { playUser, type FlowEnv, type UserResult } from "./user-flow";
import type { PlannedUser } from "./plan";

export interface WorkerPlan {
  users: PlannedUser[];
  urls: string[];
  wsUrls: string[];
  concertId: string;
  dateId: string;
  popularSeats: number;
  password: string;
  seed: number;
  socketsPerInstance: number;
  seatMap: "list" | "compact";
  /** How long after the opening users may still be busy, ms. */
  runMs: number;
  /** A scheduled opening this many ms after t0 (the crowd arrives in the pre-queue before it); 0: none. */
  openingMs: number;
}

export type ToWorker = { type: "plan"; plan: WorkerPlan } | { type: "go"; t0: number };

export interface WorkerProgress {
  type: "progress";
  launched: number;
  finished: number;
  subscriptions: number;
}

export interface WorkerResult {
  type: "result";
  calls: CallLog;
  users: UserResult[];
  /** How late arrivals were launched, ms: p99 and max. */
  lateP99: number;
  lateMax: number;
  strayRejections: number;
  firstStray?: string;
  /** queueStatusChanged messages received per second after the opening. */
  pushesPerSecond: number[];
}

export type FromWorker = { type: "ready" } | WorkerProgress | WorkerResult;

let plan: WorkerPlan | undefined;
/** A stray rejection (a socket's error event with nobody waiting) must not end the generator: count it. */
let strayRejections = 0;
let firstStray: string | undefined;
process.on("unhandledRejection", (reason) => {
  strayRejections++;
  firstStray ??= reason instanceof Error ? reason.message : String((reason as { message?: string })?.message ?? reason);
});

process.on("message", (message: ToWorker) => {
  if (message.type === "plan") {
    plan = message.plan;
    send({ type: "ready" });
  } else if (message.type === "go" && plan) {
    run(plan, message.t0).then(
      (result) => {
        // The result is large: leave only once it is written to the channel.
        process.send?.(result, undefined, {}, () => {
          process.disconnect?.();
          setTimeout(() => process.exit(0), 100);
        });
      },
      (error) => {
        process.stderr.write(`crowd worker failed: ${error instanceof Error ? error.stack : String(error)}\n`);
        process.exit(1);
      },
    );
  }
});

function send(message: FromWorker): void {
  process.send?.(message);
}

async function run(p: WorkerPlan, t0: number): Promise<WorkerResult> {
  const recorder = new CallRecorder(t0);
  const http = new HttpGraphql(p.urls, p.socketsPerInstance, recorder);
  const live = { subscriptions: 0 };
  const pushesPerSecond: number[] = [];
  const pushes = {
    count(wall: number) {
      const k = Math.floor((wall - t0) / 1000);
      if (k < 0 || k > 3_600) return;
      while (pushesPerSecond.length <= k) pushesPerSecond.push(0);
      pushesPerSecond[k]++;
    },
  };
  const env: FlowEnv = {
    http,
    wsUrls: p.wsUrls,
    concertId: p.concertId,
    dateId: p.dateId,
    popularSeats: p.popularSeats,
    seatMap: p.seatMap,
    password: p.password,
    seed: p.seed,
    deadline: t0 + p.runMs,
    opensAt: p.openingMs > 0 ? t0 + p.openingMs : undefined,
    live,
    pushes,
  };
  const users = [...p.users].sort((a, b) => a.at - b.at);
  const results: UserResult[] = [];
  const flows: Promise<void>[] = [];
  const late: number[] = [];
  let next = 0;
  let finished = 0;

  const progress = setInterval(() => send({ type: "progress", launched: next, finished, subscriptions: live.subscriptions }), 1_000);
  await new Promise<void>((allLaunched) => {
    const launch = () => {
      const now = Date.now() - t0;
      while (next < users.length && users[next].at <= now) {
        const u = users[next++];
        late.push(now - u.at);
        // Open loop: the flow runs on its own; the schedule never waits for it.
        flows.push(
          playUser(u, env).then((r) => {
            results.push(r);
            finished++;
          }),
        );
      }
      if (next >= users.length) return allLaunched();
      setTimeout(launch, Math.max(0, Math.min(20, users[next].at - (Date.now() - t0))));
    };
    setTimeout(launch, Math.max(0, t0 - Date.now()));
  });
  await Promise.all(flows);
  clearInterval(progress);
  http.close();
  late.sort((a, b) => a - b);
  return {
    type: "result",
    calls: recorder.log,
    users: results.sort((a, b) => a.i - b.i),
    lateP99: late.length ? late[Math.min(late.length - 1, Math.ceil(0.99 * late.length) - 1)] : 0,
    lateMax: late.length ? late[late.length - 1] : 0,
    strayRejections,
    firstStray,
    pushesPerSecond,
  };
}
