// Redis servers of our own for the fault tests and the fault bench: a plain
// Redis without persistence that can be restarted empty, and a Redis Cluster
// (masters with one replica each) whose masters can be killed. Never the
// machine's shared Redis: every server here listens on a port of its own and
// keeps its files in a temporary folder.
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface RedisProcess {
  port: number;
  /** Kills the server (SIGKILL: no chance to save, as in a crash). */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty (no persistence). */
  start(): Promise<void>;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ host: "127.0.0.1", port }, () => server.close(() => resolve(true)));
  });
}

/** `count` consecutive free ports (each with its cluster-bus port, +10000, free too), from `from` on. */
export async function freePorts(count: number, from = 20_000 + Math.floor(Math.random() * 20_000)): Promise<number[]> {
  for (let base = from; base < 55_000; base += count) {
    const ports = Array.from({ length: count }, (_, i) => base + i);
    const free = await Promise.all(ports.flatMap((p) => [portFree(p), portFree(p + 10_000)]));
    if (free.every(Boolean)) return ports;
  }
  throw new Error("no free ports for Redis");
}

async function answers(port: number): Promise<boolean> {
  try {
    const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "ping"], { timeout: 2_000 });
    return stdout.trim() === "PONG";
  } catch {
    return false;
  }
}

async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

function redisProcess(port: number, dir: string, extra: string[]): RedisProcess {
  let child: ChildProcess | undefined;
  const self: RedisProcess = {
    port,
    async start() {
      const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, ...extra];
      child = spawn("redis-server", args, { stdio: "ignore" });
      child.once("error", () => undefined);
      await until(`redis-server on ${port}`, () => answers(port));
    },
    async kill() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((r) => c.once("exit", r));
      c.kill("SIGKILL");
      await exited;
    },
  };
  return self;
}

/** A plain Redis without persistence on a free port. */
/** `fromPort`: the first port to try (a range of the caller's own); any free one by default. */
export async function startPlainRedis(fromPort?: number): Promise<RedisProcess & { url: string; stop(): Promise<void> }> {
  const [port] = await freePorts(1, fromPort);
  const dir = mkdtempSync(path.join(os.tmpdir(), "redis-plain-"));
  const server = redisProcess(port, dir, []);
  await server.start();
  return {
    ...server,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface LocalCluster {
  nodes: { host: string; port: number }[];
  /** REDIS_CLUSTER_NODES for this cluster. */
  spec: string;
  servers: RedisProcess[];
  /** The port of the master that owns `key`'s slot. */
  masterOf(key: string): Promise<number>;
  /** Waits until every live node reports the cluster whole (cluster_state:ok). */
  waitHealthy(ms?: number): Promise<void>;
  stop(): Promise<void>;
}

/** A Redis Cluster of `masters` masters with one replica each, node timeout 1 s, no persistence. */
export async function startRedisCluster(masters = 3, ports?: number[]): Promise<LocalCluster> {
  const all = ports ?? (await freePorts(masters * 2));
  const dir = mkdtempSync(path.join(os.tmpdir(), "redis-cluster-"));
  const servers = all.map((port) =>
    redisProcess(port, dir, ["--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`, "--cluster-node-timeout", "1000"]),
  );
  await Promise.all(servers.map((s) => s.start()));
  await run("redis-cli", ["--cluster", "create", ...all.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "1", "--cluster-yes"], {
    timeout: 60_000,
  });
  const cli = async (port: number, ...args: string[]) =>
    (await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { timeout: 2_000 })).stdout;
  const alive = new Set(all);
  const cluster: LocalCluster = {
    nodes: all.map((port) => ({ host: "127.0.0.1", port })),
    spec: all.map((p) => `127.0.0.1:${p}`).join(","),
    servers: servers.map((s) => ({
      ...s,
      async kill() {
        alive.delete(s.port);
        await s.kill();
      },
      async start() {
        await s.start();
        alive.add(s.port);
      },
    })),
    async masterOf(key) {
      for (const port of alive) {
        try {
          const slot = (await cli(port, "cluster", "keyslot", key)).trim();
          const nodes = (await cli(port, "cluster", "nodes")).trim().split("\n");
          for (const line of nodes) {
            const f = line.split(" ");
            if (!f[2].includes("master") || f[2].includes("fail")) continue;
            for (const range of f.slice(8)) {
              const [a, b] = range.split("-").map(Number);
              if (Number(slot) >= a && Number(slot) <= (b ?? a)) return Number(f[1].split(":")[1].split("@")[0]);
            }
          }
        } catch {
          // that node is down: ask another
        }
      }
      throw new Error(`no master owns ${key}`);
    },
    async waitHealthy(ms = 30_000) {
      await until(
        "cluster_state:ok on every live node",
        async () => {
          for (const port of alive) {
            try {
              if (!/cluster_state:ok/.test(await cli(port, "cluster", "info"))) return false;
            } catch {
              return false;
            }
          }
          return true;
        },
        ms,
      );
    },
    async stop() {
      await Promise.all(servers.map((s) => s.kill()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await cluster.waitHealthy();
  // A replica that has not finished its first sync refuses to take over (its data's age
  // counts from never, past cluster-replica-validity-factor): a master killed right after
  // the create would then stay down for good. Wait until every replica is linked.
  await until(
    "every replica linked to its master",
    async () => {
      const roles = await Promise.all(all.map((port) => cli(port, "info", "replication").catch(() => "")));
      const replicas = roles.filter((r) => /role:slave/.test(r));
      return replicas.length === all.length - masters && replicas.every((r) => /master_link_status:up/.test(r));
    },
    30_000,
  );
  return cluster;
}
