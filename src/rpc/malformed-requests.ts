import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";
import {
  endStreamFlag,
  endStreamFromJson,
  endStreamToJson,
  errorFromJsonBytes,
  errorToJsonBytes,
} from "@connectrpc/connect/protocol-connect";
import { findTrailerError, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { ERROR_DOMAIN } from "./errors.js";

/**
 * connect-es answers a request body that is not valid protobuf (and a
 * compressed envelope without an encoding) with INTERNAL: its binary
 * deserializer is shared with clients, where a bad message is the server's
 * fault. Here it is the caller's, and the rule of this service is that bad
 * input is never INTERNAL. The failure happens before any interceptor runs,
 * so it is corrected on the way out, for every service on the port: INVALID_ARGUMENT,
 * same message. Every INVALID_ARGUMENT that leaves without a ledger.v1
 * ErrorInfo (these, a broken envelope, a bad timeout header) gains one
 * (reason INVALID_ARGUMENT), so every refusal of bad input reads the same.
 * Each protocol keeps its own form: a Connect JSON error or end-of-stream
 * message, gRPC trailers, a gRPC-Web trailer frame.
 *
 * A request no protocol accepts (a content type none speaks, GET on a method
 * with side effects) keeps connect-es's HTTP status (415, 405) and gains a
 * plain-text body saying what was refused and what is accepted.
 */
const MALFORMED_MESSAGE_PREFIXES = [
  "parse binary:",
  "received compressed envelope, but do not know how to decompress",
];

const HTTP_STATUS_OK = 200;
const HTTP_STATUS_BAD_REQUEST = 400;
const HTTP_STATUS_METHOD_NOT_ALLOWED = 405;
const HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE = 415;
const ACCEPTED_CONTENT_TYPES =
  "application/proto or application/json (Connect), application/grpc[+proto|+json], application/grpc-web[+proto|+json]";
const ENVELOPE_HEADER_BYTES = 5;

/** Whether connect-es's error message says the request body could not be decoded. */
export function isMalformedRequestMessage(message: string): boolean {
  return MALFORMED_MESSAGE_PREFIXES.some((prefix) => message.startsWith(prefix));
}

/**
 * The error the client should get instead of `error`, or undefined when
 * `error` stands: an undecodable body becomes INVALID_ARGUMENT, and an
 * INVALID_ARGUMENT without our ErrorInfo gains one.
 */
export function correctedError(error: ConnectError): ConnectError | undefined {
  const malformed = error.code === Code.Internal && isMalformedRequestMessage(error.rawMessage);
  if (!malformed && error.code !== Code.InvalidArgument) {
    return undefined;
  }
  if (error.findDetails(ErrorInfoSchema).some((info) => info.domain === ERROR_DOMAIN)) {
    return undefined;
  }
  return new ConnectError(error.rawMessage, Code.InvalidArgument, undefined, [
    {
      desc: ErrorInfoSchema,
      value: { domain: ERROR_DOMAIN, reason: "INVALID_ARGUMENT", metadata: {} },
    },
  ]);
}

/** Applies the correction to every handler registered on the router so far: call it last. */
export function correctMalformedRequests(router: ConnectRouter): void {
  router.handlers.forEach((handler, i) => {
    router.handlers[i] = withMalformedRequestsAsInvalidArgument(handler);
  });
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
    return { ...response, body: correctFlaggedFrame(body, trailerFlag, correctGrpcWebTrailer) };
  }
  if (contentType.startsWith("application/grpc")) {
    return { ...response, body: correctGrpcTrailerAfter(body, response) };
  }
  if (contentType.startsWith("application/connect+")) {
    return { ...response, body: correctFlaggedFrame(body, endStreamFlag, correctConnectEndStream) };
  }
  if (response.status !== HTTP_STATUS_OK && contentType.startsWith("application/json")) {
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
    const error = headers === undefined ? undefined : findTrailerError(headers);
    const corrected = error === undefined ? undefined : correctedError(error);
    if (headers !== undefined && corrected !== undefined) {
      setTrailerStatus(headers, corrected);
    }
  }
}

/** gRPC-Web: the status is in a trailer frame, its own frame at the end of the body. */
function correctGrpcWebTrailer(payload: Uint8Array): Uint8Array | undefined {
  const trailer = trailerParse(payload);
  const error = findTrailerError(trailer);
  const corrected = error === undefined ? undefined : correctedError(error);
  return corrected === undefined
    ? undefined
    : trailerSerialize(setTrailerStatus(trailer, corrected));
}

/** Connect streams: the error is in the end-of-stream message, its own frame at the end of the body. */
function correctConnectEndStream(payload: Uint8Array): Uint8Array | undefined {
  const endStream = attempt(() => endStreamFromJson(payload));
  const corrected = endStream?.error === undefined ? undefined : correctedError(endStream.error);
  if (endStream === undefined || corrected === undefined) {
    return undefined;
  }
  const json = endStreamToJson(endStream.metadata, corrected, undefined);
  return new TextEncoder().encode(JSON.stringify(json));
}

/**
 * Yields the body as it comes (a stream's messages are never held back),
 * rewriting the payload of a chunk that is exactly one uncompressed envelope
 * with `flag`: connect-es writes each envelope as a chunk of its own.
 */
async function* correctFlaggedFrame(
  body: AsyncIterable<Uint8Array>,
  flag: number,
  rewrite: (payload: Uint8Array) => Uint8Array | undefined,
): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    const payload = envelopePayload(chunk, flag);
    const rewritten = payload === undefined ? undefined : rewrite(payload);
    yield rewritten === undefined ? chunk : envelope(flag, rewritten);
  }
}

function envelopePayload(chunk: Uint8Array, flag: number): Uint8Array | undefined {
  if (chunk.byteLength < ENVELOPE_HEADER_BYTES || chunk[0] !== flag) {
    return undefined;
  }
  const length = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength).getUint32(1);
  if (length !== chunk.byteLength - ENVELOPE_HEADER_BYTES) {
    return undefined;
  }
  return chunk.subarray(ENVELOPE_HEADER_BYTES);
}

function envelope(flag: number, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(ENVELOPE_HEADER_BYTES + payload.byteLength);
  frame[0] = flag;
  new DataView(frame.buffer).setUint32(1, payload.byteLength);
  frame.set(payload, ENVELOPE_HEADER_BYTES);
  return frame;
}

/** Connect unary: an error is a JSON body with an HTTP status. */
async function correctConnectError(
  response: UniversalServerResponse,
  body: AsyncIterable<Uint8Array>,
): Promise<UniversalServerResponse> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) {
    chunks.push(chunk);
  }
  const bytes = Buffer.concat(chunks);
  const unreadable = new ConnectError("not a Connect error", Code.Unknown);
  const error = attempt(() => errorFromJsonBytes(bytes, undefined, unreadable));
  const corrected = error === undefined || error === unreadable ? undefined : correctedError(error);
  if (corrected === undefined) {
    return { ...response, body: once(bytes) };
  }
  const correctedBytes = errorToJsonBytes(corrected, undefined);
  const header = new Headers(response.header);
  header.set("content-length", String(correctedBytes.byteLength));
  return { ...response, status: HTTP_STATUS_BAD_REQUEST, header, body: once(correctedBytes) };
}

/** What `read` returns, or undefined when it throws (a body this wrapper cannot read stays as it is). */
function attempt<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
