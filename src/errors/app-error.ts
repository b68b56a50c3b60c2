// The one error family. Every failure a client sees carries one of the
// codes of contract/README.md (Errors) in extensions.code; anything else is masked as
// INTERNAL_SERVER_ERROR by the error formatter.
import { GraphQLError } from "graphql";

export const ERROR_CODES = [
  "BAD_USER_INPUT",
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "NOT_FOUND",
  "EMAIL_TAKEN",
  "INVALID_CREDENTIALS",
  "QUEUE_TOKEN_REQUIRED",
  "QUEUE_TOKEN_INVALID",
  "QUEUE_NOT_ACTIVE",
  "QUEUE_TOKEN_EXPIRED",
  "SOLD_OUT",
  "SEAT_UNAVAILABLE",
  "HOLD_LIMIT",
  "HOLD_EXPIRED",
  "RESERVATION_NOT_HELD",
  "INSUFFICIENT_BALANCE",
  "BALANCE_LIMIT",
  "RATE_LIMITED",
  "TICKET_LIMIT",
  "SERVICE_UNAVAILABLE",
  "NOT_REFUNDABLE",
  "ALREADY_CHECKED_IN",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class AppError extends GraphQLError {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message, { extensions: { code, ...details } });
    this.code = code;
    this.name = "AppError";
  }
}

export const badInput = (message: string, field?: string) => new AppError("BAD_USER_INPUT", message, field ? { field } : undefined);

export const notFound = (what: string) => new AppError("NOT_FOUND", `No ${what} has that ID.`);

export const unauthenticated = (message = "Sign in first: send Authorization: Bearer <accessToken>.") => new AppError("UNAUTHENTICATED", message);

export const forbidden = (message: string) => new AppError("FORBIDDEN", message);
