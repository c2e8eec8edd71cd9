/**
 * The "grpc" protocol where there is no Node: browsers (and runtimes that
 * resolve the "browser" or "default" condition of `#grpc-transport`) lack
 * HTTP/2 trailers, so asking for it fails at once, naming the protocols that work.
 */
import type { Interceptor } from "@connectrpc/connect";
import type { LedgerTransport } from "./transport.js";

export function createNodeGrpcTransport(
  _baseUrl: string,
  _interceptors: Interceptor[],
): LedgerTransport {
  throw new TypeError(
    'protocol "grpc" needs Node.js (HTTP/2 trailers); in a browser use "connect" or "grpc-web"',
  );
}
