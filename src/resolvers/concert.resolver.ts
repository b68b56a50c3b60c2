import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import { AddConcertDateInput, Concert, ConcertDate, CreateConcertInput } from "../schema/concert.type";
import type { Context } from "../graphql/context";
import { actorOf } from "../graphql/auth-checker";
import type { ConcertDateView, ConcertView } from "../services/concert.service";

@Resolver(() => Concert)
export class ConcertResolver {
  @Query(() => [Concert], { description: "Concerts on sale. Public." })
  concerts(@Ctx() ctx: Context) {
    return ctx.services.concerts.listConcerts();
  }

  @Query(() => Concert, { nullable: true, description: "One concert. Public." })
  concert(@Arg("id", () => ID) id: string, @Ctx() ctx: Context) {
    return ctx.services.concerts.findConcert(id);
  }

  @Authorized()
  @Query(() => [ConcertDate], { description: "Dates of a concert that still have seats. Needs an ACTIVE queue token for that concert." })
  availableDates(@Arg("concertId", () => ID) concertId: string, @Ctx() ctx: Context) {
    return ctx.services.concerts.availableDates(actorOf(ctx), concertId, ctx.queueToken);
  }

  @FieldResolver(() => [ConcertDate])
  dates(@Root() concert: ConcertView, @Ctx() ctx: Context) {
    return ctx.loaders.datesOfConcert.load(concert.id);
  }

  @Authorized()
  @Mutation(() => Concert, { description: "Admin only." })
  createConcert(@Arg("input", () => CreateConcertInput) input: CreateConcertInput, @Ctx() ctx: Context) {
    return ctx.services.concerts.createConcert(actorOf(ctx), input);
  }

  @Authorized()
  @Mutation(() => ConcertDate, { description: "Admin only. Creates seats numbered 1..seatCount, each at price." })
  addConcertDate(@Arg("input", () => AddConcertDateInput) input: AddConcertDateInput, @Ctx() ctx: Context) {
    return ctx.services.concerts.addConcertDate(actorOf(ctx), input);
  }
}

@Resolver(() => ConcertDate)
export class ConcertDateResolver {
  @FieldResolver(() => Int)
  async availableSeats(@Root() date: ConcertDateView, @Ctx() ctx: Context) {
    return (await ctx.loaders.availability.load(date.id)).availableSeats;
  }

  @FieldResolver(() => Boolean)
  async soldOut(@Root() date: ConcertDateView, @Ctx() ctx: Context) {
    return (await ctx.loaders.availability.load(date.id)).soldOut;
  }
}
