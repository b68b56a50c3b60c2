// Cost of one access-token verification, first sight (a signature check) and
// repeat (the verified-token cache), and of minting one: small loops in one
// process, no server. `npm run build && node dist/bench/access-tokens.bench.js`.
// "serial" awaits each call before the next (the latency); "100 at once" keeps
// 100 calls in flight, as a loaded server does. Wall time and this process's
// CPU time (all threads, WebCrypto's included) per call, best of ROUNDS.
import { createAccessTokens } from "../src/auth/access-tokens";

const N = Number(process.env.N ?? 20_000);
const ROUNDS = 5;
const SECRET = "a-benchmark-secret-that-is-long-enough-0123456789";

type Cost = { wallUs: number; cpuUs: number };

async function measure(n: number, inFlight: number, call: (i: number) => Promise<unknown> | unknown): Promise<Cost> {
  const cpu = process.cpuUsage();
  const t = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < n) await call(next++);
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const wall = performance.now() - t;
  const used = process.cpuUsage(cpu);
  return { wallUs: (wall * 1000) / n, cpuUs: (used.user + used.system) / n };
}

const better = (a: Cost | undefined, b: Cost) => (!a || b.cpuUs < a.cpuUs ? b : a);

async function main() {
  const best: Record<string, Cost | undefined> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const inFlight of [1, 100]) {
      const mode = inFlight === 1 ? "serial" : "100 at once";
      // A fresh instance each time, so that every first verification misses the cache.
      const tokens = createAccessTokens(SECRET, 3600);
      const minted: string[] = new Array(N);
      const id = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;
      best[`issue, ${mode}`] = better(
        best[`issue, ${mode}`],
        await measure(N, inFlight, async (i) => (minted[i] = await tokens.issue({ id: id(i), role: "USER" }))),
      );
      const check = async (token: string) => {
        const r = await tokens.verify(token);
        if ("error" in r) throw new Error(r.error);
      };
      best[`verify uncached, ${mode}`] = better(best[`verify uncached, ${mode}`], await measure(N, inFlight, (i) => check(minted[i])));
      best[`verify cached, ${mode}`] = better(best[`verify cached, ${mode}`], await measure(N, inFlight, (i) => check(minted[i % 100])));
    }
  }
  console.log(`node ${process.version}, ${N} calls per measure, best of ${ROUNDS} rounds`);
  console.log("| call | wall µs per call | CPU µs per call |");
  console.log("|---|---:|---:|");
  for (const [name, c] of Object.entries(best)) console.log(`| ${name} | ${c!.wallUs.toFixed(2)} | ${c!.cpuUs.toFixed(2)} |`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
