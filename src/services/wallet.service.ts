// The prepaid balance: charges, the balance and its ledger. The balance only
// moves by one conditional UPDATE (never read-then-write), and every move writes
// its ledger entry in the same transaction, so the balance always equals the sum
// of the ledger; the users_balance_not_negative CHECK backs the arithmetic.
import type { Pool } from "pg";
import type { Actor } from "../auth/access-tokens";
import type { Settings } from "../config/settings";
import { AppError, badInput, unauthenticated } from "../errors/app-error";
import { inTransaction } from "../db/transaction";
import { checkIdempotencyKey, claimKey, findResponse, storeResponse, type IdempotentCall } from "./idempotency";
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
    const call: IdempotentCall | undefined =
      key === undefined ? undefined : { userId: actor.id, key, operation: "chargeBalance", args: { amount } };
    // A retry after success is answered without a transaction; the claim below
    // still decides when two calls with the key overlap.
    if (call) {
      const done = await findResponse<{ balance: number }>(this.deps.pool, call);
      if (done) return done.balance;
    }
    return inTransaction(this.deps.pool, async (client) => {
      if (call) {
        const claim = await claimKey<{ balance: number }>(client, call);
        if (!claim.claimed) return claim.response.balance;
      }
      // bigint: balance + amount can pass 2^31 when both limits are near it.
      const { rows } = await client.query<{ balance: number }>(
        `UPDATE users SET balance = balance + $1 WHERE id = $2 AND balance::bigint + $1 <= $3 RETURNING balance`,
        [amount, actor.id, maxBalance],
      );
      if (rows.length === 0) {
        await this.assertUserExists(client, actor.id);
        throw new AppError("BALANCE_LIMIT", `This charge would take your balance over ${maxBalance}.`);
      }
      const balance = rows[0].balance;
      await client.query(`INSERT INTO ledger_entries (user_id, kind, amount, balance_after) VALUES ($1, 'CHARGE', $2, $3)`, [
        actor.id,
        amount,
        balance,
      ]);
      if (call) await storeResponse(client, call, { balance });
      return balance;
    });
  }

  async balance(actor: Actor): Promise<number> {
    const { rows } = await this.deps.pool.query<{ balance: number }>(`SELECT balance FROM users WHERE id = $1`, [actor.id]);
    if (!rows[0]) throw unauthenticated("The account of this access token no longer exists.");
    return rows[0].balance;
  }

  /** The caller's ledger, newest first; `after` is the id of the last entry of the previous page. */
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
        ORDER BY id DESC LIMIT $3`,
      [actor.id, after, first],
    );
    return rows;
  }

  private async assertUserExists(client: { query: Pool["query"] }, userId: string): Promise<void> {
    const { rowCount } = await client.query(`SELECT 1 FROM users WHERE id = $1`, [userId]);
    if (!rowCount) throw unauthenticated("The account of this access token no longer exists.");
  }
}
