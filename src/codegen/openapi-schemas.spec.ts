/**
 * protoc-gen-openapi's mapping is the proto3 JSON mapping: int64 as decimal
 * strings, enums by name, Timestamps as RFC 3339 strings, maps as objects,
 * repeated fields as arrays, optional fields marked, oneof members
 * exclusive; and an example request in a method's comment is split off,
 * checked against the request message and its placeholders filled.
 */
import { ScalarType } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  LedgerSchema,
  LedgerService,
  RecordEntryResultSchema,
  TransactionSchema,
} from "../../gen/ledger/v1/ledger_pb.js";
import { fillPlaceholders, splitMethodComment } from "./openapi-examples.js";
import { INT64_PATTERN, SchemaCollector, scalarSchema, UINT64_PATTERN } from "./openapi-schemas.js";

function collect(...messages: Parameters<SchemaCollector["addMessage"]>[0][]) {
  const collector = new SchemaCollector();
  for (const message of messages) {
    collector.addMessage(message);
  }
  return collector.sorted() as Record<string, { properties: Record<string, unknown> }>;
}

describe("the proto3 JSON mapping", () => {
  it("writes 64-bit integers as decimal strings, 32-bit ones as integers", () => {
    expect(scalarSchema(ScalarType.INT64)).toEqual({
      type: "string",
      format: "int64",
      pattern: INT64_PATTERN,
    });
    expect(scalarSchema(ScalarType.UINT64)).toMatchObject({
      type: "string",
      pattern: UINT64_PATTERN,
    });
    expect(scalarSchema(ScalarType.INT32)).toEqual({ type: "integer", format: "int32" });
  });

  it("maps a message's fields by JSON name: enums, Timestamps, maps, optional fields", () => {
    const ledger = collect(LedgerSchema)["ledger.v1.Ledger"];
    expect(ledger).toMatchObject({ type: "object", additionalProperties: false });
    const fields = ledger?.properties ?? {};
    expect(fields.ownerId).toEqual({ type: "string" });
    expect(fields.balance).toMatchObject({ type: "string", pattern: INT64_PATTERN });
    expect(fields.status).toEqual({ $ref: "#/components/schemas/ledger.v1.LedgerStatus" });
    expect(fields.createdAt).toMatchObject({ type: "string", format: "date-time" });
    expect(fields.metadata).toEqual({
      type: "object",
      propertyNames: { type: "string" },
      additionalProperties: { type: "string" },
    });
    expect(fields.minBalance).toMatchObject({ description: "Optional: absent and zero differ." });
    expect(collect(LedgerSchema)["ledger.v1.LedgerStatus"]).toMatchObject({
      type: "string",
      enum: ["LEDGER_STATUS_UNSPECIFIED", "LEDGER_STATUS_ACTIVE", "LEDGER_STATUS_TERMINATED"],
    });
  });

  it("writes repeated fields as arrays and collects each message once", () => {
    const schemas = collect(TransactionSchema, TransactionSchema);
    expect(schemas["ledger.v1.Transaction"]?.properties.entries).toEqual({
      type: "array",
      items: { $ref: "#/components/schemas/ledger.v1.Entry" },
    });
    expect(Object.keys(schemas)).toContain("ledger.v1.Entry");
  });

  it("lets one member of a oneof exclude the others", () => {
    const result = collect(RecordEntryResultSchema)["ledger.v1.RecordEntryResult"];
    expect(result).toMatchObject({
      dependentSchemas: {
        entry: { properties: { error: false } },
        error: { properties: { entry: false } },
      },
    });
  });
});

describe("example requests in method comments", () => {
  const getLedger = LedgerService.method.getLedger;

  it("are split from the description and keep their placeholders", () => {
    const comment = 'Returns a ledger.\n\nExample request: {"ledgerId": "{{ledgerId}}"}';
    expect(splitMethodComment(getLedger, comment)).toEqual({
      description: "Returns a ledger.",
      example: { ledgerId: "{{ledgerId}}" },
    });
    const filled = fillPlaceholders({ ledgerId: "{{ledgerId}}", n: 1 }, (name) => `<${name}>`);
    expect(filled).toEqual({ ledgerId: "<ledgerId>", n: 1 });
  });

  it("fail generation when not JSON, not the request, or with an unknown placeholder", () => {
    const split = (example: string) =>
      splitMethodComment(getLedger, `Returns a ledger.\n\nExample request: ${example}`);
    expect(() => split("{ledgerId: 1}")).toThrow(/is not JSON/);
    expect(() => split('{"ledgerID": "x"}')).toThrow(/is not a valid ledger.v1.GetLedgerRequest/);
    expect(() => split('{"ledgerId": "{{ledger}}"}')).toThrow(/uses \{\{ledger\}\}/);
  });
});
