// @Authorized() means "signed in". Roles are checked in the services, where the
// contract's order of errors puts them (after input and existence checks).
import type { AuthChecker } from "type-graphql";
import { unauthenticated } from "../errors/app-error";
import type { Context } from "./context";

export const authChecker: AuthChecker<Context> = ({ context }) => {
  if (!context.actor) throw unauthenticated(context.authError);
  return true;
};

/** The signed-in user of a resolver guarded by @Authorized(). */
export function actorOf(context: Context) {
  if (!context.actor) throw unauthenticated(context.authError);
  return context.actor;
}
