// Liveness and readiness: /healthz answers while the process runs; /readyz
// answers 200 only while the database (and Redis, when configured) answer, so a
// load balancer stops sending work to an instance that cannot do it.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startDeployment, startTestServer, testSettings } from "../support/server";
import { createTestDatabase } from "../support/database";
import { assertRedisAnswers, redisUrl } from "../support/redis";
import { notRun } from "../support/stores";

const getJson = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as { status: string; checks?: Record<string, boolean> } };
};

describe("without Redis", () => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  beforeAll(async () => {
    deployment = await startDeployment();
  });
  afterAll(() => deployment.close());

  it("answers /healthz with 200", async () => {
    expect(await getJson(`${deployment.server.url}/healthz`)).toEqual({ status: 200, body: { status: "ok" } });
  });

  it("answers /readyz with 200 while the database answers", async () => {
    expect(await getJson(`${deployment.server.url}/readyz`)).toEqual({
      status: 200,
      body: { status: "ready", checks: { database: true }, down: [] },
    });
  });
});

if (!redisUrl) notRun("with Redis", "REDIS_URL is not set");
describe.runIf(redisUrl)("with Redis", () => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  beforeAll(async () => {
    await assertRedisAnswers();
    deployment = await startDeployment({ redis: true });
  });
  afterAll(() => deployment?.close());

  it("answers /readyz with 200 while the database and Redis answer", async () => {
    const { status, body } = await getJson(`${deployment.server.url}/readyz`);
    expect({ status, checks: body.checks }).toEqual({ status: 200, checks: { database: true, redis: true } });
  });
});

describe("when the database is gone", () => {
  it("answers /readyz with 503 once its database is dropped, and /healthz still with 200", async () => {
    const db = await createTestDatabase();
    const server = await startTestServer({ databaseUrl: db.url, settings: testSettings() });
    try {
      expect((await getJson(`${server.url}/readyz`)).status).toBe(200);
      await db.drop();
      expect(await getJson(`${server.url}/readyz`)).toEqual({
        status: 503,
        body: { status: "not ready", checks: { database: false }, down: ["database"] },
      });
      expect((await getJson(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it("answers /readyz with 503 when nothing listens at the database's address", async () => {
    // Port 1 on this machine: the connection is refused at once.
    const server = await startTestServer({ databaseUrl: "postgresql://postgres@127.0.0.1:1/nothing", settings: testSettings() });
    try {
      expect((await getJson(`${server.url}/readyz`)).status).toBe(503);
    } finally {
      await server.close();
    }
  });
});

// Our own redis-server on a port of this suite's own (never the shared one), stopped and
// started again by the test. Runs where Redis runs (REDIS_URL set: CI installs redis-server).
if (!redisUrl) notRun("when Redis is gone", "REDIS_URL is not set (the test starts a redis-server of its own)");
describe.runIf(redisUrl)("when Redis is gone", () => {
  const port = 7200 + (process.pid % 50);
  let redis: ChildProcess | undefined;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let server: Awaited<ReturnType<typeof startTestServer>>;

  async function startRedis(): Promise<void> {
    redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    const ping = () =>
      new Promise<string>((resolve) => execFile("redis-cli", ["-p", String(port), "ping"], (_e, out) => resolve(String(out).trim())));
    await vi.waitFor(
      async () => {
        if ((await ping()) !== "PONG") throw new Error(`redis-server on port ${port} does not answer yet`);
      },
      { timeout: 10_000, interval: 100 },
    );
  }
  async function stopRedis(): Promise<void> {
    const child = redis;
    redis = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  beforeAll(async () => {
    await startRedis();
    db = await createTestDatabase();
    server = await startTestServer({ databaseUrl: db.url, settings: testSettings({ REDIS_URL: `redis://127.0.0.1:${port}` }) });
  });
  afterAll(async () => {
    await server?.close();
    await stopRedis();
    await db?.drop();
  });

  it("answers /readyz with 503 naming Redis while it is down, and with 200 again once it is back", { timeout: 60_000 }, async () => {
    expect(await getJson(`${server.url}/readyz`)).toMatchObject({ status: 200, body: { checks: { database: true, redis: true } } });
    await stopRedis();
    await expect
      .poll(() => getJson(`${server.url}/readyz`), { timeout: 15_000, interval: 200 })
      .toMatchObject({
        status: 503,
        body: { checks: { database: true, redis: false } },
      });
    // Liveness is not readiness: the process still runs.
    expect((await getJson(`${server.url}/healthz`)).status).toBe(200);
    await startRedis();
    await expect
      .poll(() => getJson(`${server.url}/readyz`), { timeout: 20_000, interval: 200 })
      .toMatchObject({
        status: 200,
        body: { checks: { database: true, redis: true } },
      });
  });
});
