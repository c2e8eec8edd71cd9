/**
 * A real ledger server (fresh migrated database, real store) serving a
 * freshly built web console from a directory of its own, for the CORS,
 * console-asset and browser specs; with `buildDocs`, the API reference page too.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { buildConsole } from "../../src/console/build.js";
import { buildDocs } from "../../src/docs/build.js";
import { createLedgerServer, loadConfig } from "../../src/server/index.js";
import { openStore, type PostgresLedgerStore } from "../../src/store/index.js";
import { createTestDatabase } from "../support/database.js";

export interface ConsoleServer {
  readonly url: string;
  readonly store: PostgresLedgerStore;
  readonly consoleDir: string;
  close(): Promise<void>;
}

export interface ConsoleServerOptions {
  /** CORS_ALLOWED_ORIGINS as in the environment. */
  readonly corsAllowedOrigins?: string;
  /** false: serve from a directory with no console in it. */
  readonly buildConsole?: boolean;
  /** true: build the API reference page and serve it at /docs (default: none). */
  readonly buildDocs?: boolean;
  /** LEDGER_TOKENS as in the environment (lines of `npm run token`); none: development mode. */
  readonly tokens?: string;
}

export async function startConsoleServer(
  options: ConsoleServerOptions = {},
): Promise<ConsoleServer> {
  const dir = await mkdtemp(join(tmpdir(), "ledger-console-"));
  const consoleDir = join(dir, "console");
  if (options.buildConsole !== false) {
    await buildConsole(consoleDir);
  }
  const docsDir = join(dir, "docs");
  if (options.buildDocs === true) {
    await buildDocs(docsDir);
  }
  const database = await createTestDatabase();
  const store = await openStore({ databaseUrl: database.url });
  const server = createLedgerServer({
    store,
    config: loadConfig({
      PORT: "0",
      HOST: "127.0.0.1",
      METRICS_PORT: "0",
      SHUTDOWN_GRACE_MS: "2000",
      CORS_ALLOWED_ORIGINS: options.corsAllowedOrigins,
      LEDGER_TOKENS: options.tokens,
    }),
    logger: pino({ level: process.env.LEDGER_TEST_LOG_LEVEL ?? "silent" }),
    consoleDir,
    docsDir,
  });
  const { url } = await server.listen();
  return {
    url,
    store,
    consoleDir,
    async close() {
      await server.close();
      await store.close();
      await database.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
