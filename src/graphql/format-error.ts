// Every error a client sees carries one of the codes of contract/README.md (Errors). GraphQL's own
// parse and validation failures are bad input; anything unexpected is masked.
import type { GraphQLFormattedError } from "graphql";
import { unwrapResolverError } from "@apollo/server/errors";
import { AppError, ERROR_CODES } from "../errors/app-error";
import { serviceUnavailable, unavailableDependency } from "../errors/unavailable";

const CONTRACT_CODES = new Set<string>(ERROR_CODES);
const BAD_INPUT_CODES = new Set([
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_USER_INPUT",
  "BAD_REQUEST",
  "OPERATION_RESOLUTION_FAILURE",
  "PERSISTED_QUERY_NOT_SUPPORTED",
]);

export const INTERNAL_MESSAGE = "Something went wrong on our side; it has been logged.";

/** True when an error is one we did not mean to send (a bug or an outage). */
export function isUnexpected(error: unknown): boolean {
  const original = unwrapResolverError(error);
  if (original instanceof AppError) return false;
  if (unavailableDependency(original)) return false; // an outage, counted and logged once by its watchers
  const code = (original as { extensions?: { code?: unknown } })?.extensions?.code;
  return !(typeof code === "string" && (CONTRACT_CODES.has(code) || BAD_INPUT_CODES.has(code)));
}

export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof AppError) {
    return { message: original.message, locations: formatted.locations, path: formatted.path, extensions: { ...original.extensions } };
  }
  const down = unavailableDependency(original);
  if (down) {
    const unavailable = serviceUnavailable(down);
    return { message: unavailable.message, locations: formatted.locations, path: formatted.path, extensions: { ...unavailable.extensions } };
  }
  const code = formatted.extensions?.code;
  if (typeof code === "string" && CONTRACT_CODES.has(code)) return withoutStack(formatted);
  if (typeof code === "string" && BAD_INPUT_CODES.has(code)) {
    return { ...withoutStack(formatted), extensions: { code: "BAD_USER_INPUT" } };
  }
  return { message: INTERNAL_MESSAGE, path: formatted.path, extensions: { code: "INTERNAL_SERVER_ERROR" } };
}

function withoutStack(formatted: GraphQLFormattedError): GraphQLFormattedError {
  const { stacktrace: _, ...extensions } = (formatted.extensions ?? {}) as Record<string, unknown>;
  return { ...formatted, extensions };
}
