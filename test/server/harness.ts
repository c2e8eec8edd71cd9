/**
 * A real ledger server on an ephemeral port over the real PostgreSQL store
 * (a fresh migrated database, or one a spec file shares), its captured log,
 * and small clients of each protocol, for the server plumbing specs.
 */
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import {
  createLedgerServer,
  type LedgerServer,
  loadConfig,
  type ServerConfig,
} from "../../src/server/index.js";
import { openStore, type PostgresLedgerStore, type StoreConfig } from "../../src/store/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { type CapturedLog, captureLog } from "./log-capture.js";

export interface PlumbingServerOptions {
  readonly config?: Partial<ServerConfig>;
  readonly sniffTimeoutMs?: number;
  readonly store?: Omit<StoreConfig, "databaseUrl">;
  /** A database the spec file shares; without it, a fresh one that close() drops. */
  readonly database?: TestDatabase;
}

export interface PlumbingServer {
  readonly store: PostgresLedgerStore;
  /** The database behind the store; another server may share it. */
  readonly database: TestDatabase;
  readonly log: CapturedLog;
  readonly server: LedgerServer;
  readonly port: number;
  readonly url: string;
  /** Closes the server (unless a spec already did), then its store, then a database of its own. */
  close(): Promise<void>;
}

export async function startPlumbingServer(
  options: PlumbingServerOptions = {},
): Promise<PlumbingServer> {
  const database = options.database ?? (await createTestDatabase());
  const dropOwnDatabase = async (): Promise<void> => {
    if (options.database === undefined) {
      await database.drop();
    }
  };
  const store = await openStore({ ...options.store, databaseUrl: database.url }).catch(
    async (error: unknown) => {
      await dropOwnDatabase();
      throw error;
    },
  );
  const log = captureLog();
  const config = {
    ...loadConfig({ PORT: "0", HOST: "127.0.0.1", METRICS_PORT: "0" }),
    ...options.config,
  };
  const server = createLedgerServer({
    store,
    config,
    logger: log.logger,
    ...(options.sniffTimeoutMs === undefined ? {} : { sniffTimeoutMs: options.sniffTimeoutMs }),
  });
  const { port, url } = await server.listen().catch(async (error: unknown) => {
    await store.close();
    await dropOwnDatabase();
    throw error;
  });
  return {
    store,
    database,
    log,
    server,
    port,
    url,
    async close() {
      try {
        await server.close();
        await store.close();
      } finally {
        await dropOwnDatabase();
      }
    },
  };
}

export type LedgerClient = ReturnType<typeof createClient<typeof LedgerService>>;

export function connectClient(baseUrl: string, httpVersion: "1.1" | "2"): LedgerClient {
  return createClient(LedgerService, createConnectTransport({ baseUrl, httpVersion }));
}

export function grpcClient(baseUrl: string): LedgerClient {
  return createClient(LedgerService, createGrpcTransport({ baseUrl }));
}

/** gRPC-Web as a browser speaks it: binary, over fetch (HTTP/1.1). */
export function grpcWebClient(baseUrl: string): LedgerClient {
  return createClient(LedgerService, createGrpcWebTransport({ baseUrl }));
}

const PROTO_DIR = fileURLToPath(new URL("../../proto", import.meta.url));

/** A @grpc/grpc-js client built from the .proto at run time: nothing generated. */
export function grpcJsClient(
  address: string,
  credentials = grpc.credentials.createInsecure(),
): grpc.Client {
  const definition = protoLoader.loadSync("ledger/v1/ledger.proto", {
    includeDirs: [PROTO_DIR],
    longs: String,
    enums: String,
    defaults: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    ledger: { v1: { LedgerService: grpc.ServiceClientConstructor } };
  };
  return new loaded.ledger.v1.LedgerService(address, credentials);
}

/** Calls one unary method of a grpc-js client (`options.deadline` for a deadline). */
export function grpcJsCall<T = Record<string, unknown>>(
  client: grpc.Client,
  method: string,
  request: Record<string, unknown>,
  metadata = new grpc.Metadata(),
  options: grpc.CallOptions = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (...args: unknown[]) => void>)[method];
    if (fn === undefined) {
      reject(new Error(`no method ${method}`));
      return;
    }
    fn.call(client, request, metadata, options, (error: grpc.ServiceError | null, response: T) => {
      if (error) {
        reject(error);
      } else {
        resolve(response);
      }
    });
  });
}
