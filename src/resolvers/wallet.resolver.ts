import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import { LedgerEntry } from "../schema/ledger.type";
import type { Context } from "../graphql/context";
import { actorOf } from "../graphql/auth-checker";

@Resolver()
export class WalletResolver {
  @Authorized()
  @Mutation(() => Int, { description: "Add money to the signed-in user's balance; returns the new balance." })
  chargeBalance(
    @Arg("amount", () => Int) amount: number,
    @Arg("idempotencyKey", () => String, { nullable: true }) idempotencyKey: string | null,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.wallet.chargeBalance(actorOf(ctx), { amount, idempotencyKey });
  }

  @Authorized()
  @Query(() => Int, { description: "The signed-in user's balance." })
  balance(@Ctx() ctx: Context) {
    return ctx.services.wallet.balance(actorOf(ctx));
  }

  @Authorized()
  @Query(() => [LedgerEntry], { description: "The signed-in user's balance history, newest first." })
  ledger(
    @Arg("first", () => Int, { nullable: true, description: "Page size: 50 unless given, at most 200." }) first: number | null,
    @Arg("after", () => ID, { nullable: true, description: "The id of the last entry of the previous page." }) after: string | null,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.wallet.ledger(actorOf(ctx), { first, after });
  }
}
