import { ConcertDateResolver, ConcertResolver } from "./concert.resolver";
import { UserResolver } from "./user.resolver";

export const resolvers = [UserResolver, ConcertResolver, ConcertDateResolver] as const;
