/**
 * `npm start`: config → database (DATABASE_URL, or an embedded PostgreSQL)
 * → migrations → store → one port for gRPC, gRPC-Web and Connect. SIGTERM or
 * SIGINT drains calls, then closes the server, the store and the database.
 */
import pino, { type Logger } from "pino";
import { buildConsoleIfChanged } from "../console/build.js";
import { buildDocsIfChanged } from "../docs/build.js";
import {
  logTo,
  migrate,
  openStore,
  type ResolvedDatabase,
  resolveDatabase,
} from "../store/index.js";
import { type Config, ConfigError, loadConfig, readCredentials, storeSettings } from "./config.js";
import { metricsFor } from "./metrics.js";
import { createLedgerServer, type LedgerServer } from "./server.js";

const SHUTDOWN_SIGNALS = ["SIGTERM", "SIGINT"] as const;
/** Signals closer together than this count as one. */
const DUPLICATE_SIGNAL_WINDOW_MS = 1000;

function readConfig(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

async function main(config: Config, logger: Logger): Promise<void> {
  // Alongside the database's start: usually only a check that the build is current.
  const consoleReady = buildConsoleIfChanged().then(
    (outcome) => logger.info({ outcome }, "web console ready"),
    (error: unknown) =>
      logger.warn({ err: error }, "web console could not be built: / answers 404"),
  );
  const docsReady = buildDocsIfChanged().then(
    (outcome) => logger.info({ outcome }, "API reference ready"),
    (error: unknown) =>
      logger.warn({ err: error }, "API reference could not be built: /docs answers 404"),
  );
  const database = await startDatabase(config, logger);
  const metrics = metricsFor(config);
  const store = await openStore({
    databaseUrl: database.url,
    ...storeSettings(config),
    onWriteBatch: metrics?.observeWriteBatch,
  }).catch(async (error: unknown) => {
    await stopQuietly(database, logger);
    throw error;
  });
  metrics?.readPoolFrom(() => store.poolStats());
  await Promise.all([consoleReady, docsReady]);
  const server = createLedgerServer({ store, config, logger, metrics });
  const { url, port, metricsUrl } = await server.listen().catch(async (error: unknown) => {
    await store.close();
    await stopQuietly(database, logger);
    throw error;
  });
  logger.info(
    {
      url,
      port,
      metrics_url: metricsUrl,
      database: database.embedded ? "embedded" : "external",
    },
    "listening",
  );
  reloadTokensOnHangup(logger, server);
  stopOnSignals(config, logger, async () => {
    await server.close();
    await store.close();
    await database.stop();
  });
}

/** DATABASE_URL's database, or an embedded one kept running; migrated when configured. */
async function startDatabase(config: Config, logger: Logger): Promise<ResolvedDatabase> {
  const log = logTo(logger);
  const database = await resolveDatabase(
    { DATABASE_URL: config.databaseUrl, LEDGER_DATA_DIR: config.dataDir },
    log,
    { onDatabaseLost: (error) => die(logger, "the embedded database is lost", error) },
  );
  if (config.migrateOnStart) {
    await migrate(database.url, { transactionPooling: config.dbTransactionPooling }).catch(
      async (error: unknown) => {
        await stopQuietly(database, logger);
        throw error;
      },
    );
    log("migrations applied");
  }
  return database;
}

async function stopQuietly(database: ResolvedDatabase, logger: Logger): Promise<void> {
  await database
    .stop()
    .catch((error: unknown) => logger.error({ err: error }, "stopping the database"));
}

/**
 * SIGHUP: LEDGER_TOKENS_FILE (and LEDGER_TOKENS) read again and the whole
 * set swapped at once, so a token can be rotated without a restart. A set
 * with a problem is refused and the current one stays.
 */
function reloadTokensOnHangup(logger: Logger, server: LedgerServer): void {
  process.on("SIGHUP", () => {
    const problems: string[] = [];
    const settings = readCredentials(process.env, problems);
    if (problems.length > 0) {
      logger.error({ problems }, "SIGHUP: tokens not reloaded, the current ones stay");
      return;
    }
    if (!server.replaceTokens(settings.tokens)) {
      logger.warn("SIGHUP: development mode has no tokens to reload; restart with credentials");
    }
  });
}

/** SIGTERM or SIGINT: drain and close everything, then exit 0 (1 if closing failed). */
function stopOnSignals(config: Config, logger: Logger, closeAll: () => Promise<void>): void {
  let stoppingSinceMs: number | undefined;
  const stop = async (signal: string) => {
    if (stoppingSinceMs !== undefined) {
      // Ctrl-C reaches npm and this process alike, and npm relays it: the
      // same press arrives twice. Only a later, deliberate signal cuts the drain.
      if (Date.now() - stoppingSinceMs < DUPLICATE_SIGNAL_WINDOW_MS) {
        return;
      }
      logger.warn({ signal }, "second signal: exiting at once");
      process.exit(1);
    }
    stoppingSinceMs = Date.now();
    logger.info({ signal, shutdown_grace_ms: config.shutdownGraceMs }, "shutting down");
    try {
      await closeAll();
      logger.info("stopped");
      process.exit(0);
    } catch (error) {
      logger.fatal({ err: error }, "shutdown failed");
      process.exit(1);
    }
  };
  for (const signal of SHUTDOWN_SIGNALS) {
    process.on(signal, () => void stop(signal));
  }
}

/**
 * Ends the process with exit code 1: the reason as a fatal log line, and as a
 * plain sentence on stderr for whoever reads the terminal or the supervisor's log.
 */
function die(logger: Logger, what: string, error: unknown): never {
  logger.fatal({ err: error }, what);
  const reason = error instanceof Error ? error.message : String(error);
  process.stderr.write(`${what}: ${reason}\n`);
  process.exit(1);
}

const config = readConfig();
const logger = pino({ level: config.logLevel });
process.on("unhandledRejection", (reason) => die(logger, "unhandled rejection", reason));
main(config, logger).catch((error: unknown) => die(logger, "startup failed", error));
