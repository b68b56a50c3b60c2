// The services one instance runs, built once by the composition root (src/app.ts).
import type { AccessTokens } from "../auth/access-tokens";
import type { ConcertService } from "./concert.service";
import type { UserService } from "./user.service";

export interface Services {
  tokens: AccessTokens;
  users: UserService;
  concerts: ConcertService;
}
