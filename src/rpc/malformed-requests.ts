import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";

/**
 * connect-es answers a request body that is not valid protobuf (and a
 * compressed envelope without an encoding) with INTERNAL: its binary
 * deserializer is shared with clients, where a bad message is the server's
 * fault. Here it is the caller's, and the rule of this service is that bad
 * input is never INTERNAL. The failure happens before any interceptor runs,
 * so it is corrected on the way out: INVALID_ARGUMENT, same message, in each
 * protocol's own form (Connect JSON error, gRPC trailer, gRPC-Web trailer frame).
 *
 * A request no protocol accepts (a content type none speaks, GET on a method
 * with side effects) keeps connect-es's HTTP status (415, 405) and gains a
 * plain-text body saying what was refused and what is accepted.
 */
const MALFORMED_MESSAGE_PREFIXES = [
  "parse binary:",
  "received compressed envelope, but do not know how to decompress",
];

const GRPC_STATUS_INTERNAL = "13";
const GRPC_STATUS_INVALID_ARGUMENT = "3";
const HTTP_STATUS_INTERNAL = 500;
const HTTP_STATUS_BAD_REQUEST = 400;
const HTTP_STATUS_METHOD_NOT_ALLOWED = 405;
const HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE = 415;
const ACCEPTED_CONTENT_TYPES =
  "application/proto or application/json (Connect), application/grpc[+proto|+json], application/grpc-web[+proto|+json]";
const TRAILER_FLAG = 0x80;
const ENVELOPE_HEADER_BYTES = 5;

/** Whether connect-es's error message says the request body could not be decoded. */
export function isMalformedRequestMessage(message: string): boolean {
  return MALFORMED_MESSAGE_PREFIXES.some((prefix) => message.startsWith(prefix));
}

/** Wraps a handler (keeping its routing properties) so malformed requests are INVALID_ARGUMENT. */
export function withMalformedRequestsAsInvalidArgument(
  handler: UniversalHandler,
): UniversalHandler {
  const wrapped = async (request: Parameters<UniversalHandler>[0]) => {
    const response = await handler(request);
    if (response.body === undefined) {
      return explained(response, request.method, request.header.get("content-type"));
    }
    return correct(response, response.body);
  };
  return Object.assign(wrapped, handler);
}

/** A bodiless refusal (415, 405) with a readable reason. */
function explained(
  response: UniversalServerResponse,
  method: string,
  contentType: string | null,
): UniversalServerResponse {
  let reason: string;
  if (response.status === HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE) {
    reason = `unsupported content-type ${JSON.stringify(contentType ?? "(none)").slice(0, 120)}: send ${ACCEPTED_CONTENT_TYPES}`;
  } else if (response.status === HTTP_STATUS_METHOD_NOT_ALLOWED) {
    reason = `HTTP method ${method.slice(0, 16)} is not allowed here: call it with POST`;
  } else {
    return response;
  }
  const body = Buffer.from(`${reason}\n`, "utf8");
  const header = new Headers(response.header);
  header.set("content-type", "text/plain; charset=utf-8");
  header.set("content-length", String(body.byteLength));
  return { ...response, header, body: once(body) };
}

async function correct(
  response: UniversalServerResponse,
  body: AsyncIterable<Uint8Array>,
): Promise<UniversalServerResponse> {
  const contentType = response.header?.get("content-type") ?? "";
  if (contentType.startsWith("application/grpc-web")) {
    return { ...response, body: correctGrpcWebBody(body) };
  }
  if (contentType.startsWith("application/grpc")) {
    return { ...response, body: correctGrpcTrailerAfter(body, response) };
  }
  if (response.status === HTTP_STATUS_INTERNAL && contentType.startsWith("application/json")) {
    return await correctConnectError(response, body);
  }
  return response;
}

/** gRPC: the status travels in trailers (or headers), filled in once the body is done. */
async function* correctGrpcTrailerAfter(
  body: AsyncIterable<Uint8Array>,
  response: UniversalServerResponse,
): AsyncIterable<Uint8Array> {
  yield* body;
  for (const headers of [response.trailer, response.header]) {
    const message = decodeURIComponent(headers?.get("grpc-message") ?? "");
    if (
      headers?.get("grpc-status") === GRPC_STATUS_INTERNAL &&
      isMalformedRequestMessage(message)
    ) {
      headers.set("grpc-status", GRPC_STATUS_INVALID_ARGUMENT);
    }
  }
}

/** gRPC-Web: the status is in the last frame of the body, a trailer frame. */
async function* correctGrpcWebBody(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  let held: Uint8Array | undefined;
  for await (const chunk of body) {
    if (held !== undefined) {
      yield held;
    }
    held = chunk;
  }
  if (held !== undefined) {
    yield correctGrpcWebTrailerFrame(held);
  }
}

function correctGrpcWebTrailerFrame(chunk: Uint8Array): Uint8Array {
  if (chunk.byteLength < ENVELOPE_HEADER_BYTES || (chunk[0] ?? 0) !== TRAILER_FLAG) {
    return chunk;
  }
  const length = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength).getUint32(1);
  if (length !== chunk.byteLength - ENVELOPE_HEADER_BYTES) {
    return chunk;
  }
  const text = new TextDecoder().decode(chunk.subarray(ENVELOPE_HEADER_BYTES));
  const fields = new Map(
    text
      .split("\r\n")
      .filter((line) => line.includes(":"))
      .map((line) => {
        const at = line.indexOf(":");
        return [line.slice(0, at).trim().toLowerCase(), line.slice(at + 1).trim()] as const;
      }),
  );
  const message = decodeURIComponent(fields.get("grpc-message") ?? "");
  if (fields.get("grpc-status") !== GRPC_STATUS_INTERNAL || !isMalformedRequestMessage(message)) {
    return chunk;
  }
  const corrected = new TextEncoder().encode(
    text.replace(/^grpc-status:\s*13\s*$/im, `grpc-status: ${GRPC_STATUS_INVALID_ARGUMENT}`),
  );
  const frame = new Uint8Array(ENVELOPE_HEADER_BYTES + corrected.byteLength);
  frame[0] = TRAILER_FLAG;
  new DataView(frame.buffer).setUint32(1, corrected.byteLength);
  frame.set(corrected, ENVELOPE_HEADER_BYTES);
  return frame;
}

/** Connect: an error is a JSON body with an HTTP status; only INTERNAL ones are read here. */
async function correctConnectError(
  response: UniversalServerResponse,
  body: AsyncIterable<Uint8Array>,
): Promise<UniversalServerResponse> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) {
    chunks.push(chunk);
  }
  const bytes = Buffer.concat(chunks);
  let error: { code?: unknown; message?: unknown };
  try {
    error = JSON.parse(bytes.toString("utf8")) as typeof error;
  } catch {
    return { ...response, body: once(bytes) };
  }
  if (
    error.code !== "internal" ||
    typeof error.message !== "string" ||
    !isMalformedRequestMessage(error.message)
  ) {
    return { ...response, body: once(bytes) };
  }
  const corrected = Buffer.from(JSON.stringify({ ...error, code: "invalid_argument" }), "utf8");
  const header = new Headers(response.header);
  header.set("content-length", String(corrected.byteLength));
  return { ...response, status: HTTP_STATUS_BAD_REQUEST, header, body: once(corrected) };
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
