import { describe, it, expect, afterEach, inject } from "vitest";
import { Client } from "pg";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { migrate } from "../../src/db/migrate";

// The PostgreSQL the global setup found or started (the embedded one when DATABASE_URL is unset).
const ADMIN_URL = inject("adminDatabaseUrl");

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A fresh database (dropped after the test) and a temp migrations folder. */
async function setup(migrations: Record<string, string>) {
  const name = `migrate_test_${randomBytes(6).toString("hex")}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), "migrations-"));
  cleanups.push(async () => {
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    await rm(dir, { recursive: true, force: true });
  });
  await writeFile(path.join(dir, "migration_lock.toml"), 'provider = "postgresql"\n');
  for (const [m, sql] of Object.entries(migrations)) await addMigration(dir, m, sql);
  return { url: url.toString(), dir };
}

async function addMigration(dir: string, name: string, sql: string) {
  await mkdir(path.join(dir, name), { recursive: true });
  await writeFile(path.join(dir, name, "migration.sql"), sql);
}

async function query<T extends Record<string, unknown>>(url: string, sql: string): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

const tables = async (url: string) =>
  (await query<{ table_name: string }>(url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")).map(
    (r) => r.table_name,
  );

const history = (url: string) =>
  query<{ migration_name: string; checksum: string; finished_at: Date | null; applied_steps_count: number }>(
    url,
    `SELECT migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name`,
  );

const M1 = "20240101000000_init";
const M2 = "20240102000000_venues";
const BASE = {
  [M1]: `CREATE TABLE "Concert" ("id" TEXT PRIMARY KEY, "title" TEXT NOT NULL);\n`,
  [M2]: `CREATE TABLE "Venue" ("id" TEXT PRIMARY KEY);\nALTER TABLE "Concert" ADD COLUMN "venueId" TEXT REFERENCES "Venue"("id");\n`,
};

describe("migrate", () => {
  it("applies all migrations to a fresh database and records them like Prisma", async () => {
    const { url, dir } = await setup(BASE);
    const { applied } = await migrate(url, { dir });
    expect(applied).toEqual([M1, M2]);
    expect(await tables(url)).toEqual(["Concert", "Venue", "_prisma_migrations"]);

    const rows = await history(url);
    expect(rows.map((r) => r.migration_name)).toEqual([M1, M2]);
    for (const row of rows) {
      const bytes = await readFile(path.join(dir, row.migration_name, "migration.sql"));
      expect(row.checksum).toBe(createHash("sha256").update(bytes).digest("hex"));
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.applied_steps_count).toBe(1);
    }
  });

  it("applies nothing on a second run, and only the new one later", async () => {
    const { url, dir } = await setup(BASE);
    await migrate(url, { dir });
    expect((await migrate(url, { dir })).applied).toEqual([]);

    await addMigration(dir, "20240103000000_seats", `CREATE TABLE "Seat" ("id" TEXT PRIMARY KEY);\n`);
    expect((await migrate(url, { dir })).applied).toEqual(["20240103000000_seats"]);
    expect(await history(url)).toHaveLength(3);
  });

  it("refuses a migration edited after being applied, changing nothing", async () => {
    const { url, dir } = await setup(BASE);
    await migrate(url, { dir });
    await addMigration(dir, M1, BASE[M1] + `ALTER TABLE "Concert" ADD COLUMN "x" INT;\n`);
    await addMigration(dir, "20240103000000_seats", `CREATE TABLE "Seat" ("id" TEXT PRIMARY KEY);\n`);
    const before = await history(url);

    await expect(migrate(url, { dir })).rejects.toThrow(`Migration "${M1}" was edited after being applied`);
    expect(await history(url)).toEqual(before);
    expect(await tables(url)).toEqual(["Concert", "Venue", "_prisma_migrations"]);
  });

  it("accepts an applied migration whose line endings git turned into CRLF (as Prisma does)", async () => {
    const { url, dir } = await setup(BASE);
    await migrate(url, { dir });
    await addMigration(dir, M2, BASE[M2].replace(/\n/g, "\r\n"));
    expect((await migrate(url, { dir })).applied).toEqual([]);
  });

  it("refuses when an applied migration is missing on disk", async () => {
    const { url, dir } = await setup(BASE);
    await migrate(url, { dir });
    await rm(path.join(dir, M2), { recursive: true });
    await expect(migrate(url, { dir })).rejects.toThrow(`Migration "${M2}" is recorded as applied in the database but is missing`);
  });

  it("rolls a failing migration back wholly and names it", async () => {
    const bad = "20240103000000_broken";
    const { url, dir } = await setup({
      ...BASE,
      // The first statement succeeds, the second fails: nothing may remain.
      [bad]: `CREATE TABLE "Half" ("id" INT);\nINSERT INTO "Nope" VALUES (1);\n`,
      "20240104000000_after": `CREATE TABLE "After" ("id" INT);\n`,
    });
    const err = await migrate(url, { dir }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(`Migration "${bad}" failed`);
    expect((err as Error).message).toContain(`relation "Nope" does not exist`);

    // Earlier migrations stay committed; the broken one left no table and no row.
    expect(await tables(url)).toEqual(["Concert", "Venue", "_prisma_migrations"]);
    expect((await history(url)).map((r) => r.migration_name)).toEqual([M1, M2]);
  });

  it("applies each migration exactly once when two runs start together", async () => {
    const { url, dir } = await setup(BASE);
    const results = await Promise.all([migrate(url, { dir }), migrate(url, { dir })]);
    // One run did the work, the other waited for the lock and found nothing to do.
    expect(results.map((r) => r.applied.length).sort()).toEqual([0, 2]);
    const counts = await query<{ migration_name: string; n: string }>(
      url,
      `SELECT migration_name, count(*) AS n FROM "_prisma_migrations" GROUP BY 1 ORDER BY 1`,
    );
    expect(counts).toEqual([
      { migration_name: M1, n: "1" },
      { migration_name: M2, n: "1" },
    ]);
  });

  it("applies the function files after the migrations at every run, replacing what the database had, all or none", async () => {
    const { url, dir } = await setup(BASE);
    const functionsDir = path.join(dir, "..", `${path.basename(dir)}-functions`);
    await mkdir(functionsDir);
    cleanups.push(() => rm(functionsDir, { recursive: true, force: true }));
    const answer = (n: number) => `CREATE OR REPLACE FUNCTION the_answer() RETURNS int LANGUAGE sql AS 'SELECT ${n}';`;
    const ask = async () => (await query<{ n: number }>(url, "SELECT the_answer() AS n"))[0].n;

    await writeFile(path.join(functionsDir, "the_answer.sql"), answer(41));
    await migrate(url, { dir, functionsDir });
    expect(await ask()).toBe(41);

    // An edited file replaces the function on the next run, with no new migration.
    await writeFile(path.join(functionsDir, "the_answer.sql"), answer(42));
    expect((await migrate(url, { dir, functionsDir })).applied).toEqual([]);
    expect(await ask()).toBe(42);

    // A broken file rolls back every function file of that run.
    await writeFile(path.join(functionsDir, "a_first.sql"), "CREATE OR REPLACE FUNCTION a_first() RETURNS int LANGUAGE sql AS 'SELECT 1';");
    await writeFile(path.join(functionsDir, "the_answer.sql"), answer(43));
    await writeFile(path.join(functionsDir, "z_broken.sql"), "CREATE OR REPLACE FUNCTION nope( LANGUAGE sql;");
    await expect(migrate(url, { dir, functionsDir })).rejects.toThrow(/Applying the functions failed/);
    expect(await ask()).toBe(42);
    expect(await query(url, "SELECT 1 FROM pg_proc WHERE proname = 'a_first'")).toEqual([]);
  });
});
