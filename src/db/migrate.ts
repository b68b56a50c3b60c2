// Minimal migration runner that speaks Prisma Migrate's on-disk and in-database
// format. We need our own because `prisma migrate` needs the schema engine
// binary, which cannot be downloaded here; by keeping Prisma's layout, table
// and checksums, the Prisma CLI (where it does run) sees the same history.
import { Client } from "pg";
import { createHash, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

export interface MigrateOptions {
  /** Folder holding `<stamp>_<name>/migration.sql` entries. */
  dir?: string;
  /** Folder of `*.sql` files (`CREATE OR REPLACE FUNCTION …`) applied after the
   * migrations at every run; default: `functions` beside the migrations folder. */
  functionsDir?: string;
  log?: (msg: string) => void;
}

// The same key Prisma Migrate uses, so our runner and the Prisma CLI also
// exclude each other, not just two copies of this runner.
const LOCK_KEY = "72707369";

// Prisma's exact DDL for the history table (see prisma-engines, postgres flavour).
const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                  VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"            VARCHAR(64) NOT NULL,
    "finished_at"         TIMESTAMPTZ,
    "migration_name"      VARCHAR(255) NOT NULL,
    "logs"                TEXT,
    "rolled_back_at"      TIMESTAMPTZ,
    "started_at"          TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

/** `<project root>/prisma/migrations`, found by walking up to package.json so it
 * works from `src/db/` (vitest) and from `dist/src/db/` (compiled). */
export function defaultMigrationsDir(start = __dirname): string {
  let dir = start;
  while (!existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`No package.json above ${start}`);
    dir = parent;
  }
  return path.join(dir, "prisma", "migrations");
}

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

/** Prisma's checksum is sha256 (hex) of the migration.sql bytes. When comparing,
 * Prisma also accepts the file with CRLF<->LF swapped (git may rewrite line
 * endings on checkout), so we do the same to agree with it. */
function matchesChecksum(script: Buffer, checksum: string): boolean {
  if (sha256(script) === checksum) return true;
  const text = script.toString("utf8");
  return sha256(text.replace(/\r\n/g, "\n")) === checksum || sha256(text.replace(/\n/g, "\r\n")) === checksum;
}

interface LocalMigration {
  name: string;
  script: Buffer;
}

async function readMigrations(dir: string): Promise<LocalMigration[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [];
    throw err;
  });
  // Prisma orders by folder name (timestamp prefix); files such as
  // migration_lock.toml are not migrations.
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const out: LocalMigration[] = [];
  for (const name of names) {
    const file = path.join(dir, name, "migration.sql");
    if (!existsSync(file)) throw new Error(`Migration "${name}" has no migration.sql (${file})`);
    out.push({ name, script: await readFile(file) });
  }
  return out;
}

/** The function files, in name order (prisma/functions/README.md). */
async function readFunctions(dir: string): Promise<{ name: string; script: string }[]> {
  const names = (
    await readdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [] as string[];
      throw err;
    })
  )
    .filter((n) => n.endsWith(".sql"))
    .sort();
  return Promise.all(names.map(async (name) => ({ name, script: await readFile(path.join(dir, name), "utf8") })));
}

interface Row {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

export async function migrate(databaseUrl: string, options: MigrateOptions = {}): Promise<{ applied: string[] }> {
  const log = options.log ?? (() => {});
  const dir = options.dir ?? defaultMigrationsDir();
  const local = await readMigrations(dir);
  const functions = await readFunctions(options.functionsDir ?? path.join(path.dirname(dir), "functions"));

  const client = new Client({ connectionString: databaseUrl });
  // Failures during a query reject that query; this only keeps a connection
  // dropped between queries from becoming an unhandled 'error' event.
  client.on("error", (err) => log(`migrate: connection error: ${err.message}`));
  await client.connect();
  let locked = false;
  try {
    // Without this lock two processes starting together would both see the
    // same migrations as pending and both run them (or both race on CREATE
    // TABLE IF NOT EXISTS, which can fail with a duplicate pg_type key). The
    // lock is session-level, so everything below runs on this one connection;
    // if the process dies the server drops the lock with the connection.
    const { rows: tryRows } = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${LOCK_KEY}) AS ok`);
    if (!tryRows[0].ok) {
      log("migrate: another migration run holds the lock; waiting");
      await client.query(`SELECT pg_advisory_lock(${LOCK_KEY})`);
    }
    locked = true;

    await client.query(CREATE_TABLE);
    const { rows } = await client.query<Row>(
      `SELECT migration_name, checksum, finished_at, rolled_back_at
         FROM "_prisma_migrations" ORDER BY started_at`,
    );
    // Rows marked rolled back (by `prisma migrate resolve`) no longer count.
    const live = rows.filter((r) => r.rolled_back_at === null);
    const byName = new Map(local.map((m) => [m.name, m]));

    for (const row of live) {
      if (row.finished_at === null) {
        throw new Error(
          `Migration "${row.migration_name}" is recorded as started but not finished (a failed run). ` +
            `Fix the database by hand, then mark it with \`prisma migrate resolve\` or delete its _prisma_migrations row.`,
        );
      }
      const file = byName.get(row.migration_name);
      if (!file) {
        throw new Error(`Migration "${row.migration_name}" is recorded as applied in the database but is missing from ${dir}.`);
      }
      if (!matchesChecksum(file.script, row.checksum)) {
        throw new Error(
          `Migration "${row.migration_name}" was edited after being applied (checksum mismatch). ` +
            `Restore the original migration.sql and put the change in a new migration.`,
        );
      }
    }

    const done = new Set(live.map((r) => r.migration_name));
    const applied: string[] = [];
    for (const m of local) {
      if (done.has(m.name)) continue;
      log(`migrate: applying ${m.name}`);
      // The script and its history row commit or roll back together, so a
      // failure leaves neither half a schema change nor a row behind. (Hence
      // statements that refuse to run in a transaction, e.g. CREATE INDEX
      // CONCURRENTLY, are not supported.)
      await client.query("BEGIN");
      try {
        await client.query(m.script.toString("utf8"));
        await client.query(
          `INSERT INTO "_prisma_migrations"
             (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
           VALUES ($1, $2, $3, now(), clock_timestamp(), 1)`,
          [randomUUID(), sha256(m.script), m.name],
        );
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        const msg = err instanceof Error ? err.message : String(err);
        throw new Error(`Migration "${m.name}" failed and was rolled back: ${msg}`, { cause: err });
      }
      applied.push(m.name);
    }
    log(applied.length ? `migrate: applied ${applied.length} migration(s)` : "migrate: database is up to date");

    // The functions are code, not history: the files as they are now replace
    // whatever the database has, all or none.
    if (functions.length > 0) {
      await client.query("BEGIN");
      try {
        for (const f of functions) await client.query(f.script);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        const msg = err instanceof Error ? err.message : String(err);
        throw new Error(`Applying the functions failed and was rolled back: ${msg}`, { cause: err });
      }
    }
    return { applied };
  } finally {
    if (locked) await client.query(`SELECT pg_advisory_unlock(${LOCK_KEY})`).catch(() => {});
    await client.end().catch(() => {});
  }
}
