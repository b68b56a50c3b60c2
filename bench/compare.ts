// `npm run bench:compare -- --base=REV [--pairs=8]`: the buying phase of
// `npm run bench` (holds, then pays, 100 clients, distinct seats and users) for
// a base commit and this work tree, alternated in pairs.
//
// Order matters on this machine: whichever run comes first in a pair was 7–10%
// faster in pays, whichever commit it was, because the machine slows over a
// batch (BENCHMARKS.md, 2026-12-03, later). So the pairs go A B, B A, A B, … and
// each side runs first in half of them; the summary gives, beside the medians
// and the median ratio over the pairs, how much faster the first run of a pair
// was, so that the order's share can be told from the change's.
//
// The base is built in a work tree of its own (`git worktree` in the system's
// temporary folder, removed at the end) with this tree's node_modules and
// front-end builds, and its own Prisma client generated from its own schema.
// Each side runs its own bench, migrations and functions; when the bench's own
// code differs between the two, the summary says so.
// Every run's JSON and the summary go to bench/results/compare/<stamp>/.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadavg, tmpdir } from "node:os";
import { sleep } from "./lib/server";

const ROOT = resolve(__dirname, "../..");
const OUT_ROOT = join(ROOT, "bench/results/compare");

interface Options {
  base: string;
  pairs: number;
  pauseSeconds: number;
}

function readOptions(argv: string[]): Options {
  const o: Options = { base: "", pairs: 8, pauseSeconds: 20 };
  for (const arg of argv) {
    const m = /^--(base|pairs|pause-seconds)=(.+)$/.exec(arg);
    if (!m) throw new Error(`unknown argument ${arg}: --base=REV, --pairs=N (default 8), --pause-seconds=S (default 20)`);
    if (m[1] === "base") o.base = m[2];
    else {
      const n = Number(m[2]);
      if (!Number.isInteger(n) || n < 1 || n > 100) throw new Error(`--${m[1]} takes a whole number from 1 to 100`);
      if (m[1] === "pairs") o.pairs = n;
      else o.pauseSeconds = n;
    }
  }
  if (!o.base) throw new Error("--base=REV is required: the commit to compare this work tree with");
  return o;
}

const git = (...args: string[]) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();
const log = (text: string) => console.log(`[compare ${new Date().toISOString().slice(11, 19)}] ${text}`);

/** What a run's JSON says of its holds and pays. */
interface Figures {
  holds: number;
  holdP99: number;
  pays: number;
  payP50: number;
  payP99: number;
  /** PostgreSQL's CPU during the pays ÷ the pays, ms. */
  pgMsPerPay: number;
  /** The service's CPU during the pays ÷ the pays, ms. */
  serviceMsPerPay: number;
  load: string;
  at: string;
}

function figuresOf(file: string): Figures {
  const d = JSON.parse(readFileSync(file, "utf8"));
  const { hold, pay } = d.buying;
  if (hold.errors > 0 || pay.errors > 0) throw new Error(`${file}: ${hold.errors} hold and ${pay.errors} pay errors`);
  return {
    holds: hold.rps,
    holdP99: hold.p99,
    pays: pay.rps,
    payP50: pay.p50,
    payP99: pay.p99,
    pgMsPerPay: Math.round((pay.waits.postgresCpuMs / Math.max(1, pay.count)) * 100) / 100,
    serviceMsPerPay: Math.round((((pay.cpu.serverCpuPct ?? Number.NaN) * 10 * pay.cpu.seconds) / Math.max(1, pay.count)) * 100) / 100,
    load: d.machine.loadAverage,
    at: d.date.slice(11, 16),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A work tree of `rev`, built: this tree's node_modules and front-end builds, its own Prisma client. */
function prepareBase(rev: string, dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  git("worktree", "prune");
  git("worktree", "add", "--detach", dir, rev);
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  if (existsSync(join(ROOT, "build"))) cpSync(join(ROOT, "build"), join(dir, "build"), { recursive: true });
  execFileSync("npm", ["run", "generate"], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
  execFileSync("npm", ["run", "build"], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
}

function runBench(tree: string, into: string): Figures {
  execFileSync("node", ["dist/bench/queue.bench.js"], {
    cwd: tree,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, BENCH_PHASES: "buying", BENCH_PROFILE: "never" },
  });
  cpSync(join(tree, "bench/results/queue-latest.json"), into);
  return figuresOf(into);
}

const n = (x: number) => x.toLocaleString("en-US", { maximumFractionDigits: 2 });

async function main() {
  const o = readOptions(process.argv.slice(2));
  const base = git("rev-parse", "--short", o.base);
  const head = git("rev-parse", "--short", "HEAD");
  const dirty = git("status", "--porcelain", "--", "src", "prisma").length > 0;
  const headName = dirty ? `${head}+changes` : head;
  const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 12);
  const out = join(OUT_ROOT, stamp);
  const baseTree = join(tmpdir(), `concert-tickets-compare-${base}`);
  mkdirSync(out, { recursive: true });
  log(`base ${base} in ${baseTree}; head ${headName} (this work tree); ${o.pairs} pairs, load ${loadavg()[0].toFixed(2)}`);
  // Each side runs its own bench (and migrations): a change to the bench's code counts as well.
  const harnessChanged = git("diff", "--name-only", o.base, "--", "bench/queue.bench.ts", "bench/lib").length > 0;
  if (harnessChanged) log(`the buying bench's own code differs between ${base} and this work tree: its change is measured too`);
  // The head's runs write this tree's bench/results/queue-latest.json: put back what it held.
  const latest = join(ROOT, "bench/results/queue-latest.json");
  const latestBefore = existsSync(latest) ? readFileSync(latest) : undefined;
  const sides = { base: { tree: baseTree, name: base }, head: { tree: ROOT, name: headName } } as const;
  const pairs: { first: "base" | "head"; base: Figures; head: Figures }[] = [];
  try {
    prepareBase(o.base, baseTree);
    for (let k = 0; k < o.pairs; k++) {
      const first = k % 2 === 0 ? "base" : "head";
      const order = first === "base" ? (["base", "head"] as const) : (["head", "base"] as const);
      const got: Partial<Record<"base" | "head", Figures>> = {};
      for (const side of order) {
        got[side] = runBench(sides[side].tree, join(out, `queue-buying-${sides[side].name}-${k + 1}.json`));
        log(`pair ${k + 1} ${sides[side].name}: holds ${got[side].holds}/s, pays ${got[side].pays}/s (p99 ${got[side].payP99} ms)`);
        await sleep(o.pauseSeconds * 1000);
      }
      pairs.push({ first, base: got.base!, head: got.head! });
    }
  } finally {
    if (existsSync(baseTree)) git("worktree", "remove", "--force", baseTree);
    if (latestBefore) writeFileSync(latest, latestBefore);
  }

  const ratio = (k: keyof Figures) => median(pairs.map((p) => (p.head[k] as number) / (p.base[k] as number)));
  const firstOverSecond = (k: "holds" | "pays") => median(pairs.map((p) => (p.first === "base" ? p.base[k] / p.head[k] : p.head[k] / p.base[k])));
  const rows = pairs.map(
    (p, i) =>
      `| ${i + 1} ${p[p.first].at} | ${sides[p.first].name} | ${n(p.base.holds)} / ${n(p.head.holds)} | ${n(p.base.pays)} / ${n(p.head.pays)} | ${n(p.base.payP99)} / ${n(p.head.payP99)} | ${n(p.base.pgMsPerPay)} / ${n(p.head.pgMsPerPay)} | ${n(p.base.serviceMsPerPay)} / ${n(p.head.serviceMsPerPay)} |`,
  );
  const med = (side: "base" | "head", k: keyof Figures) => n(median(pairs.map((p) => p[side][k] as number)));
  const md = [
    `Buying phase, ${base} against ${headName}, ${o.pairs} pairs alternated A B, B A, … (\`npm run bench:compare -- --base=${o.base} --pairs=${o.pairs}\`,`,
    `each run \`BENCH_PHASES=buying BENCH_PROFILE=never node dist/bench/queue.bench.js\`), ${new Date().toISOString().slice(0, 16)} UTC.`,
    "",
    `| pair (UTC) | first | holds/s ${base} / ${headName} | pays/s | pay p99 ms | PostgreSQL CPU ÷ pays, ms | service CPU ÷ pays, ms |`,
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    `| median | | ${med("base", "holds")} / ${med("head", "holds")} | ${med("base", "pays")} / ${med("head", "pays")} | ${med("base", "payP99")} / ${med("head", "payP99")} | ${med("base", "pgMsPerPay")} / ${med("head", "pgMsPerPay")} | ${med("base", "serviceMsPerPay")} / ${med("head", "serviceMsPerPay")} |`,
    "",
    `Per pair, ${headName} ÷ ${base} at the median: holds ${n(ratio("holds"))}, pays ${n(ratio("pays"))}, pay p99 ${n(ratio("payP99"))}, PostgreSQL CPU per pay ${n(ratio("pgMsPerPay"))}, the service's CPU per pay ${n(ratio("serviceMsPerPay"))}.`,
    `The first run of a pair ÷ the second, at the median: holds ${n(firstOverSecond("holds"))}, pays ${n(firstOverSecond("pays"))} (the order's share).`,
    ...(harnessChanged
      ? ["", `The bench's own code (bench/queue.bench.ts, bench/lib) differs between the two: its change is in these figures too.`]
      : []),
    "",
  ].join("\n");
  writeFileSync(join(out, "summary.md"), md);
  console.log(`\n${md}`);
  log(`wrote ${join("bench/results/compare", stamp)}/`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
