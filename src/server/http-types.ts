import type { IncomingHttpHeaders } from "node:http";

/** What the CORS and static handlers use of an HTTP/1.1 or HTTP/2 (compat) request. */
export interface HttpRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

/** What they use of its response: the part node:http and node:http2 share. */
export interface HttpResponse {
  setHeader(name: string, value: string): unknown;
  writeHead(statusCode: number, headers?: Record<string, string>): unknown;
  end(): unknown;
  end(body: Uint8Array): unknown;
}
