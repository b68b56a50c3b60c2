// The services one instance runs, built once by the composition root (src/app.ts).
import type { AccessTokens } from "../auth/access-tokens";
import type { ConcertService } from "./concert.service";
import type { UserService } from "./user.service";
import type { QueueService } from "./queue/queue.service";
import type { QueueWatchers } from "./queue/queue-watchers";

export interface Services {
  tokens: AccessTokens;
  users: UserService;
  concerts: ConcertService;
  queue: QueueService;
  /** queueStatusChanged subscriptions held by this instance. */
  queueUpdates: QueueWatchers;
}
