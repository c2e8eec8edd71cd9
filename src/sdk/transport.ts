/**
 * The three wire protocols behind one Transport. "connect" and "grpc-web" use
 * fetch (@connectrpc/connect-web): they work in browsers and in Node alike.
 * "grpc" needs HTTP/2 with trailers, which only Node offers: its transport
 * (@connectrpc/connect-node) is loaded on the first call through a dynamic
 * import that bundlers leave alone, so a browser bundle of this SDK never
 * pulls in node:http2, and asking for "grpc" in a browser fails at once.
 */
import { createRegistry } from "@bufbuild/protobuf";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";

/** The wire protocol: gRPC (Node only, HTTP/2), Connect or gRPC-Web (HTTP/1.1 or 2, fetch). */
export type Protocol = "grpc" | "connect" | "grpc-web";

/** Every protocol the SDK speaks. */
export const PROTOCOLS: readonly Protocol[] = ["grpc", "connect", "grpc-web"];

/** How to reach the server. */
export interface TransportOptions {
  /** The server's URL, e.g. http://localhost:8080. */
  readonly baseUrl: string;
  readonly protocol: Protocol;
  /** Connect protocol only: binary protobuf instead of JSON. Default false (JSON, readable in devtools). */
  readonly useBinaryFormat?: boolean | undefined;
  /** fetch-based protocols: the fetch to use. Default globalThis.fetch. */
  readonly fetch?: typeof globalThis.fetch | undefined;
  /**
   * The app's bearer token (from `npm run token`), sent on every call as
   * `authorization: Bearer <token>`. Required unless the server runs in
   * development mode.
   */
  readonly token?: string | undefined;
}

/** A transport and the release of its connections. */
export interface LedgerTransport {
  readonly transport: Transport;
  /** Closes the HTTP/2 session of "grpc"; nothing to do for fetch. */
  close(): void;
}

/**
 * The detail types of the google.rpc.Status of a refused RecordEntries item:
 * JSON spells them out by type name, so its reader must know them.
 */
const DETAIL_REGISTRY = createRegistry(ErrorInfoSchema, RetryInfoSchema);

/** Hidden in a variable so that bundlers do not follow it into browser builds. */
const NODE_TRANSPORT_MODULE = "@connectrpc/connect-node";

/** Creates the transport of a protocol; throws TypeError for an unknown protocol or "grpc" outside Node. */
export function createLedgerTransport(options: TransportOptions): LedgerTransport {
  const interceptors = options.token === undefined ? [] : [bearerToken(options.token)];
  switch (options.protocol) {
    case "connect":
      return {
        transport: createConnectTransport({
          baseUrl: options.baseUrl,
          useBinaryFormat: options.useBinaryFormat ?? false,
          jsonOptions: { registry: DETAIL_REGISTRY },
          interceptors,
          ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
        }),
        close() {},
      };
    case "grpc-web":
      return {
        transport: createGrpcWebTransport({
          baseUrl: options.baseUrl,
          interceptors,
          ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
        }),
        close() {},
      };
    case "grpc":
      return lazyGrpcTransport(options.baseUrl, interceptors);
    default:
      throw new TypeError(
        `protocol must be one of ${PROTOCOLS.join(", ")}, got ${String(options.protocol)}`,
      );
  }
}

/** Adds the bearer token to every request's headers. */
function bearerToken(token: string): Interceptor {
  if (token.trim() === "" || /[\r\n]/.test(token)) {
    throw new TypeError("token must be a non-empty single-line string (from npm run token)");
  }
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${token.trim()}`);
    return next(req);
  };
}

function lazyGrpcTransport(baseUrl: string, interceptors: Interceptor[]): LedgerTransport {
  if (typeof process === "undefined" || process.versions?.node === undefined) {
    throw new TypeError(
      'protocol "grpc" needs Node.js (HTTP/2 trailers); in a browser use "connect" or "grpc-web"',
    );
  }
  type NodeTransports = typeof import("@connectrpc/connect-node");
  let closed = false;
  let sessionManager: InstanceType<NodeTransports["Http2SessionManager"]> | undefined;
  let loading: Promise<Transport> | undefined;
  const load = (): Promise<Transport> => {
    loading ??= (import(NODE_TRANSPORT_MODULE) as Promise<NodeTransports>).then((node) => {
      sessionManager = new node.Http2SessionManager(baseUrl);
      if (closed) {
        sessionManager.abort();
      }
      return node.createGrpcTransport({ baseUrl, sessionManager, interceptors });
    });
    return loading;
  };
  return {
    transport: {
      async unary(method, signal, timeoutMs, header, input, contextValues) {
        const transport = await load();
        return transport.unary(method, signal, timeoutMs, header, input, contextValues);
      },
      async stream(method, signal, timeoutMs, header, input, contextValues) {
        const transport = await load();
        return transport.stream(method, signal, timeoutMs, header, input, contextValues);
      },
    },
    close() {
      closed = true;
      sessionManager?.abort();
    },
  };
}
