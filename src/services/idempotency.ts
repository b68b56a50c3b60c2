// Idempotency keys for the calls that move money (chargeBalance, pay).
//
// A key is per user, stored with the operation and a hash of its arguments. The
// row is inserted (ON CONFLICT DO NOTHING) in the same transaction as the money
// move, before it (ticket_claim_key, called by ticket_pay and ticket_charge in
// prisma/migrations/20261128000000_money_functions): of two simultaneous calls with one key, on any instances,
// the second's INSERT waits on the first's uncommitted row; if the first
// commits, the second inserts nothing, reads the stored response and moves no
// money; if the first rolls back (an error), the second does the work. So only
// a successful call is remembered: a call that failed may be retried with its key.
import { createHash } from "node:crypto";
import type { Pool, PoolClient } from "pg";
import { badInput } from "../errors/app-error";
import { named } from "../db/named";

export const MAX_KEY_LENGTH = 200;
export const KEY_RETENTION_HOURS = 25; // keys are kept at least 24 hours (contract/README.md, rule 10)

// 1..200 characters, none of them control, format or unassigned code points.
const KEY = /^[^\p{C}]{1,200}$/u;

export type IdempotentOperation = "chargeBalance" | "pay" | "refundReservation";

export interface IdempotentCall {
  userId: string;
  key: string;
  operation: IdempotentOperation;
  /** The call's arguments; the same key with other arguments is refused. */
  args: Record<string, unknown>;
}

/** The key, or undefined when the call has none; a malformed key is bad input. */
export function checkIdempotencyKey(key: string | null | undefined): string | undefined {
  if (key === undefined || key === null) return undefined;
  if (!KEY.test(key)) {
    throw badInput(`An idempotencyKey is 1 to ${MAX_KEY_LENGTH} printable characters.`, "idempotencyKey");
  }
  return key;
}

/** What a key is stored with: the same key with another hash is another request. */
export const requestHash = (call: IdempotentCall) =>
  createHash("sha256")
    .update(JSON.stringify([call.operation, call.args]))
    .digest("hex");

export const keyReused = () =>
  badInput("This idempotencyKey was already used with other arguments: use a new key for a new request.", "idempotencyKey");

/**
 * A key's stored row checked against this call: its response (undefined while the call that
 * claimed it has not finished), or BAD_USER_INPUT when the key was used with other arguments.
 */
export function storedResponse<T>(call: IdempotentCall, operation: string, hash: string, response: T | null): T | undefined {
  if (operation !== call.operation || hash !== requestHash(call)) throw keyReused();
  return response ?? undefined;
}

/**
 * The stored response of a finished call with this key, or undefined when the
 * key is new. Throws BAD_USER_INPUT when the key was used with other arguments.
 */
export async function findResponse<T>(db: Pool | PoolClient, call: IdempotentCall): Promise<T | undefined> {
  const { rows } = await db.query<{ operation: string; request_hash: string; response: T | null }>(
    named(`SELECT operation, request_hash, response FROM idempotency_keys WHERE user_id = $1 AND key = $2`, [call.userId, call.key]),
  );
  const row = rows[0];
  return row ? storedResponse(call, row.operation, row.request_hash, row.response) : undefined;
}

/** Deletes keys past their retention, a bounded batch at a time (created_at index). */
export async function deleteOldKeys(pool: Pool, batch = 1_000): Promise<number> {
  const { rowCount } = await pool.query(
    `DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
       SELECT ctid FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1) LIMIT $2))`,
    [KEY_RETENTION_HOURS, batch],
  );
  return rowCount ?? 0;
}
