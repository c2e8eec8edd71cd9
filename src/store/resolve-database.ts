import { startEmbeddedPostgres } from "./embedded-postgres.js";

export interface ResolvedDatabase {
  readonly url: string;
  /** Stops the embedded server; nothing for an external database. */
  stop(): Promise<void>;
  readonly embedded: boolean;
}

export type LogFn = (message: string, fields?: object) => void;

export const DEFAULT_DATA_DIR = ".data/postgres";

/**
 * DATABASE_URL when set; otherwise an embedded PostgreSQL whose data live in
 * LEDGER_DATA_DIR (default .data/postgres, gitignored) and survive restarts.
 */
export async function resolveDatabase(
  env: NodeJS.ProcessEnv,
  log: LogFn,
): Promise<ResolvedDatabase> {
  const url = env.DATABASE_URL;
  if (url !== undefined && url !== "") {
    log("using the database of DATABASE_URL", { database: redact(url) });
    return { url, stop: async () => {}, embedded: false };
  }
  const dataDir = env.LEDGER_DATA_DIR || DEFAULT_DATA_DIR;
  log("DATABASE_URL is not set: starting embedded PostgreSQL", { dataDir });
  const database = await startEmbeddedPostgres({ dataDir });
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
