/**
 * The JSON a request may be, checked against its schema before protobuf-es
 * reads it: every key is a field (JSON or proto name), at any depth; integers
 * are exact decimals or exact JSON numbers within their range; Timestamps are
 * exact; anything else is INVALID_ARGUMENT naming the offending field path.
 */
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ServerReflectionRequestSchema } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import {
  CreateLedgerRequestSchema,
  ListEntriesRequestSchema,
  RecordEntryRequestSchema,
} from "../../gen/ledger/v1/ledger_pb.js";
import { LedgerError } from "../domain/index.js";
import { checkJsonMessage } from "./strict-json.js";

function fieldRefused(schema: Parameters<typeof checkJsonMessage>[0], json: unknown): string {
  try {
    checkJsonMessage(schema, json);
  } catch (error) {
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as LedgerError).reason).toBe("INVALID_ARGUMENT");
    return (error as LedgerError).metadata.field ?? "(no field)";
  }
  throw new Error(`accepted: ${JSON.stringify(json)}`);
}

const ENTRY = {
  ledgerId: "0190a6e2-7b1c-7d3e-8f00-123456789abc",
  operation: "CREDIT_ADD",
  idempotencyKey: "k",
};

describe("strict request JSON", () => {
  it("accepts what proto3 JSON defines, under JSON and proto names, and protobuf-es reads it the same", () => {
    const valid: JsonValue[] = [
      { ...ENTRY, amount: "5", occurredAt: "2021-02-28T00:00:00Z", metadata: { a: "b" } },
      { ledger_id: ENTRY.ledgerId, idempotency_key: "k", amount: 5, occurred_at: null },
      { amount: "-9223372036854775808" },
      { amount: "9223372036854775807" },
      { amount: -9007199254740991 },
      { amount: "0" },
      { amount: 5.0 },
      {},
    ];
    for (const json of valid) {
      expect(() => checkJsonMessage(RecordEntryRequestSchema, json)).not.toThrow();
      expect(() =>
        fromJson(RecordEntryRequestSchema, json, { ignoreUnknownFields: false }),
      ).not.toThrow();
    }
    expect(fromJson(RecordEntryRequestSchema, { amount: "-12" }).amount).toBe(-12n);
  });

  it("refuses unknown fields at any depth, naming them as sent", () => {
    expect(fieldRefused(RecordEntryRequestSchema, { ...ENTRY, ammount: "5" })).toBe("ammount");
    expect(fieldRefused(CreateLedgerRequestSchema, { min_balence: "-5" })).toBe("min_balence");
    expect(fieldRefused(RecordEntryRequestSchema, { occured_at: "2021-01-01T00:00:00Z" })).toBe(
      "occured_at",
    );
    expect(fieldRefused(RecordEntryRequestSchema, JSON.parse('{"__proto__":1}'))).toBe("__proto__");
    expect(
      fieldRefused(ServerReflectionRequestSchema, {
        fileContainingExtension: { containingType: "x", extensionNumbr: 1 },
      }),
    ).toBe("file_containing_extension.extensionNumbr");
  });

  it("refuses a field given under both of its names, and two members of a oneof", () => {
    expect(fieldRefused(RecordEntryRequestSchema, { ledgerId: "a", ledger_id: "b" })).toBe(
      "ledger_id",
    );
    expect(
      fieldRefused(ServerReflectionRequestSchema, { listServices: "", fileByFilename: "x" }),
    ).toBe("file_by_filename");
  });

  it.each([
    "0x10",
    "0b11",
    "0o7",
    " 5",
    "5 ",
    "+5",
    "05",
    "5.0",
    "1e3",
    "",
    "-",
    "١٢",
    "9223372036854775808",
    "-9223372036854775809",
    "99999999999999999999999",
  ])("refuses the int64 string %j", (amount) => {
    expect(fieldRefused(RecordEntryRequestSchema, { amount })).toBe("amount");
  });

  it.each([1.5, 2 ** 53, 2 ** 63, true, [], {}])("refuses the int64 value %j", (amount) => {
    expect(fieldRefused(RecordEntryRequestSchema, { amount })).toBe("amount");
  });

  it("checks int32, string, map and Timestamp values by field", () => {
    expect(fieldRefused(ListEntriesRequestSchema, { pageSize: "0x10" })).toBe("page_size");
    expect(fieldRefused(ListEntriesRequestSchema, { pageSize: 2 ** 31 })).toBe("page_size");
    expect(fieldRefused(ListEntriesRequestSchema, { ledgerId: 5 })).toBe("ledger_id");
    expect(fieldRefused(RecordEntryRequestSchema, { metadata: { a: 1 } })).toBe("metadata.a");
    expect(fieldRefused(RecordEntryRequestSchema, { metadata: ["a"] })).toBe("metadata");
    expect(fieldRefused(ListEntriesRequestSchema, { occurredAfter: "2021-02-30T00:00:00Z" })).toBe(
      "occurred_after",
    );
    expect(
      fieldRefused(ListEntriesRequestSchema, { occurred_before: { seconds: "1", nanos: 0 } }),
    ).toBe("occurred_before");
  });

  it("refuses a body that is not an object without naming a field", () => {
    for (const json of [[], "x", 5, true]) {
      expect(fieldRefused(RecordEntryRequestSchema, json)).toBe("(no field)");
    }
  });
});
