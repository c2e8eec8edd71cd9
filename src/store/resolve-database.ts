import type { SupervisionHooks } from "./embedded/supervisor.js";
import { startEmbeddedPostgres } from "./embedded-postgres.js";

export interface ResolvedDatabase {
  readonly url: string;
  /** Stops the embedded server; nothing for an external database. */
  stop(): Promise<void>;
  readonly embedded: boolean;
}

export type LogLevel = "info" | "warn" | "error";
export type LogFn = (message: string, fields?: object, level?: LogLevel) => void;

/** The levels of a logger such as pino's that a LogFn writes to. */
export type LevelLogger = Record<LogLevel, (fields: object, message: string) => void>;

/** A LogFn writing to `logger` at each line's level (info by default). */
export function logTo(logger: LevelLogger): LogFn {
  return (message, fields, level = "info") => logger[level](fields ?? {}, message);
}

export interface ResolveOptions {
  /**
   * Keep an embedded PostgreSQL running: restart it when it dies, and call
   * this when restarts keep failing (the process should then end non-zero).
   */
  readonly onDatabaseLost?: ((error: Error) => void) | undefined;
}

export const DEFAULT_DATA_DIR = ".data/postgres";

/**
 * DATABASE_URL when set; otherwise an embedded PostgreSQL whose data live in
 * LEDGER_DATA_DIR (default .data/postgres, gitignored) and survive restarts.
 */
export async function resolveDatabase(
  env: NodeJS.ProcessEnv,
  log: LogFn,
  options: ResolveOptions = {},
): Promise<ResolvedDatabase> {
  const url = env.DATABASE_URL;
  if (url !== undefined && url !== "") {
    log("using the database of DATABASE_URL", { database: redact(url) });
    return { url, stop: async () => {}, embedded: false };
  }
  const dataDir = env.LEDGER_DATA_DIR || DEFAULT_DATA_DIR;
  log("DATABASE_URL is not set: starting embedded PostgreSQL", { dataDir });
  const database = await startEmbeddedPostgres({
    dataDir,
    onNotice: (message, fields) => log(message, fields, "warn"),
    supervise:
      options.onDatabaseLost === undefined
        ? undefined
        : supervisionLog(log, options.onDatabaseLost),
  });
  log("embedded PostgreSQL is ready; its data live in the data directory", {
    dataDir: database.dataDir,
    database: redact(database.url),
  });
  return {
    url: database.url,
    embedded: true,
    async stop() {
      await database.stop();
      log("embedded PostgreSQL stopped", { dataDir: database.dataDir });
    },
  };
}

/**
 * For the command-line tools (migrate, verify): the database, or the reason it
 * could not be started as an error log line and a sentence on stderr, and the
 * process ends with `exitCode`.
 */
export async function resolveDatabaseOrExit(
  env: NodeJS.ProcessEnv,
  logger: LevelLogger,
  exitCode: number,
): Promise<ResolvedDatabase> {
  try {
    return await resolveDatabase(env, logTo(logger));
  } catch (error) {
    logger.error({ err: error }, "the database could not be started");
    const reason = error instanceof Error ? error.message : String(error);
    process.stderr.write(`the database could not be started: ${reason}\n`);
    process.exit(exitCode);
  }
}

/** Each supervision event as a log line; giving up is the caller's to handle. */
function supervisionLog(log: LogFn, onDatabaseLost: (error: Error) => void): SupervisionHooks {
  return {
    onDied: (exit) =>
      log(
        "embedded PostgreSQL died: restarting it",
        { code: exit.code, signal: exit.signal, postgres_log: exit.lastLines },
        "error",
      ),
    onRestartFailed: (error, attempt) =>
      log(
        "embedded PostgreSQL did not restart",
        { attempt, err: error instanceof Error ? error.message : String(error) },
        "error",
      ),
    onRestarted: (attempt) => log("embedded PostgreSQL restarted", { attempt }, "warn"),
    onGaveUp: onDatabaseLost,
  };
}

/** The URL without its password, for logs. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") {
      parsed.password = "***";
    }
    return parsed.toString();
  } catch {
    return "(unparseable URL)";
  }
}
