import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from "type-graphql";
import { AuthPayload, User } from "../schema/user.type";
import type { Context } from "../graphql/context";
import { actorOf } from "../graphql/auth-checker";

@Resolver(() => User)
export class UserResolver {
  @Mutation(() => AuthPayload)
  signUp(@Arg("email", () => String) email: string, @Arg("password", () => String) password: string, @Ctx() ctx: Context) {
    return ctx.services.users.signUp({ email, password });
  }

  @Mutation(() => AuthPayload)
  signIn(@Arg("email", () => String) email: string, @Arg("password", () => String) password: string, @Ctx() ctx: Context) {
    return ctx.services.users.signIn({ email, password }, { address: ctx.address });
  }

  @Authorized()
  @Query(() => User, { description: "The signed-in user." })
  me(@Ctx() ctx: Context) {
    return ctx.services.users.me(actorOf(ctx));
  }
}
