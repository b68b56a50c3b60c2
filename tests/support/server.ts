// Real server instances for tests: the composition root on a fresh database,
// listening on a free port, with real PostgreSQL and (when `redis` is asked for)
// real Redis. Several instances may share one database and Redis, like a deployment.
import { randomBytes } from "node:crypto";
import { createApp, type App } from "../../src/app";
import { loadSettings, type Settings } from "../../src/config/settings";
import { createLogger, type Logger } from "../../src/observability/logger";
import { createTestDatabase, type TestDatabase } from "./database";
import { assertClusterAnswers, assertRedisAnswers } from "./redis";

export interface TestServer {
  app: App;
  url: string;
  wsUrl: string;
  close(): Promise<void>;
}

export type SettingsOverrides = Partial<Record<string, string>>;

/**
 * Settings for a test server. With `redis`, the Redis URL carries a key prefix of
 * its own (ioredis reads `keyPrefix` from the URL): deployments of other test
 * files, and other people's runs on the same Redis, keep their queues apart.
 * Every queue store registers its concerts in one registry that every ticker
 * reads, so without it one deployment's ticker would admit another's line by
 * its own database's policy. Instances of one deployment share one settings
 * object, hence one prefix (pass `deployment.settings` to a server that must join it).
 *
 * `redis` "cluster": the Redis Cluster at REDIS_CLUSTER_NODES instead (its keys need no prefix: each test uses concerts of its own).
 */
export function testSettings(overrides: SettingsOverrides = {}, redis: boolean | "cluster" = false): Settings {
  return loadSettings({
    JWT_SECRET: "test-secret-that-is-long-enough-for-hs256-signing",
    DATA_DIR: "./data/test",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    RATE_LIMIT_USER_PER_SECOND: "0",
    DATABASE_POOL_SIZE: "10",
    REDIS_URL: redis === true ? isolatedRedisUrl(requireRedisUrl()) : undefined,
    REDIS_CLUSTER_NODES: redis === "cluster" ? requireClusterNodes() : undefined,
    ...overrides,
  });
}

/** The Redis URL with a key prefix no other deployment uses. */
export function isolatedRedisUrl(url: string): string {
  const u = new URL(url);
  u.searchParams.set("keyPrefix", `${u.searchParams.get("keyPrefix") ?? ""}t${process.pid}-${randomBytes(4).toString("hex")}:`);
  return u.toString();
}

export function requireRedisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error("REDIS_URL is not set: this test needs a real Redis");
  return url;
}

export function requireClusterNodes(): string {
  const nodes = process.env.REDIS_CLUSTER_NODES;
  if (!nodes) throw new Error("REDIS_CLUSTER_NODES is not set: this test needs a real Redis Cluster");
  return nodes;
}

export async function startTestServer(options: { databaseUrl: string; settings?: Settings; logger?: Logger }): Promise<TestServer> {
  const settings = options.settings ?? testSettings();
  const logger = options.logger ?? createLogger(settings.logLevel);
  const app = await createApp({ settings, databaseUrl: options.databaseUrl, logger });
  const { port } = await app.listen(0, "127.0.0.1");
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    close: () => app.close(),
  };
}

/**
 * A test deployment: a fresh database and `instances` servers sharing it (and
 * Redis when `redis` is true). Close it in afterAll. Several instances need a
 * shared Redis: asked for without one, it fails rather than run fewer.
 */
export async function startDeployment(options: { instances?: number; redis?: boolean | "cluster"; settings?: SettingsOverrides } = {}) {
  const instances = options.instances ?? 1;
  if (instances > 1 && !options.redis) {
    throw new Error(`${instances} instances need a shared Redis (redis: true and REDIS_URL): the in-process store serves one instance only`);
  }
  // Set but unreachable fails the suite (never skips it).
  if (options.redis === true) await assertRedisAnswers();
  if (options.redis === "cluster") await assertClusterAnswers();
  const db: TestDatabase = await createTestDatabase();
  const settings = testSettings(options.settings, options.redis ?? false);
  const servers: TestServer[] = [];
  for (let i = 0; i < instances; i++) servers.push(await startTestServer({ databaseUrl: db.url, settings }));
  return {
    db,
    settings,
    servers,
    server: servers[0],
    async close() {
      await Promise.all(servers.map((s) => s.close()));
      await db.drop();
    },
  };
}
