// One context factory for HTTP requests and WebSocket operations alike.
// DataLoaders are made fresh for every request (and every subscription event),
// so a cached value never outlives the operation that read it.
import { randomBytes } from "node:crypto";
import DataLoader from "dataloader";
import type { Actor } from "../auth/access-tokens";
import type { Services } from "../services/services";
import type { Availability, ConcertDateView } from "../services/concert.service";
import type { PaymentView } from "../services/reservation.views";
import type { SeatGradeView } from "../services/seat-grades";
import type { TicketView } from "../services/ticket.service";
import type { DirectNext } from "./subscription-executor";

export interface Context {
  requestId: string;
  /** The signed-in user, when a valid access token came with the request. */
  actor?: Actor;
  /** Why the access token that came with the request was refused. */
  authError?: string;
  /** The waiting-room pass (X-Queue-Token header or queueToken connection parameter). */
  queueToken?: string;
  /** The client's address, for per-address rate limits. */
  address: string;
  services: Services;
  loaders: Loaders;
  /**
   * Over HTTP (src/http/graphql-http.ts): `rawJson` is JSON (its UTF-8 bytes) to
   * put into the response in place of `placeholder` (a JSON string literal), for
   * answers built as text (fast-reads.plugin.ts). An object of its own because Apollo
   * hands resolvers and plugins a shallow copy of the context.
   */
  http?: { rawJson?: { placeholder: string; bytes: Buffer } };
  /** Over WebSocket: writes a `next` message of this subscription to its socket (see subscription-executor.ts). */
  sendNext?: DirectNext;
}

/**
 * Fresh DataLoaders for one request, each made on first use: most requests
 * (enterQueue, queueStatus) use none, and making them all was garbage on the
 * hot path.
 */
export class Loaders {
  private made: {
    datesOfConcert?: DataLoader<string, ConcertDateView[]>;
    availability?: DataLoader<string, Availability>;
    seatsOfReservation?: DataLoader<string, Awaited<ReturnType<Services["seats"]["seatsOfReservations"]>>[number]>;
    paymentOfReservation?: DataLoader<string, PaymentView>;
    gradesOfDate?: DataLoader<string, SeatGradeView[]>;
    ticketsOfReservation?: DataLoader<string, TicketView[]>;
  } = {};

  constructor(private readonly services: Services) {}

  get datesOfConcert() {
    return (this.made.datesOfConcert ??= new DataLoader((ids: readonly string[]) => this.services.concerts.datesOfConcerts(ids)));
  }

  get availability() {
    return (this.made.availability ??= new DataLoader((ids: readonly string[]) => this.services.concerts.availabilityOfDates(ids)));
  }

  get seatsOfReservation() {
    return (this.made.seatsOfReservation ??= new DataLoader((ids: readonly string[]) => this.services.seats.seatsOfReservations(ids)));
  }

  get gradesOfDate() {
    return (this.made.gradesOfDate ??= new DataLoader((ids: readonly string[]) => this.services.grades.gradesOfDates(ids)));
  }

  get paymentOfReservation() {
    return (this.made.paymentOfReservation ??= new DataLoader((ids: readonly string[]) => this.services.payments.paymentsOfReservations(ids)));
  }

  get ticketsOfReservation() {
    return (this.made.ticketsOfReservation ??= new DataLoader((ids: readonly string[]) => this.services.tickets.ticketsOfReservations(ids)));
  }
}

export function createLoaders(services: Services): Loaders {
  return new Loaders(services);
}

export interface ContextInput {
  authorization?: string;
  queueToken?: string;
  address?: string;
  requestId?: string;
}

/** A token seen for the first time has its signature checked (fast-jwt); a repeat answers from the verified-token cache. */
export async function createContext(services: Services, input: ContextInput): Promise<Context> {
  const { actor, error } = await readBearer(services, input.authorization);
  const queueToken = input.queueToken?.trim() || undefined;
  return {
    requestId: input.requestId ?? nextRequestId(),
    actor,
    authError: error,
    queueToken,
    address: input.address ?? "unknown",
    services,
    loaders: createLoaders(services),
  };
}

// Request ids: this process's random prefix and a counter, unique without a UUID per request.
const ID_PREFIX = randomBytes(4).toString("hex");
let requestSeq = 0;
const nextRequestId = () => `${ID_PREFIX}-${(++requestSeq).toString(36)}`;

async function readBearer(services: Services, header: string | undefined): Promise<{ actor?: Actor; error?: string }> {
  if (header === undefined || header.trim() === "") return {};
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) return { error: "The Authorization header must be: Bearer <accessToken>." };
  const result = await services.tokens.verify(match[1]);
  return "error" in result ? { error: result.error } : { actor: result };
}
