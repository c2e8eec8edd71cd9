/**
 * Plain HTTP requests, HTTP/1.1 (node:http) or h2c (node:http2), with full
 * control over the headers a browser would send (Origin, preflight headers)
 * and full sight of the response headers.
 */
import * as http from "node:http";
import * as http2 from "node:http2";

export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface RawRequest {
  readonly method: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

export function http1(baseUrl: string, request: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(baseUrl);
    // The path goes out verbatim ("//x", "/../y"): no URL resolution on the way.
    const req = http.request(
      {
        hostname,
        port,
        path: request.path,
        method: request.method,
        headers: request.headers ?? {},
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: flatten(res.headers),
            body: Buffer.concat(chunks),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(request.body);
  });
}

export function h2c(baseUrl: string, request: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(baseUrl);
    session.on("error", reject);
    const stream = session.request({
      ":method": request.method,
      ":path": request.path,
      ...request.headers,
    });
    const chunks: Buffer[] = [];
    let headers: http2.IncomingHttpHeaders = {};
    stream.on("response", (received) => {
      headers = received;
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      session.close();
      const { ":status": status, ...rest } = headers;
      resolve({ status: Number(status), headers: flatten(rest), body: Buffer.concat(chunks) });
    });
    stream.on("error", reject);
    stream.end(request.body);
  });
}

function flatten(headers: http.IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) {
      flat[name] = Array.isArray(value) ? value.join(", ") : String(value);
    }
  }
  return flat;
}

/** The response's access-control-* headers only. */
export function corsHeaders(response: RawResponse): Record<string, string> {
  return Object.fromEntries(
    Object.entries(response.headers).filter(([name]) => name.startsWith("access-control-")),
  );
}
