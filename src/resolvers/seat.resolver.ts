import { Arg, Authorized, Ctx, ID, Query, Resolver, Root, Subscription, type SubscribeResolverData } from "type-graphql";
import { Seat, SeatAvailability } from "../schema/concert.type";
import type { Context } from "../graphql/context";
import { actorOf } from "../graphql/auth-checker";
import type { SeatView } from "../services/reservation.views";

type SeatArgs = { concertDateId: string };

@Resolver(() => Seat)
export class SeatResolver {
  @Authorized()
  @Query(() => [Seat], { description: "Every seat of one concert date, with its status. Needs an ACTIVE queue token for that concert." })
  seats(@Arg("concertDateId", () => ID) concertDateId: string, @Ctx() ctx: Context) {
    return ctx.services.seats.seats(actorOf(ctx), { concertDateId, queueToken: ctx.queueToken });
  }

  @Authorized()
  @Query(() => SeatAvailability, {
    description:
      "The statuses of every seat of one concert date in compact form, with a version (see SeatAvailability): the cheap way to read the seat map. " +
      "Needs an ACTIVE queue token for that concert; the same errors, in the same order, as `seats`.",
  })
  seatAvailability(@Arg("concertDateId", () => ID) concertDateId: string, @Ctx() ctx: Context) {
    return ctx.services.seats.availability(actorOf(ctx), { concertDateId, queueToken: ctx.queueToken });
  }

  // The token is checked when the subscription starts (connectionParams.queueToken);
  // the stream completes when that token ends.
  @Authorized()
  @Subscription(() => Seat, {
    description: "Each seat of the date whose status changes, as it changes. Needs an ACTIVE queue token for the concert.",
    subscribe: ({ args, context }: SubscribeResolverData<unknown, SeatArgs, Context>) =>
      context.services.seats.watchSeats(actorOf(context), { concertDateId: args.concertDateId, queueToken: context.queueToken }),
  })
  seatStatusChanged(@Arg("concertDateId", () => ID) _concertDateId: string, @Root() seat: SeatView): SeatView {
    return seat;
  }
}
