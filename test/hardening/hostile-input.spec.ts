/**
 * Hostile input that parses, through the real server and real clients: what
 * a lenient decoder would quietly turn into something else is refused, by
 * name, and nothing is written. Unknown JSON fields (a misspelt `ammount`
 * must not credit the default), int64 strings that are not decimal ("0x10"
 * is not 16), impossible dates (February 30 is not March 2), Timestamps at
 * the edge of their range (no INTERNAL, no rounding into year 10000), page
 * tokens with positions beyond int64, and undecodable bytes sent to every
 * service on the port (health and reflection too). Each refusal is
 * INVALID_ARGUMENT with an ErrorInfo (domain ledger.v1, reason
 * INVALID_ARGUMENT, metadata.field naming the field where there is one), in
 * each protocol's own form.
 */
import * as http2 from "node:http2";
import {
  create,
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse } from "@connectrpc/connect/protocol-grpc-web";
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import {
  ListEntriesRequestSchema,
  type ListEntriesResponse,
  ListEntriesResponseSchema,
} from "../../gen/ledger/v1/ledger_pb.js";
import { declaredApp, uniqueExternalId, uniqueKey, uniqueOwner } from "../support/fixtures.js";
import { useLedgerServer } from "../support/server.js";
import { openLedger, post } from "../support/steps.js";

const harness = useLedgerServer();

const LEDGER = "/ledger.v1.LedgerService";
const HEALTH_CHECK = "/grpc.health.v1.Health/Check";
const HEALTH_WATCH = "/grpc.health.v1.Health/Watch";
const REFLECTION = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
/** Not protobuf: a varint that never ends. */
const GARBAGE: Uint8Array<ArrayBuffer> = Uint8Array.from([
  0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
]);

/** What a refused call answered, whatever the protocol. */
interface Answer {
  readonly code: Code | "ok";
  readonly message: string;
  readonly reason: string | undefined;
  readonly domain: string | undefined;
  readonly field: string | undefined;
}

function answerOf(error: ConnectError | undefined): Answer {
  if (error === undefined) {
    return { code: "ok", message: "", reason: undefined, domain: undefined, field: undefined };
  }
  const [info] = error.findDetails(ErrorInfoSchema);
  return {
    code: error.code,
    message: error.rawMessage,
    reason: info?.reason,
    domain: info?.domain,
    field: info?.metadata.field,
  };
}

/** A refusal of bad input: INVALID_ARGUMENT with our ErrorInfo, naming `field` (if given). */
function expectRefused(answer: Answer, field?: string): void {
  expect(answer).toMatchObject({
    code: Code.InvalidArgument,
    reason: "INVALID_ARGUMENT",
    domain: "ledger.v1",
  });
  if (field !== undefined) {
    expect(answer.field).toBe(field);
    expect(answer.message).toContain(field);
  }
}

/** The Connect protocol with JSON, as curl or fetch would send it. */
async function connectJson(method: string, body: string, httpMethod = "POST"): Promise<Answer> {
  const base = `${harness.server().url}${LEDGER}/${method}`;
  const response =
    httpMethod === "GET"
      ? await fetch(`${base}?encoding=json&message=${encodeURIComponent(body)}`)
      : await fetch(base, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (response.ok) {
    return answerOf(undefined);
  }
  return answerOf(errorFromJsonBytes(bytes, undefined, new ConnectError("no error body")));
}

async function connectProto(path: string, body: Uint8Array<ArrayBuffer>): Promise<Answer> {
  const response = await fetch(`${harness.server().url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/proto" },
    body,
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  return answerOf(
    response.ok ? undefined : errorFromJsonBytes(bytes, undefined, new ConnectError("no body")),
  );
}

function envelope(payload: Uint8Array, flags = 0): Uint8Array<ArrayBuffer> {
  const frame = new Uint8Array(5 + payload.byteLength);
  frame[0] = flags;
  new DataView(frame.buffer).setUint32(1, payload.byteLength);
  frame.set(payload, 5);
  return frame;
}

/** The last envelope of a body with `flag`, e.g. a gRPC-Web trailer or a Connect end of stream. */
function lastFrame(bytes: Uint8Array, flag: number): Uint8Array | undefined {
  let found: Uint8Array | undefined;
  for (let at = 0; at + 5 <= bytes.byteLength; ) {
    const length = new DataView(bytes.buffer, bytes.byteOffset + at + 1, 4).getUint32(0);
    if ((bytes[at] ?? 0) === flag) {
      found = bytes.subarray(at + 5, at + 5 + length);
    }
    at += 5 + length;
  }
  return found;
}

/** gRPC over h2c, raw: any content type, the status from trailers (or headers). */
function grpcRaw(
  path: string,
  body: Uint8Array,
  contentType = "application/grpc",
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(harness.server().url);
    session.on("error", reject);
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": contentType,
      te: "trailers",
    });
    const seen = new Headers();
    const note = (headers: http2.IncomingHttpHeaders) => {
      for (const [name, value] of Object.entries(headers)) {
        if (!name.startsWith(":") && value !== undefined) {
          seen.set(name, String(value));
        }
      }
    };
    stream.on("response", note);
    stream.on("trailers", note);
    stream.resume();
    stream.on("end", () => {
      session.close();
      resolve(answerOf(findTrailerError(seen)));
    });
    stream.on("error", reject);
    stream.end(body);
  });
}

/** gRPC-Web over HTTP/1.1: the status in the body's trailer frame. */
async function grpcWeb(
  path: string,
  body: Uint8Array<ArrayBuffer>,
  contentType: string,
): Promise<Answer> {
  const response = await fetch(`${harness.server().url}${path}`, {
    method: "POST",
    headers: { "content-type": contentType, "x-grpc-web": "1" },
    body,
  });
  const trailer = lastFrame(new Uint8Array(await response.arrayBuffer()), trailerFlag);
  return answerOf(trailer === undefined ? undefined : findTrailerError(trailerParse(trailer)));
}

/** A unary call with @grpc/grpc-js, its message encoded by protobuf-es (any field values). */
function grpcJsCall<I extends DescMessage, O extends DescMessage>(
  path: string,
  input: I,
  output: O,
  request: MessageInitShape<I>,
): Promise<{ answer: Answer; response: MessageShape<O> | undefined }> {
  const client = new grpc.Client(
    new URL(harness.server().url).host,
    grpc.credentials.createInsecure(),
  );
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (message: MessageInitShape<I>) => Buffer.from(toBinary(input, create(input, message))),
      (bytes: Buffer) => fromBinary(output, bytes),
      request,
      (error: grpc.ServiceError | null, response?: MessageShape<O>) => {
        client.close();
        const answer = error === null ? answerOf(undefined) : grpcJsAnswer(error);
        resolve({ answer, response });
      },
    );
  });
}

async function grpcJsListEntries(
  request: MessageInitShape<typeof ListEntriesRequestSchema>,
): Promise<{ answer: Answer; response: ListEntriesResponse | undefined }> {
  return await grpcJsCall(
    `${LEDGER}/ListEntries`,
    ListEntriesRequestSchema,
    ListEntriesResponseSchema,
    request,
  );
}

function grpcJsAnswer(error: grpc.ServiceError): Answer {
  const [detailsBin] = error.metadata.get("grpc-status-details-bin");
  const status =
    detailsBin instanceof Buffer ? fromBinary(StatusSchema, detailsBin) : create(StatusSchema);
  const connectError = new ConnectError(error.details, error.code as number as Code);
  connectError.details = status.details.map((any) => ({
    type: any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1),
    value: any.value,
  }));
  return answerOf(connectError);
}

async function newLedger() {
  return await openLedger(harness.client("connect"));
}

async function balanceOf(ledgerId: string): Promise<bigint> {
  return (await harness.client("connect").getLedger(ledgerId)).balance;
}

/** A RecordEntry body that is valid but for what `overrides` adds. */
function entryJson(ledgerId: string, overrides: Record<string, unknown>): string {
  return JSON.stringify({
    ledgerId,
    operation: "CREDIT_ADD",
    idempotencyKey: uniqueKey("hostile"),
    ...overrides,
  });
}

describe("unknown JSON fields", () => {
  it("a misspelt amount is refused by name, and the default amount is not credited", async () => {
    const ledger = await newLedger();
    const answer = await connectJson("RecordEntry", entryJson(ledger.id, { ammount: "5" }));
    expectRefused(answer, "ammount");
    expect(answer.message).toContain("is not a field of ledger.v1.RecordEntryRequest");
    expect(await balanceOf(ledger.id)).toBe(0n);
  });

  it("a misspelt min_balance is refused, and no ledger with floor 0 is opened", async () => {
    const app = declaredApp();
    const ownerId = uniqueOwner();
    const body = JSON.stringify({
      app,
      ownerId,
      unit: "CREDITS",
      idempotencyKey: uniqueKey(),
      min_balence: "-100",
    });
    expectRefused(await connectJson("CreateLedger", body), "min_balence");
    expect((await harness.client("connect").listLedgers({ app, ownerId })).items).toEqual([]);
  });

  it("a misspelt occurred_at is refused, not replaced by now", async () => {
    const ledger = await newLedger();
    const body = entryJson(ledger.id, { occured_at: "2021-01-01T00:00:00Z" });
    expectRefused(await connectJson("RecordEntry", body), "occured_at");
    expect(await balanceOf(ledger.id)).toBe(0n);
  });

  it("unknown fields nested in a Timestamp, and a field given under both its names, are refused", async () => {
    const ledger = await newLedger();
    const nested = entryJson(ledger.id, { occurredAt: { seconds: "1", nanos: 0 } });
    expectRefused(await connectJson("RecordEntry", nested), "occurred_at");
    const twice = JSON.stringify({ ledgerId: ledger.id, ledger_id: ledger.id });
    expectRefused(await connectJson("GetLedger", twice), "ledger_id");
    expect(await balanceOf(ledger.id)).toBe(0n);
  });

  it("are refused in every protocol that carries JSON: Connect GET, gRPC+json, gRPC-Web+json", async () => {
    const ledger = await newLedger();
    const body = JSON.stringify({ ledgerId: ledger.id, ledgerid: "x" });
    expectRefused(await connectJson("GetLedger", body, "GET"), "ledgerid");
    const frame = envelope(new TextEncoder().encode(body));
    expectRefused(await grpcRaw(`${LEDGER}/GetLedger`, frame, "application/grpc+json"), "ledgerid");
    expectRefused(
      await grpcWeb(`${LEDGER}/GetLedger`, frame, "application/grpc-web+json"),
      "ledgerid",
    );
    const write = envelope(new TextEncoder().encode(entryJson(ledger.id, { ammount: "5" })));
    expectRefused(
      await grpcRaw(`${LEDGER}/RecordEntry`, write, "application/grpc+json"),
      "ammount",
    );
    expect(await balanceOf(ledger.id)).toBe(0n);
  });

  it("the JSON and proto names of every field stay known", async () => {
    const ledger = await newLedger();
    const body = JSON.stringify({
      ledger_id: ledger.id,
      operation: "CREDIT_ADD",
      idempotency_key: uniqueKey(),
      amount: 7,
      occurred_at: "2021-02-28T23:59:59.5+01:00",
      metadata: { note: "both names" },
      external_transaction_id: uniqueExternalId(),
    });
    expect((await connectJson("RecordEntry", body)).code).toBe("ok");
    expect(await balanceOf(ledger.id)).toBe(7n);
  });
});

describe("int64 JSON strings", () => {
  it.each(["0x10", "0b11", "0o7", " 5", "5 ", "+5", "05", "1e1", "5.0"])(
    "amount %j is refused by name and writes nothing",
    async (amount) => {
      const ledger = await newLedger();
      const answer = await connectJson("RecordEntry", entryJson(ledger.id, { amount }));
      expectRefused(answer, "amount");
      expect(await balanceOf(ledger.id)).toBe(0n);
    },
  );

  it("decimal strings and integral JSON numbers stay valid, signed where the type is", async () => {
    const ledger = await newLedger();
    expect((await connectJson("RecordEntry", entryJson(ledger.id, { amount: "16" }))).code).toBe(
      "ok",
    );
    expect((await connectJson("RecordEntry", entryJson(ledger.id, { amount: 4 }))).code).toBe("ok");
    const spend = entryJson(ledger.id, { operation: "CREDIT_SPEND", amount: "-3" });
    expect((await connectJson("RecordEntry", spend)).code).toBe("ok");
    expect(await balanceOf(ledger.id)).toBe(17n);
  });
});

describe("JSON timestamps", () => {
  it.each([
    ["2021-02-30T00:00:00Z", "no such calendar date"],
    ["2021-02-28T24:00:00Z", "no such time of day"],
    ["2016-12-31T23:59:60Z", "no such time of day"],
    ["0000-12-31T00:00:00Z", "no such calendar date"],
    ["2021-02-28 10:00:00Z", "not an RFC 3339 timestamp"],
    ["2021-02-28T10:00:00.1234567891Z", "not an RFC 3339 timestamp"],
  ])("occurred_at %j is refused (%s) and writes nothing", async (occurredAt, why) => {
    const ledger = await newLedger();
    const answer = await connectJson("RecordEntry", entryJson(ledger.id, { occurredAt }));
    expectRefused(answer, "occurred_at");
    expect(answer.message).toContain(why);
    expect(await balanceOf(ledger.id)).toBe(0n);
  });

  it("an exact one is stored as that instant", async () => {
    const ledger = await newLedger();
    const body = entryJson(ledger.id, { occurredAt: "2020-02-29T23:30:00-01:00" });
    expect((await connectJson("RecordEntry", body)).code).toBe("ok");
    const [entry] = (await harness.client("connect").listEntries({ ledgerId: ledger.id })).items;
    expect(entry?.occurredAt?.toISOString()).toBe("2020-03-01T00:30:00.000Z");
  });
});

describe("Timestamps at the edges of their range", () => {
  async function ledgerWithOneEntry() {
    const ledger = await newLedger();
    const entry = await post(harness.client("connect"), ledger.id, "CREDIT_ADD", 2n);
    return { ledger, entry };
  }

  it("the latest valid instant filters ListEntries over JSON, without INTERNAL", async () => {
    const { ledger } = await ledgerWithOneEntry();
    for (const occurredBefore of ["9999-12-31T23:59:59.9995Z", "9999-12-31T23:59:59.999999999Z"]) {
      const body = JSON.stringify({ ledgerId: ledger.id, occurredBefore });
      expect((await connectJson("ListEntries", body)).code).toBe("ok");
    }
    const earliest = JSON.stringify({ ledgerId: ledger.id, occurredAfter: "0001-01-01T00:00:00Z" });
    expect((await connectJson("ListEntries", earliest)).code).toBe("ok");
  });

  it("the latest valid instant in binary (grpc-js) lists the entry, without INTERNAL", async () => {
    const { ledger } = await ledgerWithOneEntry();
    const answer = (
      await grpcJsListEntries({
        ledgerId: ledger.id,
        occurredBefore: { seconds: 253_402_300_799n, nanos: 999_999_999 },
        occurredAfter: { seconds: -62_135_596_800n, nanos: 0 },
      })
    ).answer;
    expect(answer.code).toBe("ok");
  });

  it("sub-millisecond digits are truncated toward the past, never rounded into the next millisecond", async () => {
    const { ledger, entry } = await ledgerWithOneEntry();
    const ms = BigInt(entry.occurredAt?.getTime() ?? 0);
    const seconds = ms / 1000n - (ms % 1000n < 0n ? 1n : 0n);
    const nanos = Number(ms - seconds * 1000n) * 1_000_000 + 999_999;
    // occurred_after is inclusive: an instant inside the entry's millisecond still finds it.
    const { answer, response } = await grpcJsListEntries({
      ledgerId: ledger.id,
      occurredAfter: { seconds, nanos },
    });
    expect(answer.code).toBe("ok");
    expect(response?.entries.map((e) => e.id)).toEqual([entry.id]);
  });

  it("seconds beyond the range are refused by name in binary", async () => {
    const { ledger } = await ledgerWithOneEntry();
    const answer = (
      await grpcJsListEntries({
        ledgerId: ledger.id,
        occurredBefore: { seconds: 253_402_300_800n, nanos: 0 },
      })
    ).answer;
    expectRefused(answer, "occurred_before");
  });
});

describe("page tokens", () => {
  function tokenFor(ledgerId: string, after: string): string {
    const body = {
      v: 1,
      f: { ledger_id: ledgerId, occurred_after: "", occurred_before: "" },
      after,
    };
    return Buffer.from(JSON.stringify(body), "utf8").toString("base64url");
  }

  it.each(["9223372036854775808", "9999999999999999999", "0", "01"])(
    "a cursor of %s is refused as page_token, never INTERNAL",
    async (after) => {
      const { id } = await newLedger();
      const pageToken = tokenFor(id, after);
      expectRefused(
        await connectJson("ListEntries", JSON.stringify({ ledgerId: id, pageToken })),
        "page_token",
      );
      const binary = (await grpcJsListEntries({ ledgerId: id, pageToken })).answer;
      expectRefused(binary, "page_token");
    },
  );

  it("the largest int64 cursor is a valid position", async () => {
    const { id } = await newLedger();
    const pageToken = tokenFor(id, "9223372036854775807");
    const body = JSON.stringify({ ledgerId: id, pageToken });
    expect((await connectJson("ListEntries", body)).code).toBe("ok");
  });
});

describe("undecodable bytes to every service on the port", () => {
  it.each([
    ["Health/Check over gRPC", () => grpcRaw(HEALTH_CHECK, envelope(GARBAGE))],
    [
      "Health/Check over gRPC-Web",
      () => grpcWeb(HEALTH_CHECK, envelope(GARBAGE), "application/grpc-web+proto"),
    ],
    ["Health/Check over Connect", () => connectProto(HEALTH_CHECK, GARBAGE)],
    ["Health/Watch over gRPC", () => grpcRaw(HEALTH_WATCH, envelope(GARBAGE))],
    [
      "Health/Check with malformed JSON over gRPC",
      () => grpcRaw(HEALTH_CHECK, envelope(new TextEncoder().encode("{")), "application/grpc+json"),
    ],
    [
      "Health/Check with an unknown JSON field",
      () =>
        grpcRaw(
          HEALTH_CHECK,
          envelope(new TextEncoder().encode('{"servce":""}')),
          "application/grpc+json",
        ),
    ],
    ["reflection over gRPC", () => grpcRaw(REFLECTION, envelope(GARBAGE))],
    ["LedgerService over gRPC", () => grpcRaw(`${LEDGER}/GetLedger`, envelope(GARBAGE))],
    [
      "LedgerService over gRPC-Web",
      () => grpcWeb(`${LEDGER}/GetLedger`, envelope(GARBAGE), "application/grpc-web+proto"),
    ],
    ["LedgerService over Connect", () => connectProto(`${LEDGER}/GetLedger`, GARBAGE)],
    [
      "LedgerService, a compressed envelope without an encoding",
      () => grpcRaw(`${LEDGER}/GetLedger`, envelope(Uint8Array.from([0x0a, 0x00]), 1)),
    ],
  ] as const)("%s: INVALID_ARGUMENT with an ErrorInfo", async (_name, send) => {
    expectRefused(await send());
  });

  it("Health/Watch over the Connect streaming protocol: the end of stream carries the ErrorInfo", async () => {
    const response = await fetch(`${harness.server().url}${HEALTH_WATCH}`, {
      method: "POST",
      headers: { "content-type": "application/connect+proto" },
      body: envelope(GARBAGE),
    });
    const end = lastFrame(new Uint8Array(await response.arrayBuffer()), 0b10);
    const json = JSON.parse(new TextDecoder().decode(end)) as { error?: unknown };
    const error = errorFromJsonBytes(
      new TextEncoder().encode(JSON.stringify(json.error)),
      undefined,
      new ConnectError("no error"),
    );
    expectRefused(answerOf(error));
  });

  it("the server still serves afterwards", async () => {
    const ledger = await newLedger();
    await post(harness.client("grpc-js"), ledger.id, "CREDIT_ADD", 3n);
    expect(await balanceOf(ledger.id)).toBe(3n);
  });
});
