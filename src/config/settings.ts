// Every setting of contract/README.md (Settings) and a few of ours, read from the environment once at start.
// A bad value stops the start with one message that names every bad variable.
import { config as loadDotenv } from "dotenv";
import { parseClusterNodes } from "../redis/redis-client";

export interface Settings {
  port: number;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  jwtSecret: string | undefined;
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  holdSeconds: number;
  maxSeatsPerReservation: number;
  queueMaxActive: number;
  queueAdmitPerSecond: number;
  queueActiveSessionSeconds: number;
  queueWaitingIdleSeconds: number;
  maxCharge: number;
  maxBalance: number;
  accessTokenSeconds: number;
  rateLimitUserPerSecond: number;
  rateLimitAddressPerSecond: number;
  signInFailuresPerMinute: number;
  /** Refunds close this long before a date starts (v2, rule 21). */
  refundClosesHours: number;
  /** The refund fee, % of the total, rounded down (v2, rule 21). */
  refundFeePercent: number;
  /** No refund fee while the date starts more than this many days later (v2, rule 21). */
  refundFreeDays: number;
  /** Where the embedded database and the generated secret live. Not in the contract. */
  dataDir: string;
  /** Connections in this instance's PostgreSQL pool. Not in the contract. */
  databasePoolSize: number;
  /** enterQueue calls one user may make per second. Not in the contract. */
  queueEnterPerSecond: number;
  /** How long after its last database read an instance's in-memory seat map of a date is read again. Not in the contract. */
  seatMapMaxAgeMs: number;
  /** How many concerts /metrics labels by id (the rest: concert="other"). Not in the contract. */
  metricsConcertLabels: number;
  logLevel: "debug" | "info" | "warn" | "error" | "silent";
  /** Failed sign-ins from one address, whatever the e-mails, per minute. Not in the contract. */
  signInFailuresPerAddressPerMinute: number;
  /** Failed sign-ins for one e-mail from all addresses together, per minute. Not in the contract. */
  signInFailuresPerEmailPerMinute: number;
  /** Default ticketLimitPerUser of a new concert (v2, rule 19). */
  ticketLimitPerUser: number;
  /** Open WebSockets one instance takes; past it an upgrade is answered 503 with Retry-After. Not in the contract. */
  wsMaxSockets: number;
  /** WebSockets upgraded but not yet through connection_init; past it an upgrade is answered 503 with Retry-After. Not in the contract. */
  wsMaxStarting: number;
  /** How long a new WebSocket has to send connection_init (graphql-ws's connectionInitWaitTimeout). Not in the contract. */
  wsInitTimeoutMs: number;
  /** A WebSocket is pinged this long after its last ping, and ended once a ping has gone unanswered as long. 0: never. Not in the contract. */
  wsKeepAliveMs: number;
  /** The listening socket's accept queue (the kernel caps it at net.core.somaxconn). Not in the contract. */
  listenBacklog: number;
  /** New connections taken per event-loop turn: libuv takes one per descriptor of the listening socket. Not in the contract. */
  acceptsPerTurn: number;
  /** REDIS_CLUSTER_NODES (rule 28): some nodes of a Redis Cluster, instead of REDIS_URL. */
  redisClusterNodes: { host: string; port: number }[] | undefined;
}

export class SettingsError extends Error {}

type Env = Record<string, string | undefined>;

const INT_MAX = 2_147_483_647;

/** Integer settings: [variable, default, minimum, maximum]. */
const INTEGERS = {
  port: ["PORT", 4000, 0, 65_535],
  holdSeconds: ["HOLD_SECONDS", 300, 1, 86_400],
  maxSeatsPerReservation: ["MAX_SEATS_PER_RESERVATION", 4, 1, 100],
  queueMaxActive: ["QUEUE_MAX_ACTIVE", 100, 1, 10_000_000],
  queueAdmitPerSecond: ["QUEUE_ADMIT_PER_SECOND", 50, 1, 1_000_000],
  queueActiveSessionSeconds: ["QUEUE_ACTIVE_SESSION_SECONDS", 600, 1, 86_400],
  queueWaitingIdleSeconds: ["QUEUE_WAITING_IDLE_SECONDS", 120, 1, 86_400],
  maxCharge: ["MAX_CHARGE", 1_000_000, 1, INT_MAX],
  maxBalance: ["MAX_BALANCE", 10_000_000, 1, INT_MAX],
  accessTokenSeconds: ["ACCESS_TOKEN_SECONDS", 86_400, 1, 31_536_000],
  rateLimitUserPerSecond: ["RATE_LIMIT_USER_PER_SECOND", 50, 0, 1_000_000],
  rateLimitAddressPerSecond: ["RATE_LIMIT_ADDRESS_PER_SECOND", 0, 0, 1_000_000],
  signInFailuresPerMinute: ["SIGN_IN_FAILURES_PER_MINUTE", 10, 1, 1_000_000],
  databasePoolSize: ["DATABASE_POOL_SIZE", 20, 1, 1_000],
  queueEnterPerSecond: ["QUEUE_ENTER_PER_SECOND", 5, 1, 1_000_000],
  seatMapMaxAgeMs: ["SEAT_MAP_MAX_AGE_MS", 1_000, 0, 3_600_000],
  signInFailuresPerAddressPerMinute: ["SIGN_IN_FAILURES_PER_ADDRESS_PER_MINUTE", 30, 1, 1_000_000],
  signInFailuresPerEmailPerMinute: ["SIGN_IN_FAILURES_PER_EMAIL_PER_MINUTE", 100, 1, 1_000_000],
  metricsConcertLabels: ["METRICS_CONCERT_LABELS", 20, 0, 1_000],
  ticketLimitPerUser: ["TICKET_LIMIT_PER_USER", 4, 1, 1_000],
  refundClosesHours: ["REFUND_CLOSES_HOURS", 24, 0, 87_600],
  refundFeePercent: ["REFUND_FEE_PERCENT", 10, 0, 100],
  refundFreeDays: ["REFUND_FREE_DAYS", 7, 0, 3_650],
  // One process may open 20,000 files here (ulimit -n): about 18,000 sockets leave room for the rest.
  wsMaxSockets: ["WS_MAX_SOCKETS", 18_000, 1, 10_000_000],
  wsMaxStarting: ["WS_MAX_STARTING", 2_000, 1, 10_000_000],
  wsInitTimeoutMs: ["WS_INIT_TIMEOUT_MS", 15_000, 100, 600_000],
  // graphql-ws's default period; every socket is pinged by one shared round (src/http/lean-socket.ts).
  wsKeepAliveMs: ["WS_KEEPALIVE_MS", 12_000, 0, 3_600_000],
  // Node's default is 511: a crowd's connections overflowed it (126,498 overflows and 70,292 SYN
  // retransmissions in one rush, each retransmission a client waiting 1, 3, 7… s).
  listenBacklog: ["LISTEN_BACKLOG", 4_096, 1, 65_535],
  // libuv accepts one connection per loop turn and descriptor: a busy server took 16 a second
  // while a crowd's WebSockets waited in the accept queue (src/http/listen-copies.ts).
  acceptsPerTurn: ["ACCEPTS_PER_TURN", 32, 1, 256],
} as const satisfies Record<string, readonly [string, number, number, number]>;

const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;

/** Reads the settings from `env` (and a `.env` file when `env` is process.env). */
export function loadSettings(env: Env = process.env): Settings {
  if (env === process.env) loadDotenv({ quiet: true });
  const problems: string[] = [];
  const ints = {} as Record<keyof typeof INTEGERS, number>;
  for (const [field, [name, fallback, min, max]] of Object.entries(INTEGERS)) {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === "") {
      ints[field as keyof typeof INTEGERS] = fallback;
      continue;
    }
    const value = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`${name}=${JSON.stringify(raw)} must be a whole number from ${min} to ${max}`);
    }
    ints[field as keyof typeof INTEGERS] = value;
  }
  const text = (name: string) => {
    const raw = env[name]?.trim();
    return raw === undefined || raw === "" ? undefined : raw;
  };
  const databaseUrl = text("DATABASE_URL");
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push("DATABASE_URL must be a postgresql:// URL");
  }
  const redisUrl = text("REDIS_URL");
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) problems.push("REDIS_URL must be a redis:// URL");
  const jwtSecret = text("JWT_SECRET");
  if (jwtSecret && jwtSecret.length < 32) problems.push("JWT_SECRET must be at least 32 characters");
  const adminEmail = text("ADMIN_EMAIL");
  const adminPassword = text("ADMIN_PASSWORD");
  if ((adminEmail === undefined) !== (adminPassword === undefined)) {
    problems.push("ADMIN_EMAIL and ADMIN_PASSWORD must be set together");
  }
  let redisClusterNodes: Settings["redisClusterNodes"];
  const clusterText = text("REDIS_CLUSTER_NODES");
  if (clusterText) {
    try {
      const nodes = parseClusterNodes(clusterText);
      if (nodes.length === 0) throw new Error("no node");
      redisClusterNodes = nodes;
    } catch (error) {
      problems.push(`REDIS_CLUSTER_NODES must be host:port,host:port,… (${(error as Error).message})`);
    }
    if (redisUrl) problems.push("REDIS_URL and REDIS_CLUSTER_NODES must not both be set");
  }
  if (ints.maxCharge > ints.maxBalance) problems.push("MAX_CHARGE must not exceed MAX_BALANCE");
  const logLevel = (text("LOG_LEVEL") ?? "info") as Settings["logLevel"];
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}`);
  if (problems.length > 0) {
    throw new SettingsError(`Invalid settings:\n  - ${problems.join("\n  - ")}`);
  }
  return {
    ...ints,
    databaseUrl,
    redisUrl,
    jwtSecret,
    adminEmail,
    adminPassword,
    dataDir: text("DATA_DIR") ?? "./data",
    logLevel,
    redisClusterNodes,
  };
}
