import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import { Reservation } from "../schema/reservation.type";
import { Payment } from "../schema/payment.type";
import { Seat } from "../schema/concert.type";
import { Ticket } from "../schema/ticket.type";
import type { Context } from "../graphql/context";
import { actorOf } from "../graphql/auth-checker";
import type { ReservationView } from "../services/reservation.views";

@Resolver(() => Reservation)
export class ReservationResolver {
  @Authorized()
  @Mutation(() => Reservation, {
    description:
      "Hold 1 to 4 seats of one date for the hold time (5 minutes by default), all or none. Needs an ACTIVE queue token for the concert. Creates the PENDING payment.",
  })
  reserveSeats(@Arg("concertDateId", () => ID) concertDateId: string, @Arg("seatNumbers", () => [Int]) seatNumbers: number[], @Ctx() ctx: Context) {
    return ctx.services.reservations.reserveSeats(actorOf(ctx), { concertDateId, seatNumbers, queueToken: ctx.queueToken });
  }

  @Authorized()
  @Mutation(() => Reservation, { description: "Release a HELD reservation at once." })
  cancelReservation(@Arg("reservationId", () => ID) reservationId: string, @Ctx() ctx: Context) {
    return ctx.services.reservations.cancelReservation(actorOf(ctx), reservationId);
  }

  @Authorized()
  @Mutation(() => Reservation, {
    description: "Give a CONFIRMED reservation back: money to the balance less the fee, seats on sale again (rule 21). Needs only the access token.",
  })
  refundReservation(
    @Arg("reservationId", () => ID) reservationId: string,
    @Arg("idempotencyKey", () => String, { nullable: true }) idempotencyKey: string | null,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.refunds.refundReservation(actorOf(ctx), reservationId, idempotencyKey);
  }

  @Authorized()
  @Query(() => [Reservation], { description: "The signed-in user's reservations, newest first." })
  reservations(
    @Arg("first", () => Int, { nullable: true, description: "Page size: 50 unless given, at most 200." }) first: number | null,
    @Arg("after", () => ID, { nullable: true, description: "The id of the last reservation of the previous page." }) after: string | null,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.reservations.reservations(actorOf(ctx), { first, after });
  }

  @FieldResolver(() => [Seat])
  seats(@Root() reservation: ReservationView, @Ctx() ctx: Context) {
    return reservation.seats ?? ctx.loaders.seatsOfReservation.load(reservation.id);
  }

  @FieldResolver(() => [Ticket], { description: "One per seat once CONFIRMED; empty otherwise (rule 22)." })
  tickets(@Root() reservation: ReservationView, @Ctx() ctx: Context) {
    return reservation.status === "CONFIRMED" ? ctx.loaders.ticketsOfReservation.load(reservation.id) : [];
  }

  @FieldResolver(() => Payment)
  payment(@Root() reservation: ReservationView, @Ctx() ctx: Context) {
    return reservation.payment ?? ctx.loaders.paymentOfReservation.load(reservation.id);
  }
}
