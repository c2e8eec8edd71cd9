/**
 * Hostile bytes on the wire, sent with raw HTTP/1.1 and HTTP/2 (no client
 * library to tidy them up) in each protocol: malformed protobuf, a wrong wire
 * type, broken envelopes, oversized and over-declared messages, malformed
 * JSON, int64 values beyond range or fractional, wrong content types and HTTP
 * methods, unknown encodings and timeouts; and well-formed messages with
 * empty and huge strings, invalid ids, an int64 extreme and missing
 * idempotency keys. Each gets its specific code (never INTERNAL) and a
 * readable message, and afterwards the server still serves correctly and the
 * store's invariants hold.
 *
 * Requests have no enum fields; unknown field numbers in binary requests are
 * skipped, as proto3 requires (checked below).
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import { describe, expect, it } from "vitest";
import { verifyInvariants } from "../../src/store/index.js";
import { CONTENT, declaredApp, uniqueKey, uniqueOwner } from "../support/fixtures.js";
import { useLedgerServer } from "../support/server.js";

const harness = useLedgerServer();

const SERVICE = "/ledger.v1.LedgerService";
const RECORD = `${SERVICE}/RecordEntry`;
const GET_LEDGER = `${SERVICE}/GetLedger`;
/** The server's default REQUEST_BYTES_MAX. */
const REQUEST_BYTES_MAX = 1024 * 1024;

interface Answer {
  /** The protocol's code: a Connect code name, or a gRPC status number as text. */
  readonly code: string;
  readonly message: string;
  readonly httpStatus: number;
}

/**
 * One HTTP/1.1 request on a connection of its own: a hostile request must not
 * leave a half-read connection behind in a pool that later requests reuse.
 */
function http1(
  path: string,
  method: string,
  headers: Record<string, string>,
  body: Uint8Array | string,
): Promise<{ status: number; contentType: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${harness.server().url}${path}`,
      { method, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers["content-type"] ?? "",
            body: Buffer.concat(chunks),
          }),
        );
        res.on("error", reject);
      },
    );
    // The server may answer (and stop reading) before the body is sent.
    req.on("error", reject);
    req.end(method === "POST" ? body : undefined);
  });
}

async function connectCall(
  path: string,
  contentType: string | undefined,
  body: Uint8Array | string,
  method = "POST",
): Promise<Answer> {
  const res = await http1(
    path,
    method,
    contentType === undefined ? {} : { "content-type": contentType },
    body,
  );
  const text = res.body.toString("utf8");
  if (res.contentType.startsWith("application/json")) {
    const error = JSON.parse(text) as { code?: string; message?: string };
    return { code: error.code ?? "ok", message: error.message ?? "", httpStatus: res.status };
  }
  return { code: `http ${res.status}`, message: text, httpStatus: res.status };
}

/** One gRPC call over a fresh HTTP/2 connection; the status from trailers (or headers). */
function grpcCall(
  path: string,
  body: Uint8Array,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(harness.server().url);
    session.on("error", reject);
    const req = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      ...headers,
    });
    let seen: http2.IncomingHttpHeaders = {};
    req.on("response", (h) => {
      seen = { ...seen, ...h };
    });
    req.on("trailers", (t) => {
      seen = { ...seen, ...t };
    });
    req.resume();
    req.on("end", () => {
      session.close();
      const status = seen["grpc-status"];
      const httpStatus = Number(seen[":status"]);
      resolve({
        code: status === undefined ? `http ${httpStatus}` : String(status),
        message: decodeURIComponent(String(seen["grpc-message"] ?? "")),
        httpStatus,
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** gRPC-Web over HTTP/1.1: the status comes in the body's trailer frame. */
async function grpcWebCall(path: string, body: Uint8Array): Promise<Answer> {
  const res = await http1(
    path,
    "POST",
    { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
    body,
  );
  const bytes = new Uint8Array(res.body);
  let offset = 0;
  while (offset + 5 <= bytes.byteLength) {
    const flags = bytes[offset] ?? 0;
    const length = new DataView(bytes.buffer, bytes.byteOffset + offset + 1, 4).getUint32(0);
    const payload = bytes.subarray(offset + 5, offset + 5 + length);
    if ((flags & 0x80) !== 0) {
      const fields = Object.fromEntries(
        new TextDecoder()
          .decode(payload)
          .split("\r\n")
          .filter((line) => line.includes(":"))
          .map((line) => [
            line.slice(0, line.indexOf(":")).trim(),
            line.slice(line.indexOf(":") + 1).trim(),
          ]),
      );
      return {
        code: fields["grpc-status"] ?? "none",
        message: decodeURIComponent(fields["grpc-message"] ?? ""),
        httpStatus: res.status,
      };
    }
    offset += 5 + length;
  }
  return { code: `http ${res.status}`, message: "", httpStatus: res.status };
}

/** A gRPC length-prefixed message; `declaredLength` may lie. */
function envelope(
  payload: Uint8Array,
  flags = 0,
  declaredLength = payload.byteLength,
): Uint8Array<ArrayBuffer> {
  const frame = new Uint8Array(5 + payload.byteLength);
  frame[0] = flags;
  new DataView(frame.buffer).setUint32(1, declaredLength);
  frame.set(payload, 5);
  return frame;
}

const GARBAGE = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f]);
/** Field 3 (amount, an int64 varint) sent as a length-delimited field. */
const WRONG_WIRE_TYPE = Uint8Array.from([0x1a, 0x02, 0x01, 0x02]);
const TRUNCATED = Uint8Array.from([0x0a, 0x24, 0x61]);
const OVERSIZED = new Uint8Array(REQUEST_BYTES_MAX + 1024).fill(0x20);

interface Case {
  readonly name: string;
  readonly send: () => Promise<Answer>;
  readonly code: string;
  readonly message: string;
}

const CASES: readonly Case[] = [
  // Connect protocol (HTTP/1.1)
  {
    name: "Connect: bytes that are not protobuf",
    send: () => connectCall(RECORD, "application/proto", GARBAGE),
    code: "invalid_argument",
    message: "parse binary",
  },
  {
    name: "Connect: a field with the wrong wire type",
    send: () => connectCall(RECORD, "application/proto", WRONG_WIRE_TYPE),
    code: "invalid_argument",
    message: "parse binary",
  },
  {
    name: "Connect: a truncated message",
    send: () => connectCall(RECORD, "application/proto", TRUNCATED),
    code: "invalid_argument",
    message: "parse binary",
  },
  {
    name: "Connect: malformed JSON",
    send: () => connectCall(RECORD, "application/json", "{not json"),
    code: "invalid_argument",
    message: "cannot decode message ledger.v1.RecordEntryRequest from JSON",
  },
  {
    name: "Connect: an int64 beyond 2^63-1",
    send: () => connectCall(RECORD, "application/json", '{"amount":"9223372036854775808"}'),
    code: "invalid_argument",
    message: "out of range",
  },
  {
    name: "Connect: a fractional int64",
    send: () => connectCall(RECORD, "application/json", '{"amount":1.5}'),
    code: "invalid_argument",
    message: "amount",
  },
  {
    name: "Connect: a string where an int32 belongs",
    send: () => connectCall(`${SERVICE}/ListLedgers`, "application/json", '{"pageSize":"abc"}'),
    code: "invalid_argument",
    message: "page_size",
  },
  {
    name: "Connect: a message over REQUEST_BYTES_MAX",
    send: () => connectCall(RECORD, "application/proto", OVERSIZED),
    code: "resource_exhausted",
    message: "larger than configured readMaxBytes",
  },
  {
    name: "Connect: a JSON body over REQUEST_BYTES_MAX",
    send: () =>
      connectCall(RECORD, "application/json", JSON.stringify({ description: "x".repeat(2 ** 21) })),
    code: "resource_exhausted",
    message: "larger than configured readMaxBytes",
  },
  {
    name: "a content type no protocol speaks",
    send: () => connectCall(RECORD, "text/plain", "hello"),
    code: "http 415",
    message: 'unsupported content-type "text/plain"',
  },
  {
    name: "no content type at all",
    send: () => connectCall(RECORD, undefined, "hello"),
    code: "http 415",
    message: "unsupported content-type",
  },
  {
    name: "GET on a method with side effects",
    send: () => connectCall(RECORD, "application/json", "", "GET"),
    code: "http 405",
    message: "HTTP method GET is not allowed here",
  },
  // gRPC (HTTP/2)
  {
    name: "gRPC: bytes that are not protobuf",
    send: () => grpcCall(RECORD, envelope(GARBAGE)),
    code: "3",
    message: "parse binary",
  },
  {
    name: "gRPC: a field with the wrong wire type",
    send: () => grpcCall(RECORD, envelope(WRONG_WIRE_TYPE)),
    code: "3",
    message: "parse binary",
  },
  {
    name: "gRPC: an envelope shorter than it declares",
    send: () => grpcCall(RECORD, envelope(Uint8Array.from([0x0a]), 0, 100)),
    code: "3",
    message: "incomplete envelope",
  },
  {
    name: "gRPC: a compressed envelope without an encoding",
    send: () => grpcCall(RECORD, envelope(Uint8Array.from([0x0a, 0x00]), 1)),
    code: "3",
    message: "compressed envelope",
  },
  {
    name: "gRPC: an unknown message encoding",
    send: () =>
      grpcCall(RECORD, envelope(Uint8Array.from([0x0a, 0x00]), 1), { "grpc-encoding": "snappy" }),
    code: "12",
    message: 'unknown compression "snappy"',
  },
  {
    name: "gRPC: a message over REQUEST_BYTES_MAX",
    send: () => grpcCall(RECORD, envelope(OVERSIZED)),
    code: "8",
    message: "larger than configured readMaxBytes",
  },
  {
    name: "gRPC: an envelope declaring 2 GiB",
    send: () => grpcCall(RECORD, envelope(new Uint8Array(10), 0, 0x7fffffff)),
    code: "8",
    message: "larger than configured readMaxBytes",
  },
  {
    name: "gRPC: a malformed grpc-timeout",
    send: () => grpcCall(RECORD, envelope(new Uint8Array(0)), { "grpc-timeout": "soon" }),
    code: "3",
    message: "invalid grpc timeout",
  },
  {
    name: "gRPC over HTTP/2 with a content type no protocol speaks",
    send: () => grpcCall(RECORD, envelope(new Uint8Array(0)), { "content-type": "text/plain" }),
    code: "http 415",
    message: "",
  },
  // gRPC-Web (HTTP/1.1)
  {
    name: "gRPC-Web: bytes that are not protobuf",
    send: () => grpcWebCall(RECORD, envelope(GARBAGE)),
    code: "3",
    message: "parse binary",
  },
  {
    name: "gRPC-Web: a message over REQUEST_BYTES_MAX",
    send: () => grpcWebCall(RECORD, envelope(OVERSIZED)),
    code: "8",
    message: "larger than configured readMaxBytes",
  },
];

const UUID = "00000000-0000-0000-0000-000000000000";
const json = (method: string, body: object) => () =>
  connectCall(`${SERVICE}/${method}`, "application/json", JSON.stringify(body));

/** Well-formed messages with hostile values: refused by the service, naming the field. */
const VALUE_CASES: readonly Case[] = [
  {
    name: "an empty app",
    send: json("CreateLedger", { app: "", ownerId: "o", unit: "CREDITS", idempotencyKey: "k" }),
    code: "invalid_argument",
    message: "app: is required",
  },
  {
    name: "a 300-character owner id",
    send: json("CreateLedger", {
      app: CONTENT,
      ownerId: "o".repeat(300),
      unit: "CREDITS",
      idempotencyKey: "k",
    }),
    code: "invalid_argument",
    message: "owner_id: is longer than 256 characters",
  },
  {
    name: "a missing idempotency key on CreateLedger",
    send: json("CreateLedger", { app: CONTENT, ownerId: "o", unit: "CREDITS" }),
    code: "invalid_argument",
    message: "idempotency_key: is required",
  },
  {
    name: "a 100,000-character description",
    send: json("RecordEntry", {
      ledgerId: UUID,
      operation: "CREDIT_ADD",
      idempotencyKey: "k",
      description: "d".repeat(100_000),
    }),
    code: "invalid_argument",
    message: "description: is longer than 1024 characters",
  },
  {
    name: "a ledger id that is not a UUID",
    send: json("RecordEntry", {
      ledgerId: "1 OR 1=1",
      operation: "CREDIT_ADD",
      idempotencyKey: "k",
    }),
    code: "invalid_argument",
    message: 'ledger_id: must be a lowercase UUID, got "1 OR 1=1"',
  },
  {
    name: "an amount of -2^63",
    send: json("RecordEntry", {
      ledgerId: UUID,
      operation: "CREDIT_SPEND",
      idempotencyKey: "k",
      amount: "-9223372036854775808",
    }),
    code: "invalid_argument",
    message: "amount: must be greater than -2^63",
  },
  {
    name: "a missing idempotency key on RecordEntry",
    send: json("RecordEntry", { ledgerId: UUID, operation: "CREDIT_ADD" }),
    code: "invalid_argument",
    message: "idempotency_key: is required",
  },
  {
    name: "a missing idempotency key on ReverseTransaction",
    send: json("ReverseTransaction", { transactionId: UUID }),
    code: "invalid_argument",
    message: "idempotency_key: is required",
  },
  {
    name: "a negative page size",
    send: json("ListEntries", { ledgerId: UUID, pageSize: -1 }),
    code: "invalid_argument",
    message: "page_size",
  },
  {
    name: "an id that names nothing",
    send: json("GetLedger", { ledgerId: UUID }),
    code: "not_found",
    message: `ledger ${UUID} does not exist`,
  },
];

describe("hostile values in well-formed messages", () => {
  it.each(VALUE_CASES)("$name: $code", async ({ send, code, message }) => {
    const answer = await send();
    expect(answer.code).toBe(code);
    expect(answer.message).toContain(message);
  });
});

describe("hostile bytes on the wire", () => {
  it.each(CASES)("$name: $code", async ({ send, code, message }) => {
    const answer = await send();
    expect(answer.code).toBe(code);
    expect(answer.message).toContain(message);
    expect(answer.code).not.toMatch(/^(internal|unknown|13|2)$/);
  });

  it("skips unknown field numbers in a binary request, as proto3 requires", async () => {
    // GetLedger { ledger_id = "not-a-uuid", field 99 = varint 7 }
    const ledgerId = new TextEncoder().encode("not-a-uuid");
    const body = Uint8Array.from([0x0a, ledgerId.length, ...ledgerId, 0x98, 0x06, 0x07]);
    const answer = await connectCall(GET_LEDGER, "application/proto", body);
    // Decoded: the refusal is about the known field's value, not the unknown field.
    expect([answer.code, answer.message]).toEqual([
      "invalid_argument",
      'ledger_id: must be a lowercase UUID, got "not-a-uuid"',
    ]);
  });

  it("keeps serving correctly afterwards: a ledger opens, takes an entry, and every invariant holds", async () => {
    const connect = async (method: string, body: object) => {
      const res = await fetch(`${harness.server().url}${SERVICE}/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(res.status, method).toBe(200);
      return (await res.json()) as Record<string, Record<string, string>>;
    };
    const { ledger } = await connect("CreateLedger", {
      app: declaredApp(),
      ownerId: uniqueOwner(),
      unit: "CREDITS",
      idempotencyKey: uniqueKey(),
    });
    const { entry } = await connect("RecordEntry", {
      ledgerId: ledger?.id,
      operation: "CREDIT_ADD",
      amount: "9223372036854775807",
      idempotencyKey: uniqueKey(),
    });
    expect(entry?.balanceAfter).toBe("9223372036854775807");
    expect(await verifyInvariants(harness.server().store)).toEqual([]);
  });
});
