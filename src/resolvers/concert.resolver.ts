import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import { AddConcertDateInput, Concert, ConcertDate, CreateConcertInput, SeatGrade, SeatGradeInput, UpdateConcertInput } from "../schema/concert.type";
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
  @Mutation(() => Concert, {
    description: "Admin only. Fields left out keep their value; saleOpensAt and ticketLimitPerUser only before the sale opens (rule 16).",
  })
  updateConcert(@Arg("id", () => ID) id: string, @Arg("input", () => UpdateConcertInput) input: UpdateConcertInput, @Ctx() ctx: Context) {
    return ctx.services.concerts.updateConcert(actorOf(ctx), id, { ...input });
  }

  @Authorized()
  @Mutation(() => ConcertDate, {
    description: "Admin only. Sets the grades and prices of a date's seats before any is held or sold (rule 20); seats in no grade keep theirs.",
  })
  async setSeatGrades(
    @Arg("concertDateId", () => ID) concertDateId: string,
    @Arg("grades", () => [SeatGradeInput]) grades: SeatGradeInput[],
    @Ctx() ctx: Context,
  ) {
    const dateId = await ctx.services.grades.setSeatGrades(actorOf(ctx), concertDateId, grades);
    return ctx.services.concerts.getDate(dateId);
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

  @FieldResolver(() => [SeatGrade], { description: "The date's grades, in seat-number order (rule 20)." })
  grades(@Root() date: ConcertDateView, @Ctx() ctx: Context) {
    return ctx.loaders.gradesOfDate.load(date.id);
  }

  @FieldResolver(() => Boolean)
  async soldOut(@Root() date: ConcertDateView, @Ctx() ctx: Context) {
    return (await ctx.loaders.availability.load(date.id)).soldOut;
  }
}
