// `npm start`: settings, the database (embedded when DATABASE_URL is unset),
// migrations, then the API on PORT. SIGTERM/SIGINT stop it gracefully, exit 0.
import "./production-env";
import { join } from "node:path";
import { loadSettings, SettingsError, type Settings } from "./config/settings";
import { startEmbeddedPostgres } from "./db/embedded-postgres";
import { migrate } from "./db/migrate";
import { createApp, type App } from "./app";
import { createLogger } from "./observability/logger";

const SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;

async function main(): Promise<void> {
  const startedAt = performance.now();
  let settings: Settings;
  try {
    settings = loadSettings();
  } catch (error) {
    if (error instanceof SettingsError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(settings.logLevel);

  let embedded: { url: string; stop(): Promise<void> } | undefined;
  let databaseUrl = settings.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres({ dataDir: join(settings.dataDir, "postgres") });
    databaseUrl = embedded.url;
    logger.info("embedded PostgreSQL started", { dataDir: join(settings.dataDir, "postgres") });
  }

  let app: App | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("stopping", { signal });
    // The contract allows 10 seconds; past that, leave anyway.
    setTimeout(() => process.exit(1), 9_500).unref();
    try {
      await app?.close();
      await embedded?.stop();
      logger.info("stopped");
      process.exit(0);
    } catch (error) {
      logger.error("stop failed", { error });
      process.exit(1);
    }
  };
  for (const s of SIGNALS) process.on(s, () => void stop(s));

  const { applied } = await migrate(databaseUrl);
  if (applied.length > 0) logger.info("migrations applied", { applied });
  app = await createApp({ settings, databaseUrl, logger });
  if (settings.adminEmail && settings.adminPassword) {
    await app.services.users.ensureAdmin(settings.adminEmail, settings.adminPassword);
  }
  const { url } = await app.listen(settings.port);
  logger.info("listening", { url: `${url}/graphql`, startupMs: Math.round(performance.now() - startedAt) });
}

main().catch((error) => {
  process.stderr.write(`Failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
