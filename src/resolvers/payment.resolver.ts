import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import { Payment } from "../schema/payment.type";
import type { Context } from "../graphql/context";
import { actorOf } from "../graphql/auth-checker";

@Resolver(() => Payment)
export class PaymentResolver {
  @Authorized()
  @Mutation(() => Payment, { description: "Pay a HELD reservation from the balance. Needs the ACTIVE queue token it was held with." })
  pay(
    @Arg("reservationId", () => ID) reservationId: string,
    @Arg("idempotencyKey", () => String, { nullable: true }) idempotencyKey: string | null,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.payments.pay(actorOf(ctx), { reservationId, idempotencyKey, queueToken: ctx.queueToken });
  }

  @Authorized()
  @Query(() => [Payment], { description: "The signed-in user's completed payments, newest first." })
  payments(
    @Arg("first", () => Int, { nullable: true, description: "Page size: 50 unless given, at most 200." }) first: number | null,
    @Arg("after", () => ID, { nullable: true, description: "The id of the last payment of the previous page." }) after: string | null,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.payments.payments(actorOf(ctx), { first, after });
  }
}
