// One context factory for HTTP requests and WebSocket operations alike.
// DataLoaders are made fresh for every request (and every subscription event),
// so a cached value never outlives the operation that read it.
import { randomUUID } from "node:crypto";
import DataLoader from "dataloader";
import type { Actor } from "../auth/access-tokens";
import type { Services } from "../services/services";

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
}

export function createLoaders(services: Services) {
  return {
    datesOfConcert: new DataLoader((ids: readonly string[]) => services.concerts.datesOfConcerts(ids)),
    availability: new DataLoader((ids: readonly string[]) => services.concerts.availabilityOfDates(ids)),
    seatsOfReservation: new DataLoader((ids: readonly string[]) => services.seats.seatsOfReservations(ids)),
    paymentOfReservation: new DataLoader((ids: readonly string[]) => services.payments.paymentsOfReservations(ids)),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;

export interface ContextInput {
  authorization?: string;
  queueToken?: string;
  address?: string;
  requestId?: string;
}

export function createContext(services: Services, input: ContextInput): Context {
  const { actor, error } = readBearer(services, input.authorization);
  const queueToken = input.queueToken?.trim() || undefined;
  return {
    requestId: input.requestId ?? randomUUID(),
    actor,
    authError: error,
    queueToken,
    address: input.address ?? "unknown",
    services,
    loaders: createLoaders(services),
  };
}

function readBearer(services: Services, header: string | undefined): { actor?: Actor; error?: string } {
  if (header === undefined || header.trim() === "") return {};
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) return { error: "The Authorization header must be: Bearer <accessToken>." };
  const result = services.tokens.verify(match[1]);
  return "error" in result ? { error: result.error } : { actor: result };
}
