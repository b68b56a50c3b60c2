// SERVICE_UNAVAILABLE (rule 27): PostgreSQL or Redis did not answer, nothing was
// done, try again. The drivers' connection failures are recognised here and
// nowhere else; the error formatter turns them into this code, and HTTP answers
// 503 with Retry-After.
import { AppError } from "./app-error";

/** Seconds a client is told to wait before trying again. */
export const RETRY_AFTER_SECONDS = 1;

export const serviceUnavailable = (what: "database" | "redis", cause?: unknown) => {
  const error = new AppError(
    "SERVICE_UNAVAILABLE",
    `The ${what === "database" ? "database" : "queue store"} does not answer right now; nothing was done. Try again in a moment.`,
    { retryAfterSeconds: RETRY_AFTER_SECONDS },
  );
  if (cause !== undefined) Object.assign(error, { cause });
  return error;
};

// Node's socket errors: the server is not there (or went away).
const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
// PostgreSQL's: shutting down, starting up, connection gone (classes 08 and 57P).
const PG_UNAVAILABLE = /^(08|57P0[1-3])/;
// Prisma's: cannot reach the server, timed out, connection closed.
const PRISMA_UNAVAILABLE = new Set(["P1001", "P1002", "P1008", "P1017", "P2024"]);
const MESSAGES = [
  // pg
  /Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error/i,
  /canceling statement due to statement timeout/i,
  /Query read timeout/i,
  // ioredis
  /Stream isn't writeable/i,
  /Connection is closed/i,
  /Command timed out/i,
  /Reached the max retries per request limit/i,
  /Failed to refresh slots cache/i,
  /None of startup nodes is available/i,
  /Cluster isn't ready/i,
  /Too many Cluster redirections/i,
  /Cluster is ended/i,
  /^(CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN|READONLY)\b/,
];

/** Which dependency a driver error says is not answering, or null when it is some other failure. */
export function unavailableDependency(error: unknown, depth = 0): "database" | "redis" | null {
  if (!error || typeof error !== "object" || depth > 5) return null;
  if (error instanceof AppError) return null;
  const e = error as {
    name?: unknown;
    code?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
    originalError?: unknown;
    meta?: { driverAdapterError?: unknown };
    originalCode?: unknown;
  };
  const name = typeof e.name === "string" ? e.name : "";
  const message = typeof e.message === "string" ? e.message : "";
  const code = typeof e.code === "string" ? e.code : "";
  const redisish =
    /Redis|Cluster|MaxRetriesPerRequest/.test(name) ||
    /ioredis|Stream isn't writeable|Command timed out|CLUSTER|slots cache|startup nodes/i.test(message);
  if (name === "MaxRetriesPerRequestError" || name === "ClusterAllFailedError") return "redis";
  if (PRISMA_UNAVAILABLE.has(code)) return "database";
  if (code && PG_UNAVAILABLE.test(code) && code.length === 5) return "database";
  // Prisma's driver adapter: the server's code as originalCode, or only in the message.
  const original = typeof e.originalCode === "string" ? e.originalCode : /Code: `([0-9A-Z]{5})`/.exec(message)?.[1];
  if (original && PG_UNAVAILABLE.test(original)) return "database";
  if (SOCKET_CODES.has(code) || MESSAGES.some((m) => m.test(message))) return redisish ? "redis" : "database";
  for (const inner of [e.cause, e.originalError, e.meta?.driverAdapterError, ...(Array.isArray(e.errors) ? e.errors : [])]) {
    const found = unavailableDependency(inner, depth + 1);
    if (found) return found;
  }
  return null;
}

/** Rethrows a driver's "not answering" failure as SERVICE_UNAVAILABLE; anything else as it is. */
export function asUnavailable(error: unknown): unknown {
  const what = unavailableDependency(error);
  return what ? serviceUnavailable(what, error) : error;
}

export function isServiceUnavailable(error: unknown): boolean {
  return error instanceof AppError ? error.code === "SERVICE_UNAVAILABLE" : unavailableDependency(error) !== null;
}
