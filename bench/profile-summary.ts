// Summarises a V8 .cpuprofile (node --cpu-prof): where the CPU time went, by
// function (self time) and by module (a package under node_modules, a file of
// ours, or Node's own internals). Run alone: node dist/bench/profile-summary.js <file>
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Microseconds of the monotonic clock V8's profiler stamps samples with (process.hrtime's). */
export const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

export interface ProfileLine {
  name: string;
  pct: number;
}

export interface ProfileSummary {
  file: string;
  seconds: number;
  /** Share of the time the process was busy (not idle). */
  busyPct: number;
  /** Percentages below are of the busy time. */
  functions: ProfileLine[];
  modules: ProfileLine[];
  /** Time spent inside (self + callees) a few functions that mark stages of a request. */
  stages: ProfileLine[];
  /** Time spent inside each of our own functions (self + the library code they call synchronously). */
  ours: ProfileLine[];
  /** Who calls the busiest native functions (socket writes, hashing): the nearest package or file of ours. */
  nativeCallers: { name: string; pct: number; callers: ProfileLine[] }[];
}

/** Frames whose inclusive time tells the stages of a request apart: [label, function name, url]. */
const STAGES: [string, RegExp, RegExp][] = [
  ["Apollo request pipeline (processGraphQLRequest)", /^processGraphQLRequest$/, /@apollo\/server/],
  ["graphql-js execute (synchronous part)", /^execute$/, /graphql\/execution\/execute\.js/],
  ["query complexity (getComplexity)", /^getComplexity$/, /graphql-query-complexity/],
  // Our verify (its cache) and fast-jwt's verifier, the HMAC included.
  ["access token check (cache, fast-jwt)", /^(verify|check|verifyToken)$/, /access-tokens\.js|\/fast-jwt\//],
  ["graphql-js parse (Apollo's document cache missed)", /^parse$/, /graphql\/language\/parser\.js/],
  ["Redis commands (ioredis, with their socket writes)", /^sendCommand$/, /ioredis/],
  ["PostgreSQL (pg, Prisma)", /./, /\/pg\/lib\/|@prisma\/client/],
  ["socket writes (HTTP answers, Redis, PostgreSQL)", /^writeGeneric$|^writevGeneric$/, /stream_base_commons/],
];

/** `window`: only the samples taken between these monotonicMicros() readings (the load, not the start-up). */
export function summarizeProfile(file: string, window?: { from: number; to: number }, top = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    if (!window || (at >= window.from && at <= window.to)) self.set(id, (self.get(id) ?? 0) + dt);
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  let idle = 0;
  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === "(idle)") {
      idle += us;
      continue;
    }
    const name = `${functionName || "(anonymous)"} ${url ? `${shortUrl(url)}:${lineNumber + 1}` : ""}`.trim();
    fn.set(name, (fn.get(name) ?? 0) + us);
    const m = moduleOf(url, functionName);
    mod.set(m, (mod.get(m) ?? 0) + us);
  }
  const busy = total - idle;

  // Inclusive times: of the stage functions and of our own functions; and the
  // nearest non-Node caller of each native function.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stage = new Map<string, number>();
  const ours = new Map<string, number>();
  const native = new Map<string, Map<string, number>>();
  for (const [id, us] of self) {
    const leaf = byId.get(id)!.callFrame;
    if (leaf.functionName === "(idle)") continue;
    const inStages = new Set<string>();
    const inOurs = new Set<string>();
    let caller: string | undefined;
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const { functionName: f, url, lineNumber } = byId.get(cur)!.callFrame;
      for (const [label, fn, at] of STAGES) if (fn.test(f) && at.test(url)) inStages.add(label);
      if (url.includes("/dist/src/")) inOurs.add(`${f || "(anonymous)"} ${shortUrl(url)}:${lineNumber + 1}`);
      if (!caller && cur !== id && url && !url.startsWith("node:")) caller = `${f || "(anonymous)"} ${shortUrl(url)}`;
    }
    // Each sample counts once per stage or function, even when it recurses.
    for (const label of inStages) stage.set(label, (stage.get(label) ?? 0) + us);
    for (const label of inOurs) ours.set(label, (ours.get(label) ?? 0) + us);
    if (!leaf.url && !leaf.functionName.startsWith("(")) {
      const callers = native.get(leaf.functionName) ?? new Map<string, number>();
      native.set(leaf.functionName, callers);
      const c = caller ?? "(no JavaScript caller)";
      callers.set(c, (callers.get(c) ?? 0) + us);
    }
  }

  const lines = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, pct: round((us / busy) * 100) }));
  return {
    file,
    seconds: round(total / 1e6),
    busyPct: round((busy / total) * 100),
    functions: lines(fn, top),
    modules: lines(mod, top),
    stages: STAGES.map(([label]) => ({ name: label, pct: round(((stage.get(label) ?? 0) / busy) * 100) })),
    ours: lines(ours, top),
    nativeCallers: [...native.entries()]
      .map(([name, callers]) => ({ name, us: [...callers.values()].reduce((a, b) => a + b, 0), callers }))
      .sort((a, b) => b.us - a.us)
      .slice(0, 3)
      .map(({ name, us, callers }) => ({
        name,
        pct: round((us / busy) * 100),
        callers: [...callers.entries()]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 3)
          .map(([c, v]) => ({ name: c, pct: round((v / us) * 100) })),
      })),
  };
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) return url.slice(nm + "node_modules/".length);
  const dist = url.indexOf("/dist/");
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, "");
}

function moduleOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "(native / V8 builtins)";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const parts = url.slice(nm + "node_modules/".length).split("/");
    return parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (url.startsWith("node:")) {
    const name = url.slice(5).replace(/^internal\//, "");
    return `node:${name.split("/")[0].replace(/_.*$/, "")}`;
  }
  const dist = url.indexOf("/dist/");
  return dist >= 0 ? `ours: ${url.slice(dist + "/dist/".length)}` : url;
}

const round = (x: number) => Math.round(x * 10) / 10;

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write("usage: node dist/bench/profile-summary.js <file.cpuprofile>\n");
    process.exit(2);
  }
  const s = summarizeProfile(file);
  process.stdout.write(`${s.file}: ${s.seconds} s sampled, busy ${s.busyPct}%\n`);
  const lists = [
    ["self time by function", s.functions],
    ["self time by module", s.modules],
    ["inclusive time by stage", s.stages],
    ["inclusive time of our functions", s.ours],
  ] as const;
  for (const [title, list] of lists) {
    process.stdout.write(`\n${title} (% of busy time)\n`);
    for (const l of list) process.stdout.write(`  ${l.pct.toFixed(1).padStart(5)}%  ${l.name}\n`);
  }
  process.stdout.write("\nbusiest native functions, by nearest caller\n");
  for (const n of s.nativeCallers) {
    process.stdout.write(`  ${n.pct.toFixed(1).padStart(5)}%  ${n.name}: ${n.callers.map((c) => `${c.name} (${c.pct}%)`).join("; ")}\n`);
  }
}
