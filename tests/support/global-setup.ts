// Runs once before all test files: finds the PostgreSQL to test against (the
// machine's, from DATABASE_URL, or an embedded one when it is unset, so that
// `npm test` needs nothing installed) and migrates a template database that
// every test file copies (CREATE DATABASE … TEMPLATE is much faster than
// migrating each copy). At the end it prints the suites that did not run
// (tests/support/stores.ts records them), one line each with the reason.
import type { TestProject } from "vitest/node";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { startEmbeddedPostgres } from "../../src/db/embedded-postgres";
import { migrate } from "../../src/db/migrate";

declare module "vitest" {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    templateDatabase: string;
    /** Where test files record the suites they did not run (see tests/support/stores.ts). */
    notRunDir: string;
  }
}

export default async function setup(project: TestProject) {
  const notRunDir = mkdtempSync(join(tmpdir(), "tickets-not-run-"));
  project.provide("notRunDir", notRunDir);
  let adminUrl = process.env.DATABASE_URL;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (!adminUrl) {
    const embedded = await startEmbeddedPostgres({ dataDir: "./data/test-postgres" });
    adminUrl = embedded.url;
    stopEmbedded = embedded.stop;
  }
  const template = `tickets_template_${process.pid}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${template}`);
  } finally {
    await admin.end();
  }
  await migrate(withDatabase(adminUrl, template));
  project.provide("adminDatabaseUrl", adminUrl);
  project.provide("templateDatabase", template);
  return async () => {
    printNotRun(notRunDir);
    const c = new Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`).catch(() => undefined);
    await c.end();
    await stopEmbedded?.();
  };
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** One line per suite that did not run, so a run without Redis says what it left out. */
function printNotRun(dir: string): void {
  const lines = new Set<string>();
  for (const f of readdirSync(dir)) {
    for (const line of readFileSync(join(dir, f), "utf8").split("\n").filter(Boolean)) {
      const { file, suite, why } = JSON.parse(line) as { file: string; suite: string; why: string };
      lines.add(`did not run: ${file} > ${suite}: ${why}`);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  if (lines.size > 0) process.stdout.write(`\n${[...lines].sort().join("\n")}\n`);
}
