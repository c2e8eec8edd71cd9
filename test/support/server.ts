/**
 * A real ledger server for end-to-end specs: a fresh migrated PostgreSQL
 * database (test/support/database.ts), the real store on it, and the real
 * server listening on an ephemeral port. One per spec file.
 */
import pino from "pino";
import { afterAll, beforeAll } from "vitest";
import {
  createLedgerServer,
  loadConfig,
  metricsFor,
  storeSettings,
} from "../../src/server/index.js";
import { type LedgerStore, openStore } from "../../src/store/index.js";
import { type ClientName, type LedgerApi, openClient } from "./clients.js";
import { createTestDatabase } from "./database.js";

const SERVER_START_TIMEOUT_MS = 60_000;

export interface TestServer {
  /** Base URL, e.g. http://127.0.0.1:43123, for every client. */
  readonly url: string;
  readonly port: number;
  /** http://127.0.0.1:<METRICS_PORT>/metrics; undefined with METRICS_PORT 0 (the harness's default). */
  readonly metricsUrl: string | undefined;
  /** The server's own store, for invariant checks beside the API. */
  readonly store: LedgerStore;
  readonly databaseUrl: string;
  close(): Promise<void>;
}

/**
 * `env`: settings beside the harness's own, e.g. { EXPIRY_SWEEP_INTERVAL_MS: "200" }.
 * No metrics listener unless `env` names a METRICS_PORT (a fixed default would clash).
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const database = await createTestDatabase();
  const logger = pino({ level: process.env.LEDGER_TEST_LOG_LEVEL ?? "silent" });
  const config = loadConfig({
    DATABASE_URL: database.url,
    PORT: "0",
    HOST: "127.0.0.1",
    MIGRATE_ON_START: "false",
    LOG_LEVEL: "silent",
    SHUTDOWN_GRACE_MS: "2000",
    METRICS_PORT: "0",
    ...env,
  });
  // Wired as src/server/main.ts wires it, with the production defaults.
  const metrics = metricsFor(config);
  const store = await openStore({
    databaseUrl: database.url,
    ...storeSettings(config),
    onWriteBatch: metrics?.observeWriteBatch,
  }).catch(async (error: unknown) => {
    await database.drop();
    throw error;
  });
  metrics?.readPoolFrom(() => store.poolStats());
  const server = createLedgerServer({ store, config, logger, metrics });
  const { port, url, metricsUrl } = await server.listen().catch(async (error: unknown) => {
    await store.close();
    await database.drop();
    throw error;
  });
  return {
    url,
    port,
    metricsUrl,
    store,
    databaseUrl: database.url,
    async close() {
      await server.close();
      await store.close();
      await database.drop();
    },
  };
}

/**
 * Registers one server for the enclosing spec file (started before its first
 * test, stopped after its last) and one client of each kind against it.
 */
export function useLedgerServer(env: Record<string, string> = {}): {
  server(): TestServer;
  client(name: ClientName): LedgerApi;
} {
  let server: TestServer | undefined;
  const clients = new Map<ClientName, LedgerApi>();

  beforeAll(async () => {
    server = await startTestServer(env);
  }, SERVER_START_TIMEOUT_MS);

  afterAll(async () => {
    for (const client of clients.values()) {
      client.close();
    }
    clients.clear();
    await server?.close();
    server = undefined;
  }, SERVER_START_TIMEOUT_MS);

  const current = (): TestServer => {
    if (server === undefined) {
      throw new Error("the test server is not running (used outside a test?)");
    }
    return server;
  };

  return {
    server: current,
    client(name) {
      let client = clients.get(name);
      if (client === undefined) {
        client = openClient(name, current().url);
        clients.set(name, client);
      }
      return client;
    },
  };
}

export interface Replica {
  readonly url: string;
  /** A client of this server, closed with it. */
  api(name: ClientName): LedgerApi;
  /** Stops the server and closes its store and clients (again: nothing). */
  close(): Promise<void>;
}

/**
 * Another server on an existing database (a replica, or the same service
 * restarted), with its own store. `env`: its settings (PORT to pin a port).
 */
export async function startReplica(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<Replica> {
  const config = loadConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    SHUTDOWN_GRACE_MS: "500",
    METRICS_PORT: "0",
    ...env,
  });
  const store = await openStore({ databaseUrl, ...storeSettings(config) });
  const server = createLedgerServer({ store, config, logger: pino({ level: "silent" }) });
  const { url } = await server.listen();
  const clients: LedgerApi[] = [];
  let closed: Promise<void> | undefined;
  return {
    url,
    api(name) {
      const client = openClient(name, url);
      clients.push(client);
      return client;
    },
    close() {
      closed ??= (async () => {
        for (const client of clients.splice(0)) {
          client.close();
        }
        await server.close();
        await store.close();
      })();
      return closed;
    },
  };
}
