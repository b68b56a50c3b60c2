// Structured logs through pino: one JSON object per line on stdout, with ISO
// time, the level as a word and `msg`. Secrets never reach the line: known
// fields (authorization headers, connection parameters, queue and access
// tokens, passwords, the JWT secret, GraphQL variables) are redacted by path,
// and as a last guard every line is scrubbed of anything shaped like a bearer
// token, a JWT or a queue token, wherever it hides (an error message, a URL).
import pino from "pino";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Whether a level is logged (to skip building fields nobody reads). */
  isLevelEnabled?(level: Exclude<LogLevel, "silent">): boolean;
}

const SECRET_KEYS = [
  "authorization",
  "Authorization",
  "connectionParams",
  "queueToken",
  "token",
  "accessToken",
  "password",
  "newPassword",
  "jwtSecret",
  "JWT_SECRET",
  "adminPassword",
  "ADMIN_PASSWORD",
  "cookie",
  "variables",
];

/** Redacted at the top level and up to three levels down (e.g. req.headers.authorization). */
export const REDACT_PATHS = [
  ...SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `*.*.*.${key}`]),
  ...["x-queue-token", "set-cookie"].flatMap((key) => [`*["${key}"]`, `*.*["${key}"]`, `*.*.*["${key}"]`]),
];

const CENSOR = "[Redacted]";
/** Shapes of secrets, wherever they appear in a line. */
const SECRET_SHAPES = [
  /\b[Bb]earer\s+[A-Za-z0-9._~+/=-]+/g, // an Authorization header's value
  /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, // a JWT (access token)
  /\bqt_[A-Za-z0-9_-]{20,}/g, // a queue token (src/services/queue/queue-token.ts)
];

export function scrubSecrets(text: string): string {
  let out = text;
  for (const shape of SECRET_SHAPES) out = out.replace(shape, CENSOR);
  return out;
}

export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  const log = pino(
    {
      level,
      base: undefined, // no pid/hostname on every line: the platform's log shipper adds the host
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { error: pino.stdSerializers.err, err: pino.stdSerializers.err },
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      hooks: { streamWrite: scrubSecrets },
    },
    { write },
  );
  const emit = (fn: "debug" | "info" | "warn" | "error") => (msg: string, fields?: Record<string, unknown>) => {
    if (fields) log[fn](fields, msg);
    else log[fn](msg);
  };
  return {
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    isLevelEnabled: (lvl) => log.isLevelEnabled(lvl),
  };
}
