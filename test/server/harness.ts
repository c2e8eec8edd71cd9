/**
 * A real ledger server on an ephemeral port over the in-memory FakeStore, and
 * small clients of each protocol, for the server plumbing specs.
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
import { FakeStore } from "./fake-store.js";
import { captureLog } from "./log-capture.js";

export interface FakeServer {
  readonly store: FakeStore;
  readonly log: ReturnType<typeof captureLog>;
  readonly server: LedgerServer;
  readonly port: number;
  readonly url: string;
}

export async function startFakeServer(
  overrides: Partial<ServerConfig> = {},
  sniffTimeoutMs?: number,
): Promise<FakeServer> {
  const store = new FakeStore();
  const log = captureLog();
  const config = { ...loadConfig({ PORT: "0", HOST: "127.0.0.1" }), ...overrides };
  const server = createLedgerServer({
    store,
    config,
    logger: log.logger,
    ...(sniffTimeoutMs === undefined ? {} : { sniffTimeoutMs }),
  });
  const { port, url } = await server.listen();
  return { store, log, server, port, url };
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

/** Calls one unary method of a grpc-js client. */
export function grpcJsCall<T = Record<string, unknown>>(
  client: grpc.Client,
  method: string,
  request: Record<string, unknown>,
  metadata = new grpc.Metadata(),
): Promise<T> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (...args: unknown[]) => void>)[method];
    if (fn === undefined) {
      reject(new Error(`no method ${method}`));
      return;
    }
    fn.call(client, request, metadata, (error: grpc.ServiceError | null, response: T) => {
      if (error) {
        reject(error);
      } else {
        resolve(response);
      }
    });
  });
}
