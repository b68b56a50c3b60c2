// A fresh PostgreSQL database for one run (the server migrates it at start),
// filled by SQL: thousands of users share one precomputed scrypt hash, since
// hashing each one (deliberately slow) would take minutes.
import { Client } from "pg";
import { hashPassword } from "../../src/auth/password";

const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/test";

export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** `prefix`: the name's start (`bench_<stamp>`; the rush bench uses `rush`). */
export async function createBenchDatabase(stamp: string, prefix = "bench"): Promise<BenchDatabase> {
  const name = `${prefix}_${stamp}`;
  await withClient(ADMIN_URL, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => withClient(ADMIN_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** Inserts `users` users and `concerts` concerts (no dates yet: never sold out); returns their ids in order. */
export async function seed(url: string, users: number, concerts: number): Promise<{ userIds: string[]; concertIds: string[] }> {
  const hash = await hashPassword("bench-password-1");
  return withClient(url, async (c) => {
    const u = await c.query<{ id: string }>(
      `INSERT INTO users (email, password_hash)
       SELECT 'bench' || g || '@bench.test', $1 FROM generate_series(1, $2::int) g
       RETURNING id`,
      [hash, users],
    );
    const k = await c.query<{ id: string }>(
      `INSERT INTO concerts (title) SELECT 'Bench concert ' || g FROM generate_series(1, $1::int) g RETURNING id`,
      [concerts],
    );
    return { userIds: u.rows.map((r) => r.id), concertIds: k.rows.map((r) => r.id) };
  });
}

export async function userId(url: string, email: string): Promise<string> {
  return withClient(url, async (c) => (await c.query<{ id: string }>("SELECT id FROM users WHERE email = $1", [email])).rows[0].id);
}

export async function withClient<T>(url: string, use: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await use(c);
  } finally {
    await c.end();
  }
}
