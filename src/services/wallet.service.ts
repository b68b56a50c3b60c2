// The prepaid balance: charges, the balance and its ledger. The balance only
// moves by one conditional UPDATE (never read-then-write), and every move writes
// its ledger entry in the same transaction, so the balance always equals the sum
// of the ledger; the users_balance_not_negative CHECK backs the arithmetic.
import type { Pool } from "pg";
import type { Actor } from "../auth/access-tokens";
import type { Settings } from "../config/settings";
import { badInput, unauthenticated } from "../errors/app-error";
import { oneStatement } from "../db/one-statement";
import { refusalError } from "../errors/refusals";
import { checkIdempotencyKey, findResponse, requestHash, type IdempotentCall } from "./idempotency";
import { pageSize, type PageArgs } from "./paging";

export type LedgerKind = "CHARGE" | "PAYMENT";

export interface LedgerEntryView {
  id: string;
  kind: LedgerKind;
  amount: number;
  balanceAfter: number;
  createdAt: Date;
}

type Deps = { pool: Pool; settings: Pick<Settings, "maxCharge" | "maxBalance"> };

export class WalletService {
  constructor(private readonly deps: Deps) {}

  /** Adds `amount` and returns the balance right after this charge. */
  async chargeBalance(actor: Actor, input: { amount: number; idempotencyKey?: string | null }): Promise<number> {
    const { maxCharge, maxBalance } = this.deps.settings;
    const { amount } = input;
    if (!Number.isInteger(amount) || amount < 1 || amount > maxCharge) {
      throw badInput(`amount must be from 1 to ${maxCharge}.`, "amount");
    }
    const key = checkIdempotencyKey(input.idempotencyKey);
    const call: IdempotentCall | undefined = key === undefined ? undefined : { userId: actor.id, key, operation: "chargeBalance", args: { amount } };
    // A retry after success is answered without a write; the claim inside
    // ticket_charge still decides when two calls with the key overlap.
    if (call) {
      const done = await findResponse<{ balance: number }>(this.deps.pool, call);
      if (done) return done.balance;
    }
    // One statement (prisma/functions/): claim the key, add to
    // the balance by one conditional UPDATE, write the ledger entry, store the response.
    try {
      const [row] = await oneStatement<{ replayed: { balance: number } | null; balance: number }>(
        this.deps.pool,
        `SELECT replayed, balance FROM ticket_charge($1, $2, $3, $4, $5)`,
        [actor.id, amount, maxBalance, call?.key ?? null, call ? requestHash(call) : null],
      );
      return row.replayed ? row.replayed.balance : row.balance;
    } catch (error) {
      throw refusalError(error, { maxBalance }) ?? error;
    }
  }

  async balance(actor: Actor): Promise<number> {
    const { rows } = await this.deps.pool.query<{ balance: number }>(`SELECT balance FROM users WHERE id = $1`, [actor.id]);
    if (!rows[0]) throw unauthenticated("The account of this access token no longer exists.");
    return rows[0].balance;
  }

  /**
   * The caller's ledger, newest first; `after` is the id of the last entry of the previous page.
   * ORDER BY names the table's column: a bare `id` would be the text alias of the
   * SELECT list (output names win in ORDER BY), which sorted "9" before "21".
   */
  async ledger(actor: Actor, page: PageArgs = {}): Promise<LedgerEntryView[]> {
    const first = pageSize(page.first);
    let after: string | null = null;
    if (page.after !== undefined && page.after !== null) {
      if (!/^[1-9]\d{0,17}$/.test(page.after)) throw badInput("after must be the id of a ledger entry.", "after");
      after = page.after;
    }
    const { rows } = await this.deps.pool.query<LedgerEntryView>(
      `SELECT id::text AS id, kind, amount, balance_after AS "balanceAfter", created_at AS "createdAt"
         FROM ledger_entries WHERE user_id = $1 AND ($2::bigint IS NULL OR id < $2::bigint)
        ORDER BY ledger_entries.id DESC LIMIT $3`,
      [actor.id, after, first],
    );
    return rows;
  }
}
