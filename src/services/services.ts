// The services one instance runs, built once by the composition root (src/app.ts).
import type { AccessTokens } from "../auth/access-tokens";
import type { ConcertService } from "./concert.service";
import type { UserService } from "./user.service";
import type { QueueService } from "./queue/queue.service";
import type { QueueWatchers } from "./queue/queue-watchers";
import type { ReservationService } from "./reservation.service";
import type { PaymentService } from "./payment.service";
import type { WalletService } from "./wallet.service";
import type { SeatService } from "./seat.service";
import type { SeatGradeService } from "./seat-grades";
import type { QueueStatsWatch } from "./queue/queue-stats-watch";
import type { RefundService } from "./refund.service";
import type { TicketService } from "./ticket.service";
import type { SalesReportService } from "./sales-report.service";

export interface Services {
  tokens: AccessTokens;
  users: UserService;
  concerts: ConcertService;
  queue: QueueService;
  /** queueStatusChanged subscriptions held by this instance. */
  queueUpdates: QueueWatchers;
  reservations: ReservationService;
  payments: PaymentService;
  wallet: WalletService;
  seats: SeatService;
  /** queueStatsChanged subscriptions held by this instance (rule 26). */
  queueStats: QueueStatsWatch;
  /** Seat grades (rule 20). */
  grades: SeatGradeService;
  refunds: RefundService;
  tickets: TicketService;
  salesReport: SalesReportService;
}
