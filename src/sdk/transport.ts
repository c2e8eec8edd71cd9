/**
 * The three wire protocols behind one Transport. "connect" and "grpc-web" use
 * fetch (@connectrpc/connect-web): they work in browsers and in Node alike.
 * "grpc" needs HTTP/2 with trailers, which only Node offers: its transport
 * comes from `#grpc-transport`, a package.json "imports" entry whose "node"
 * condition is grpc-transport.node.ts (@connectrpc/connect-node) and whose
 * "browser" and "default" conditions are grpc-transport.browser.ts, which
 * throws. A browser bundle of this SDK thus never contains node:http2, and
 * asking for "grpc" in a browser fails at once.
 */
import { createRegistry } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { createNodeGrpcTransport } from "#grpc-transport";
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
   * development mode. A function is asked before every request (each
   * retry and reconnect included), for a token that changes at runtime (a
   * user signs in, or out): undefined or "" sends none.
   */
  readonly token?: TokenSource | undefined;
}

/** A fixed token, or a function that returns the current one (undefined: none). */
export type TokenSource = string | (() => string | undefined);

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
      return createNodeGrpcTransport(options.baseUrl, interceptors);
    default:
      throw new TypeError(
        `protocol must be one of ${PROTOCOLS.join(", ")}, got ${String(options.protocol)}`,
      );
  }
}

const TOKEN_RULE = "token must be a non-empty single-line string (from npm run token)";

/**
 * Adds the bearer token to every request's headers. A fixed token is
 * checked at once; a function's token at each request, where a bad one
 * rejects the call as INVALID_ARGUMENT (not a TypeError, which would pass
 * for a lost connection and be retried).
 */
function bearerToken(token: TokenSource): Interceptor {
  if (typeof token === "string" && !isHeaderToken(token)) {
    throw new TypeError(TOKEN_RULE);
  }
  const current = typeof token === "string" ? () => token : token;
  return (next) => (req) => {
    const value = current();
    if (value !== undefined && value !== "") {
      if (!isHeaderToken(value)) {
        throw new ConnectError(TOKEN_RULE, Code.InvalidArgument);
      }
      req.header.set("authorization", `Bearer ${value.trim()}`);
    }
    return next(req);
  };
}

function isHeaderToken(token: string): boolean {
  return token.trim() !== "" && !/[\r\n]/.test(token);
}
