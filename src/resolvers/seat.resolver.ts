import { Arg, Authorized, Ctx, ID, Query, Resolver, Root, Subscription, type SubscribeResolverData } from "type-graphql";
import { Seat, SeatAvailability } from "../schema/concert.type";
import type { Context } from "../graphql/context";
import { actorOf } from "../graphql/auth-checker";
import type { SeatView } from "../services/reservation.views";

type SeatArgs = { concertDateId: string; asOperator?: boolean | null };

const AS_OPERATOR = {
  nullable: true,
  description: "Admin only: read as the sale's operator, without a queue token (anyone else: FORBIDDEN). Left out: the queue token rules as usual.",
} as const;

@Resolver(() => Seat)
export class SeatResolver {
  @Authorized()
  @Query(() => [Seat], { description: "Every seat of one concert date, with its status. Needs an ACTIVE queue token for that concert." })
  seats(
    @Arg("concertDateId", () => ID) concertDateId: string,
    @Arg("asOperator", () => Boolean, AS_OPERATOR) asOperator: boolean | null | undefined,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.seats.seats(actorOf(ctx), { concertDateId, queueToken: ctx.queueToken, asOperator });
  }

  @Authorized()
  @Query(() => SeatAvailability, {
    description:
      "The statuses of every seat of one concert date in compact form, with a version (see SeatAvailability): the cheap way to read the seat map. " +
      "Needs an ACTIVE queue token for that concert; the same errors, in the same order, as `seats`.",
  })
  seatAvailability(
    @Arg("concertDateId", () => ID) concertDateId: string,
    @Arg("asOperator", () => Boolean, AS_OPERATOR) asOperator: boolean | null | undefined,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.seats.availability(actorOf(ctx), { concertDateId, queueToken: ctx.queueToken, asOperator });
  }

  // The token is checked when the subscription starts (connectionParams.queueToken);
  // the stream completes when that token ends.
  @Authorized()
  @Subscription(() => Seat, {
    description: "Each seat of the date whose status changes, as it changes. Needs an ACTIVE queue token for the concert.",
    subscribe: ({ args, context }: SubscribeResolverData<unknown, SeatArgs, Context>) =>
      context.services.seats.watchSeats(actorOf(context), {
        concertDateId: args.concertDateId,
        queueToken: context.queueToken,
        asOperator: args.asOperator,
      }),
  })
  seatStatusChanged(
    @Arg("concertDateId", () => ID) _concertDateId: string,
    @Arg("asOperator", () => Boolean, AS_OPERATOR) _asOperator: boolean | null | undefined,
    @Root() seat: SeatView,
  ): SeatView {
    return seat;
  }
}
