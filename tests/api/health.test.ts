// Liveness and readiness: /healthz answers while the process runs; /readyz
// answers 200 only while the database (and Redis, when configured) answer, so a
// load balancer stops sending work to an instance that cannot do it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment, startTestServer, testSettings } from "../support/server";
import { createTestDatabase } from "../support/database";
import { assertRedisAnswers, redisUrl } from "../support/redis";

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
    expect(await getJson(`${deployment.server.url}/readyz`)).toEqual({ status: 200, body: { status: "ready", checks: { database: true } } });
  });
});

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
      expect(await getJson(`${server.url}/readyz`)).toEqual({ status: 503, body: { status: "not ready", checks: { database: false } } });
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
