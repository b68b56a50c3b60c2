// The composition root: the one place that builds the database client, the
// Redis clients, the event bus, the rate limiter and the services, and hands
// them on as plain arguments. Tests and the benchmark build instances here too.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type Redis from "ioredis";
import type { Cluster } from "ioredis";
import type { Settings } from "./config/settings";
import { createDatabase, createPool, type Database } from "./db/database";
import { createAccessTokens, loadOrCreateSecret } from "./auth/access-tokens";
import { createMemoryRateLimiter, createRedisRateLimiter } from "./limits/rate-limiter";
import { createMemoryEventBus, createRedisEventBus, type EventBus } from "./pubsub/event-bus";
import { UserService } from "./services/user.service";
import { ConcertService } from "./services/concert.service";
import type { Services } from "./services/services";
import { QueueService } from "./services/queue/queue.service";
import { QueuePolicies } from "./services/queue/queue-policy";
import { QueueWatchers } from "./services/queue/queue-watchers";
import { QueueTicker } from "./services/queue/queue-ticker";
import { QueueStatsWatch } from "./services/queue/queue-stats-watch";
import { SeatGradeService } from "./services/seat-grades";
import { MemoryQueueStore } from "./services/queue/memory-queue-store";
import { RedisQueueStore } from "./services/queue/redis-queue-store";
import { DurableQueueStore } from "./services/queue/durable-queue-store";
import { QueueJournal } from "./services/queue/queue-journal";
import { LineKeeper } from "./services/queue/queue-rebuild";
import { connectRedis, redisAnswers, waitUntilReady, type RedisClient } from "./redis/redis-client";
import { createShardedEventBus } from "./pubsub/sharded-event-bus";
import { ReservationService } from "./services/reservation.service";
import { PaymentService } from "./services/payment.service";
import { WalletService } from "./services/wallet.service";
import { SeatService } from "./services/seat.service";
import { SeatMaps } from "./services/seat-maps";
import { RefundService } from "./services/refund.service";
import { TicketService } from "./services/ticket.service";
import { SalesReportService } from "./services/sales-report.service";
import { HoldSweeper } from "./services/hold-sweeper";
import { buildAppSchema } from "./graphql/build-schema";
import { createApollo } from "./graphql/apollo";
import { createContext } from "./graphql/context";
import { createRequestGuard } from "./graphql/request-guard";
import { OperationGate } from "./graphql/operation-gate";
import { CatalogueListSizes } from "./graphql/list-sizes";
import { createGraphqlHttpHandler } from "./http/graphql-http";
import { attachGraphqlWs } from "./http/graphql-ws";
import { createRequestHandler } from "./http/routes";
import { createIde } from "./http/ide";
import { createConsolePage } from "./http/console";
import { addListenCopies, type ListenCopies } from "./http/listen-copies";
import { createLogger, type Logger } from "./observability/logger";
import { Metrics } from "./observability/metrics";
import { instrumentPool, instrumentRedis } from "./observability/instrument";
import { requestIdOf } from "./observability/request-id";

export interface AppOptions {
  settings: Settings;
  /** The PostgreSQL to use (the embedded one's URL when DATABASE_URL is unset). */
  databaseUrl: string;
  logger?: Logger;
}

export interface App {
  services: Services;
  db: Database;
  bus: EventBus;
  redis?: RedisClient;
  httpServer: Server;
  logger: Logger;
  /** Connections the server can accept in one event-loop turn once listening: 1 + the listening socket's copies (ACCEPTS_PER_TURN). */
  readonly acceptsPerTurn: number;
  listen(port?: number, host?: string): Promise<{ url: string; port: number }>;
  /** Stops taking work, finishes what it has, closes sockets and pools. Idempotent. */
  close(): Promise<void>;
}

const DRAIN_MS = 8_000;

export async function createApp(options: AppOptions): Promise<App> {
  const { settings } = options;
  const logger = options.logger ?? createLogger(settings.logLevel);
  const metrics = new Metrics({ maxConcertLabels: settings.metricsConcertLabels });
  const db = createDatabase(options.databaseUrl, settings.databasePoolSize);
  instrumentPool(db.pool, "main", metrics);

  // Redis (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES), set to fail fast (src/redis/redis-client.ts).
  const redisTarget = settings.redisClusterNodes
    ? { clusterNodes: settings.redisClusterNodes }
    : settings.redisUrl
      ? { url: settings.redisUrl }
      : undefined;
  const openRedis = (role: "commands" | "subscriber" = "commands") => instrumentRedis(connectRedis(redisTarget!, role), metrics);
  const redis = redisTarget ? openRedis() : undefined;
  const bus = !redisTarget
    ? createMemoryEventBus()
    : redisTarget.clusterNodes
      ? createShardedEventBus(openRedis() as Cluster, openRedis("subscriber") as Cluster)
      : createRedisEventBus((role) => openRedis(role) as Redis);
  const limiter = redis ? createRedisRateLimiter(redis) : createMemoryRateLimiter();
  if (redis && !(await waitUntilReady(redis, 3_000))) logger.warn("Redis does not answer yet; the queue answers SERVICE_UNAVAILABLE until it does");

  const tokens = createAccessTokens(loadOrCreateSecret(settings.jwtSecret, settings.dataDir), settings.accessTokenSeconds);
  // With Redis, the line is journaled in PostgreSQL and rebuilt from it when
  // Redis loses it (rule 27); the journal has connections of its own.
  const journalPool = redis ? instrumentPool(QueueJournal.createPool(options.databaseUrl, 3), "journal", metrics) : undefined;
  const keeper = redis && journalPool ? new LineKeeper(redis, journalPool, logger) : undefined;
  const queueStore =
    redis && journalPool && keeper
      ? new DurableQueueStore(new RedisQueueStore(redis, { guarded: true }), new QueueJournal(journalPool), keeper, journalPool)
      : new MemoryQueueStore();
  const policies = new QueuePolicies(
    db.prisma,
    {
      maxActiveUsers: settings.queueMaxActive,
      admitPerSecond: settings.queueAdmitPerSecond,
      activeSessionSeconds: settings.queueActiveSessionSeconds,
    },
    bus,
  );
  const queue = new QueueService({
    store: queueStore,
    policies,
    pool: db.pool,
    bus,
    limiter,
    idleSeconds: settings.queueWaitingIdleSeconds,
    enterPerSecond: settings.queueEnterPerSecond,
    metrics,
    logger,
  });
  const queueStats = new QueueStatsWatch(queue, logger);
  const queueUpdates = new QueueWatchers(queue, bus, logger, { idleSeconds: settings.queueWaitingIdleSeconds });
  queueUpdates.onAdmissionPushed = (state) => metrics.admissionPushed((Date.now() - state.now) / 1000);
  const ticker = new QueueTicker(queue, queueStore, queueUpdates, logger);
  // The line per concert, read from the shared store at each scrape: the same
  // counts the admin's QueueStats reads. Hook for the pre-queue (rule 16): the
  // store's stats() (with preQueue) once it has one, else counts() and preQueue 0.
  type LineRead = (concertId: string) => Promise<{ waiting: number; active: number; preQueue?: number }>;
  const readLine: LineRead = (queueStore as { stats?: LineRead }).stats?.bind(queueStore) ?? queueStore.counts.bind(queueStore);
  metrics.readLineFrom(async () => {
    const concertIds = await queueStore.concerts();
    return Promise.all(concertIds.map(async (concertId) => ({ concertId, ...(await readLine(concertId)) })));
  });
  // Seat maps in memory, patched by every instance's seat changes; the writers
  // publish through `seatBus`, which patches this instance's maps at once.
  const seatMaps = new SeatMaps(db.pool, bus, { maxAgeMs: settings.seatMapMaxAgeMs });
  const seatBus = seatMaps.tap(bus);
  const services: Services = {
    tokens,
    users: new UserService({ prisma: db.prisma, tokens, limiter, settings }),
    concerts: new ConcertService({
      prisma: db.prisma,
      pool: db.pool,
      maxPrice: settings.maxBalance,
      gate: queue,
      onDateAdded: (concertId) => queue.concertReopened(concertId),
      ticketLimitPerUser: settings.ticketLimitPerUser,
      everEntered: (concertId) => queue.everEntered(concertId),
      onConcertChanged: (concertId) => queue.concertChanged(concertId),
    }),
    queue,
    queueUpdates,
    reservations: new ReservationService({ pool: db.pool, bus: seatBus, queue, settings, logger, metrics }),
    payments: new PaymentService({ pool: db.pool, bus: seatBus, queue, logger, metrics }),
    wallet: new WalletService({ pool: db.pool, settings }),
    seats: new SeatService({ pool: db.pool, bus, queue, tokens: queueUpdates, maps: seatMaps }),
    queueStats,
    grades: new SeatGradeService({ pool: db.pool, bus, maxPrice: settings.maxBalance, logger }),
    refunds: new RefundService({ pool: db.pool, bus: seatBus, queue, settings, logger }),
    tickets: new TicketService({ pool: db.pool }),
    salesReport: new SalesReportService({ pool: db.pool, line: (actor, concertId) => queue.stats(actor, concertId) }),
  };
  // The sweeper sweeps from a worker thread with a connection of its own (a
  // hold must end on time however busy this thread and the pool are); its
  // pool here only deletes old idempotency keys.
  const sweeperPool = instrumentPool(createPool(options.databaseUrl, 1), "sweeper", metrics);
  const sweeper = new HoldSweeper({ pool: sweeperPool, bus: seatBus, queue, logger, metrics, databaseUrl: options.databaseUrl });

  const schema = buildAppSchema();
  const guard = createRequestGuard(limiter, {
    perUser: settings.rateLimitUserPerSecond,
    perAddress: settings.rateLimitAddressPerSecond,
  });
  // The one operation path of HTTP and WebSocket alike.
  const gate = new OperationGate({
    schema,
    guard,
    metrics,
    sizes: new CatalogueListSizes(db.pool, settings.maxSeatsPerReservation),
  });
  const apollo = createApollo({ schema, logger, gate });
  await apollo.start();

  const graphql = createGraphqlHttpHandler(apollo, (req) =>
    createContext(services, {
      authorization: req.headers.authorization,
      queueToken: headerValue(req.headers["x-queue-token"]),
      address: req.socket.remoteAddress,
      requestId: requestIdOf(req),
    }),
  );
  const ready = async () => {
    const checks: Record<string, boolean> = {};
    const [database, redisUp] = await Promise.all([
      db.pool.query("SELECT 1").then(
        () => true,
        () => false,
      ),
      redis ? redisAnswers(redis) : Promise.resolve(true),
    ]);
    checks.database = database;
    if (redis) checks.redis = redisUp;
    return checks;
  };
  const httpServer = createServer(
    createRequestHandler({
      graphql,
      ide: createIde(),
      consolePage: createConsolePage(),
      ready,
      metrics: async () => metrics.render({ queue_admissions_by_this_instance: ticker.admissions, queue_subscribers: queueUpdates.count }),
      onError: (error, requestId) => logger.error("request failed", { requestId, code: "INTERNAL_SERVER_ERROR", error }),
      logger,
    }),
  );
  httpServer.keepAliveTimeout = 65_000;
  const ws = attachGraphqlWs({
    httpServer,
    schema,
    services,
    gate,
    logger,
    metrics,
    limits: {
      maxSockets: settings.wsMaxSockets,
      maxStarting: settings.wsMaxStarting,
      initTimeoutMs: settings.wsInitTimeoutMs,
      keepAliveMs: settings.wsKeepAliveMs,
    },
  });
  ticker.start();
  sweeper.start();
  keeper?.start();

  let copies: ListenCopies | undefined;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      const stopped = Promise.all([new Promise<void>((resolve) => httpServer.close(() => resolve())), copies?.close()]);
      // Stop taking work on kept-alive connections too: a request that still arrives on one is
      // answered with Connection: close, and a connection is closed as soon as it is idle (one
      // busy at the stop would otherwise stay open, and take new requests, for its keep-alive time).
      httpServer.prependListener("request", (_req, res) => res.setHeader("connection", "close"));
      httpServer.closeIdleConnections();
      const idle = setInterval(() => httpServer.closeIdleConnections(), 50);
      ticker.stop();
      queueUpdates.close();
      queueStats.close();
      await ws.close();
      // In-flight requests get a moment to finish; after that their sockets are cut.
      const timer = setTimeout(() => httpServer.closeAllConnections(), DRAIN_MS);
      await stopped;
      clearTimeout(timer);
      clearInterval(idle);
      await apollo.stop();
      await sweeper.stop();
      await sweeperPool.end();
      // Before the queue and the pools close: the sold-out questions pays left for later.
      await services.payments.close();
      await policies.close();
      await queue.close();
      seatMaps.close();
      await queueStore.close();
      await journalPool?.end();
      await bus.close();
      redis?.disconnect();
      await db.close();
    })();
    return closing;
  };

  return {
    services,
    db,
    bus,
    redis,
    httpServer,
    logger,
    get acceptsPerTurn(): number {
      return copies?.descriptors ?? 1;
    },
    async listen(port = settings.port, host) {
      await new Promise<void>((resolve, reject) => {
        httpServer.once("error", reject);
        httpServer.listen({ port, host, backlog: settings.listenBacklog }, () => resolve());
      });
      copies = await addListenCopies(httpServer, settings.acceptsPerTurn - 1, settings.listenBacklog, logger);
      const address = httpServer.address() as AddressInfo;
      const shown = host ?? "localhost";
      return { url: `http://${shown}:${address.port}`, port: address.port };
    },
    close,
  };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
