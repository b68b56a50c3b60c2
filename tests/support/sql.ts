// Direct SQL for tests: to look at what a request wrote (or did not), and to
// set up states the public API cannot make yet (a date in the past, held seats).
import { Client } from "pg";

export async function sql<T = Record<string, unknown>>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/** Row counts of the given tables, to prove a refused request wrote nothing. */
export async function rowCounts(url: string, tables: readonly string[]): Promise<Record<string, number>> {
  const rows = await sql<{ t: string; n: number }>(url, tables.map((t) => `SELECT '${t}' AS t, count(*)::int AS n FROM "${t}"`).join(" UNION ALL "));
  return Object.fromEntries(rows.map((r) => [r.t, r.n]));
}
