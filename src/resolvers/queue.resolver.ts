import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver, Root, Subscription } from "type-graphql";
import { QueuePolicy, QueuePolicyInput, QueueStats, QueueTicket } from "../schema/queue.type";
import type { Context } from "../graphql/context";
import { actorOf } from "../graphql/auth-checker";
import type { QueueTicketView } from "../services/queue/queue.types";
import type { QueueStatsView } from "../services/queue/queue.service";

@Resolver(() => QueueTicket)
export class QueueResolver {
  @Authorized()
  @Mutation(() => QueueTicket, { description: "Enter the waiting line of a concert, or get back the token already held for it." })
  enterQueue(@Arg("concertId", () => ID) concertId: string, @Ctx() ctx: Context) {
    return ctx.services.queue.enterQueue(actorOf(ctx), concertId);
  }

  @Authorized()
  @Mutation(() => QueueTicket, { description: "Give the place up; the token becomes EXPIRED (LEFT)." })
  leaveQueue(@Arg("token", () => String) token: string, @Ctx() ctx: Context) {
    return ctx.services.queue.leaveQueue(actorOf(ctx), token);
  }

  @Authorized()
  @Query(() => QueueTicket, { description: "Where a queue token stands. Needs the token's own user." })
  queueStatus(@Arg("token", () => String) token: string, @Ctx() ctx: Context) {
    return ctx.services.queue.queueStatus(actorOf(ctx), token);
  }

  @Authorized()
  @Query(() => QueuePolicy, { description: "Admin only." })
  queuePolicy(@Arg("concertId", () => ID) concertId: string, @Ctx() ctx: Context) {
    return ctx.services.queue.getPolicy(actorOf(ctx), concertId);
  }

  @Authorized()
  @Mutation(() => QueuePolicy, { description: "Admin only. Fields left out keep their value." })
  updateQueuePolicy(
    @Arg("concertId", () => ID) concertId: string,
    @Arg("input", () => QueuePolicyInput) input: QueuePolicyInput,
    @Ctx() ctx: Context,
  ) {
    return ctx.services.queue.updatePolicy(actorOf(ctx), concertId, { ...input });
  }

  @Authorized()
  @Mutation(() => QueuePolicy, {
    description: "Admin only. Stops (false) or resumes (true) admission from the line of a concert; ACTIVE sessions go on (rule 25).",
  })
  setAdmission(@Arg("concertId", () => ID) concertId: string, @Arg("open", () => Boolean) open: boolean, @Ctx() ctx: Context) {
    return ctx.services.queue.setAdmission(actorOf(ctx), concertId, open);
  }

  @Authorized()
  @Subscription(() => QueueStats, {
    description: "Admin only. The concert's QueueStats now, then about once a second while anything in it changes (rule 26).",
    subscribe: ({ args, context }) => (context as Context).services.queueStats.subscribe(actorOf(context as Context), args.concertId as string),
  })
  queueStatsChanged(@Arg("concertId", () => ID) _concertId: string, @Root() stats: QueueStatsView): QueueStatsView {
    return stats;
  }

  @Authorized()
  @Query(() => QueueStats, { description: "Admin only." })
  queueStats(@Arg("concertId", () => ID) concertId: string, @Ctx() ctx: Context) {
    return ctx.services.queue.stats(actorOf(ctx), concertId);
  }

  @Authorized()
  @Subscription(() => QueueTicket, {
    description: "The ticket now, then again each time its status, place or estimate changes.",
    subscribe: ({ args, context }) => (context as Context).services.queueUpdates.subscribe(actorOf(context as Context), args.token as string),
  })
  queueStatusChanged(@Arg("token", () => String) _token: string, @Root() ticket: QueueTicketView): QueueTicketView {
    return ticket;
  }
}
