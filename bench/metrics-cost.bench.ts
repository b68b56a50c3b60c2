// What metrics cost on the hot paths, in one process: ns per call, best of 5
// runs of 1,000,000 calls. A push written as main wrote it and with its push
// counter (`slot.n++`), and the per-request, per-command and per-query calls.
// Run: npm run build && node dist/bench/metrics-cost.bench.js (see BENCHMARKS.md).
import { Metrics } from "../src/observability/metrics";

const metrics = new Metrics();
const slot = metrics.pushSlot("queueStatusChanged");
const socket = {
  readyState: 1,
  OPEN: 1,
  sent: 0,
  send(text: string) {
    this.sent += text.length;
  },
};
const frameStart = `{"id":"1","type":"next","payload":`;
const result = { data: { queueStatusChanged: { status: "WAITING", queuePosition: 1234, estimatedWaitSeconds: 30 } } };
const pushBefore = (r: unknown) => {
  if (socket.readyState === socket.OPEN) socket.send(`${frameStart}${JSON.stringify(r)}}`);
};
const pushAfter = (r: unknown) => {
  if (socket.readyState !== socket.OPEN) return;
  socket.send(`${frameStart}${JSON.stringify(r)}}`);
  slot.n++;
};

function time(name: string, fn: () => void, n = 1_000_000): void {
  let best = Infinity;
  for (let k = 0; k < 5; k++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - started) / n);
  }
  console.log(`| ${name} | ${best.toFixed(0)} |`);
}

console.log("| call | ns |\n| --- | --- |");
time("a push written by sendNext, as on main", () => pushBefore(result));
time("the same push with its slot.n++", () => pushAfter(result));
time("observeOperation (per HTTP operation)", () => metrics.observeOperation("EnterQueue", 0.002));
time("countError (per error)", () => metrics.countError("QUEUE_NOT_ACTIVE"));
time("redisCall (per Redis command)", () => metrics.redisCall("evalsha", 0.0004, false));
time("dbQuery (per PostgreSQL query)", () => metrics.dbQuery("main", 0.0008, false));
time("holdMade (per hold)", () => metrics.holdMade("c3b7874f-b58c-425f-bfa1-3ea6f476fa4b"));
time("two performance.now() (the wrappers' clock reads)", () => {
  performance.now();
  performance.now();
});
