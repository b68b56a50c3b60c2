import { ConcertDateResolver, ConcertResolver } from "./concert.resolver";
import { UserResolver } from "./user.resolver";
import { QueueResolver } from "./queue.resolver";
import { ReservationResolver } from "./reservation.resolver";
import { PaymentResolver } from "./payment.resolver";
import { WalletResolver } from "./wallet.resolver";
import { SeatResolver } from "./seat.resolver";
import { TicketResolver } from "./ticket.resolver";
import { SalesReportResolver } from "./sales-report.resolver";

export const resolvers = [
  UserResolver,
  ConcertResolver,
  ConcertDateResolver,
  QueueResolver,
  ReservationResolver,
  PaymentResolver,
  WalletResolver,
  SeatResolver,
  TicketResolver,
  SalesReportResolver,
] as const;
