/**
 * The "grpc" protocol in Node: HTTP/2 with trailers through
 * @connectrpc/connect-node. Reached only through the `#grpc-transport`
 * import (package.json "imports"), whose "browser" condition resolves to
 * grpc-transport.browser.ts instead, so browser bundles never see this file.
 */
import type { Interceptor } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type { LedgerTransport } from "./transport.js";

/** A gRPC transport over one HTTP/2 session, which close() aborts. */
export function createNodeGrpcTransport(
  baseUrl: string,
  interceptors: Interceptor[],
): LedgerTransport {
  const sessionManager = new Http2SessionManager(baseUrl);
  return {
    transport: createGrpcTransport({ baseUrl, sessionManager, interceptors }),
    close() {
      sessionManager.abort();
    },
  };
}
