// The executable schema, from the type-graphql resolvers.
import "reflect-metadata";
import { buildSchemaSync } from "type-graphql";
import type { GraphQLSchema } from "graphql";
import { DateTimeScalar } from "../schema/date-time.scalar";
import { authChecker } from "./auth-checker";
import { resolvers } from "../resolvers";

let cached: GraphQLSchema | undefined;

/** The schema is the same for every instance in a process: build it once. */
export function buildAppSchema(): GraphQLSchema {
  cached ??= buildSchemaSync({
    resolvers,
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    authChecker,
    validate: false,
    // Every subscription brings its own subscribe function over the instance's
    // event bus; type-graphql insists on a PubSub all the same.
    pubSub: {
      publish() {
        throw new Error("publish through the EventBus, not type-graphql's PubSub");
      },
      subscribe() {
        throw new Error("subscriptions take a subscribe function");
      },
    },
  });
  return cached;
}
