import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from "type-graphql";
import { Ticket } from "../schema/ticket.type";
import type { Context } from "../graphql/context";
import { actorOf } from "../graphql/auth-checker";

@Resolver(() => Ticket)
export class TicketResolver {
  @Authorized()
  @Query(() => [Ticket], { description: "The signed-in user's tickets (seats of CONFIRMED reservations), newest first." })
  tickets(@Ctx() ctx: Context) {
    return ctx.services.tickets.tickets(actorOf(ctx));
  }

  @Authorized()
  @Mutation(() => Ticket, { description: "Admin only. Admits a ticket at the door, once (rule 22)." })
  checkIn(@Arg("code", () => String) code: string, @Ctx() ctx: Context) {
    return ctx.services.tickets.checkIn(actorOf(ctx), code);
  }
}
