// Prepared once per connection: the statements every hold and pay sends.
//
// node-postgres sends each query as an unnamed statement, which PostgreSQL parses, analyses
// and plans on every call; a profile of its backends during the buying bench put parsing at
// 7% and top-level planning at 6% of their CPU (BENCHMARKS.md). A named statement is parsed
// once per connection and, with the default plan_cache_mode, planned generically once its
// custom plans stop paying off. Only constant texts belong here: each distinct text is one
// prepared statement on every pooled connection, for the connection's life. (Behind a
// transaction-mode pooler, PgBouncer needs max_prepared_statements for them.)
import type { QueryConfig } from "pg";

const names = new Map<string, string>();

/** `{ name, text, values }` for pool.query/client.query: the same name for the same text, in every pool of the process. */
export function named(text: string, values: unknown[]): QueryConfig {
  let name = names.get(text);
  if (name === undefined) {
    name = `ticketing_${names.size}`;
    names.set(text, name);
  }
  return { name, text, values };
}
