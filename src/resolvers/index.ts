import { ConcertDateResolver, ConcertResolver } from "./concert.resolver";
import { UserResolver } from "./user.resolver";
import { QueueResolver } from "./queue.resolver";

export const resolvers = [UserResolver, ConcertResolver, ConcertDateResolver, QueueResolver] as const;
