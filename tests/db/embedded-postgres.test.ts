import { describe, it, expect, afterAll } from "vitest";
import { Client } from "pg";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { startEmbeddedPostgres } from "../../src/db/embedded-postgres";

const projectRoot = fileURLToPath(new URL("../..", import.meta.url));

// Under /tmp, not the home folder: the server runs as the OS user `postgres`
// when we are root, and it cannot enter /root.
const root = await mkdtemp("/tmp/embedded-pg-test-");
const dataDir = path.join(root, "data", "postgres");
afterAll(() => rm(root, { recursive: true, force: true }));

async function sql<T extends Record<string, unknown>>(url: string, text: string): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

const logs: string[] = [];
const log = (m: string) => logs.push(m);

describe("startEmbeddedPostgres", () => {
  it("initialises a cluster, serves the tickets database, and reuses it on restart", { timeout: 120_000 }, async () => {
    let t = Date.now();
    const first = await startEmbeddedPostgres({ dataDir, log });
    console.info(`embedded postgres: first start (initdb) ${Date.now() - t} ms`);
    try {
      expect(first.url).toMatch(/^postgresql:\/\/[^@]+@127\.0\.0\.1:\d+\/tickets$/);
      expect(await sql(first.url, "SELECT 1 AS one")).toEqual([{ one: 1 }]);
      expect(await sql(first.url, "SHOW server_encoding")).toEqual([{ server_encoding: "UTF8" }]);
      await sql(first.url, "CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('still here')");
    } finally {
      await first.stop();
    }
    await first.stop(); // idempotent
    expect(existsSync(path.join(dataDir, "PG_VERSION"))).toBe(true);

    t = Date.now();
    const second = await startEmbeddedPostgres({ dataDir, log });
    console.info(`embedded postgres: second start (reuse) ${Date.now() - t} ms`);
    try {
      expect(await sql(second.url, "SELECT v FROM kept")).toEqual([{ v: "still here" }]);
    } finally {
      await Promise.all([second.stop(), second.stop()]);
    }
  });

  it("starts despite a stale postmaster.pid left by a killed run", { timeout: 120_000 }, async () => {
    // Runs after the test above, on the same (stopped) cluster.
    await writeFile(path.join(dataDir, "postmaster.pid"), `999999\n${dataDir}\n0\n5433\n`);
    const pg = await startEmbeddedPostgres({ dataDir, log });
    try {
      expect(await sql(pg.url, "SELECT count(*)::int AS n FROM kept")).toEqual([{ n: 1 }]);
    } finally {
      await pg.stop();
    }
  });

  it("moves to a free port when the requested default is taken", { timeout: 120_000 }, async () => {
    const a = await startEmbeddedPostgres({ dataDir, log });
    const otherDir = path.join(root, "other");
    let b: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
    try {
      b = await startEmbeddedPostgres({ dataDir: otherDir, log });
      expect(new URL(b.url).port).not.toBe(new URL(a.url).port);
      expect(await sql(b.url, "SELECT 1 AS one")).toEqual([{ one: 1 }]);
    } finally {
      await b?.stop();
      await a.stop();
    }
  });

  it("lets a process that started and stopped it end cleanly, with no exit-hook error", { timeout: 120_000 }, async () => {
    // A process of its own, as `npm test` and `npm start` are: the package's exit
    // hook runs when that process ends (it threw "done is not a function").
    const dir = path.join(projectRoot, "data", "test");
    await mkdir(dir, { recursive: true });
    const script = path.join(dir, `embedded-stop-${process.pid}.mjs`);
    await build({
      stdin: {
        contents: `import { startEmbeddedPostgres } from ${JSON.stringify(path.join(projectRoot, "src/db/embedded-postgres.ts"))};
          const pg = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)} });
          await pg.stop();
          console.log("stopped");`,
        resolveDir: projectRoot,
        loader: "ts",
      },
      bundle: true,
      platform: "node",
      format: "esm",
      packages: "external",
      outfile: script,
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
      logLevel: "silent",
    });
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [script], { cwd: projectRoot });
      expect(stdout.trim()).toBe("stopped");
      expect(stderr).toBe("");
    } finally {
      await rm(script, { force: true });
    }
  });
});
