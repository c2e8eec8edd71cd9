/**
 * The OpenAPI document the server serves at /openapi.json is the generated
 * one, names every method of ledger.v1.LedgerService, and is true: each
 * method's example request, taken from the document with its placeholders
 * filled from a ledger, a transfer partner, a posted entry and a hold made
 * for it, posted as plain JSON to the real server, succeeds, and the answer
 * validates against the document's response schema (draft 2020-12, Ajv).
 * The server stream WatchEntries is called as the document describes it
 * (Connect streaming, enveloped JSON), each message validated the same way.
 * Refusals, of a call and of a bulk call's item, validate against the
 * document's schemas, ErrorInfo included;
 * the document is public on a server that requires tokens.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { beforeAll, describe, expect, it } from "vitest";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { fillPlaceholders } from "../../src/codegen/openapi-examples.js";
import { OPENAPI_FILE_DEFAULT } from "../../src/server/api-reference.js";
import { newToken } from "../../src/server/credentials.js";
import { useLedgerServer } from "../support/server.js";

type Json = { [key: string]: unknown };

interface Operation {
  readonly requestBody: { content: Record<string, { example: unknown; schema: Json }> };
  readonly responses: Record<string, { content?: Record<string, { schema: Json }>; $ref?: string }>;
}

const DOCUMENT = JSON.parse(readFileSync(OPENAPI_FILE_DEFAULT, "utf8")) as {
  paths: Record<string, { post: Operation }>;
  components: { schemas: Json; responses: Record<string, { content: Json }> };
  "x-ledger-placeholders": Record<string, string>;
};
const SERVICE_PATH = `/${LedgerService.typeName}/`;
const STREAM_MEDIA_TYPE = "application/connect+json";
const METHODS = Object.keys(DOCUMENT.paths).map((path) => path.slice(SERVICE_PATH.length));
const UNARY_METHODS = METHODS.filter((method) => !isStreaming(operationOf(method)));
const STREAM_END_FLAG = 0x02;
const STREAM_TIMEOUT_MS = 10_000;

function operationOf(method: string): Operation {
  const path = DOCUMENT.paths[`${SERVICE_PATH}${method}`];
  if (path === undefined) {
    throw new Error(`${method} is not in the document`);
  }
  return path.post;
}

function isStreaming(operation: Operation): boolean {
  return STREAM_MEDIA_TYPE in operation.requestBody.content;
}

/**
 * One validator per schema of the document. Ajv reads JSON Schema, not
 * OpenAPI: the components become one schema's $defs, and the document's
 * refs point there.
 */
function documentValidator(): (ref: string) => ValidateFunction {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  ajv.addFormat("int32", { type: "number", validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat("int64", /^-?(0|[1-9][0-9]*)$/);
  ajv.addFormat("date-time", /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/);
  const asDefs = JSON.stringify(DOCUMENT.components.schemas).replaceAll(
    '"#/components/schemas/',
    '"https://ledger.invalid/openapi.json#/$defs/',
  );
  ajv.addSchema({ $id: "https://ledger.invalid/openapi.json", $defs: JSON.parse(asDefs) as Json });
  return (ref) => {
    const validate = ajv.getSchema(
      ref.replace("#/components/schemas/", "https://ledger.invalid/openapi.json#/$defs/"),
    );
    if (validate === undefined) {
      throw new Error(`no schema ${ref}`);
    }
    return validate;
  };
}

function schemaRefOf(response: { content?: Record<string, { schema: Json }> } | undefined) {
  const schema = Object.values(response?.content ?? {})[0]?.schema;
  if (typeof schema?.$ref !== "string") {
    throw new Error("a response without a schema $ref");
  }
  return schema.$ref;
}

/** The error body's schema, as the document gives it for `status`. */
function errorSchemaRef(operation: Operation, status: number): string {
  const ref = operation.responses[String(status)]?.$ref ?? "";
  const name = ref.replace("#/components/responses/", "");
  return schemaRefOf(
    DOCUMENT.components.responses[name] as { content: Record<string, { schema: Json }> },
  );
}

describe("the OpenAPI document at /openapi.json", () => {
  const harness = useLedgerServer();
  let schemaFor: (ref: string) => ValidateFunction;

  beforeAll(() => {
    schemaFor = documentValidator();
  });

  async function postJson(method: string, body: unknown): Promise<{ status: number; json: Json }> {
    const response = await fetch(`${harness.server().url}${SERVICE_PATH}${method}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Connect-Protocol-Version": "1" },
      body: JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as Json };
  }

  async function call(method: string, body: unknown): Promise<Json> {
    const { status, json } = await postJson(method, body);
    expect(status, `${method}: ${JSON.stringify(json)}`).toBe(200);
    return json;
  }

  /** What the placeholders stand for (the document's x-ledger-placeholders), made fresh. */
  async function placeholderValues(): Promise<Record<string, string>> {
    const ownerId = `openapi-${randomUUID()}`;
    const created = async (owner: string) => {
      const response = await call("CreateLedger", {
        app: "content",
        ownerId: owner,
        unit: "CREDITS",
        idempotencyKey: randomUUID(),
      });
      return String((response.ledger as Json).id);
    };
    const ledgerId = await created(ownerId);
    const otherLedgerId = await created(`${ownerId}-other`);
    const entry = { ledgerId, idempotencyKey: randomUUID() };
    const credit = await call("RecordEntry", { ...entry, operation: "CREDIT_ADD", amount: "100" });
    const hold = await call("RecordEntry", {
      ...entry,
      idempotencyKey: randomUUID(),
      operation: "CREDIT_SPEND",
      amount: "-5",
      pending: true,
    });
    return {
      ledgerId,
      ownerId,
      otherLedgerId,
      newOwnerId: `${ownerId}-new`,
      transactionId: String((credit.entry as Json).transactionId),
      pendingTransactionId: String((hold.pendingTransaction as Json).id),
    };
  }

  async function exampleOf(method: string, mediaType: string): Promise<unknown> {
    const values = await placeholderValues();
    const example = operationOf(method).requestBody.content[mediaType]?.example;
    expect(example, `${method} has an example`).toBeDefined();
    return fillPlaceholders(example, (name) => {
      if (name === "key") {
        return randomUUID();
      }
      const value = values[name];
      if (value === undefined) {
        throw new Error(`the test has no value for {{${name}}}`);
      }
      return value;
    });
  }

  it("is the generated document, and names every method of the service", async () => {
    const response = await fetch(`${harness.server().url}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(await response.json()).toEqual(DOCUMENT);
    expect(METHODS.sort()).toEqual(LedgerService.methods.map((m) => m.name).sort());
    expect(Object.keys(DOCUMENT["x-ledger-placeholders"]).sort()).toEqual([
      "key",
      "ledgerId",
      "newOwnerId",
      "otherLedgerId",
      "ownerId",
      "pendingTransactionId",
      "transactionId",
    ]);
  });

  it("has schemas that refuse what proto3 JSON is not", () => {
    const ledger = schemaFor("#/components/schemas/ledger.v1.GetLedgerResponse");
    const fine = {
      balance: "5",
      status: "LEDGER_STATUS_ACTIVE",
      createdAt: "2026-12-03T10:15:30Z",
    };
    expect(ledger({ ledger: fine })).toBe(true);
    expect(ledger({ ledger: { balance: 5 } }), "an int64 as a number").toBe(false);
    expect(ledger({ ledger: { balance: "0x10" } }), "an int64 not in decimal").toBe(false);
    expect(ledger({ ledger: { balence: "5" } }), "an unknown field").toBe(false);
    expect(ledger({ ledger: { status: 1 } }), "an enum by number").toBe(false);
    expect(ledger({ ledger: { createdAt: "yesterday" } }), "a Timestamp").toBe(false);
    const item = schemaFor("#/components/schemas/ledger.v1.RecordEntryResult");
    expect(item({ entry: {} })).toBe(true);
    expect(item({ entry: {}, error: { code: 9 } }), "two members of a oneof").toBe(false);
  });

  it.each(UNARY_METHODS)(
    "%s: its example succeeds and the answer fits the schema",
    async (method) => {
      const operation = operationOf(method);
      const { status, json } = await postJson(method, await exampleOf(method, "application/json"));
      expect(status, JSON.stringify(json)).toBe(200);
      const validate = schemaFor(schemaRefOf(operation.responses["200"]));
      expect(validate(json), JSON.stringify(validate.errors)).toBe(true);
    },
  );

  it("WatchEntries: its example streams a terminated ledger's events, each fitting the schema", async () => {
    const operation = operationOf("WatchEntries");
    const request = await exampleOf("WatchEntries", STREAM_MEDIA_TYPE);
    // A terminated ledger's stream ends once everything was sent.
    await call("TerminateLedger", { ledgerId: (request as Json).ledgerId, voidPending: true });
    const response = await fetch(`${harness.server().url}${SERVICE_PATH}WatchEntries`, {
      method: "POST",
      headers: { "Content-Type": STREAM_MEDIA_TYPE, "Connect-Protocol-Version": "1" },
      body: new Uint8Array(envelope(0, request)),
      signal: AbortSignal.timeout(STREAM_TIMEOUT_MS),
    });
    expect(response.status).toBe(200);
    const frames = unenvelope(Buffer.from(await response.arrayBuffer()));
    const end = frames.pop();
    expect(end?.flags).toBe(STREAM_END_FLAG);
    expect(end?.json).toEqual({});
    const validate = schemaFor(schemaRefOf(operation.responses["200"]));
    // The credit, then the hold's steps: created, voided.
    expect(frames.length).toBeGreaterThanOrEqual(3);
    for (const frame of frames) {
      expect(validate(frame.json), JSON.stringify(validate.errors)).toBe(true);
    }
  });

  it("a refused item of a bulk call fits the schema: a google.rpc.Status with an Any ErrorInfo", async () => {
    const { ledgerId, otherLedgerId } = await placeholderValues();
    const item = {
      fromLedgerId: ledgerId,
      toLedgerId: otherLedgerId,
      idempotencyKey: randomUUID(),
    };
    const response = await call("CreateTransfers", {
      transfers: [
        { ...item, amount: "1" },
        { ...item, amount: "1000000", idempotencyKey: randomUUID() },
      ],
      atomic: false,
    });
    const validate = schemaFor(schemaRefOf(operationOf("CreateTransfers").responses["200"]));
    expect(validate(response), JSON.stringify(validate.errors)).toBe(true);
    expect(response).toMatchObject({
      results: [
        { transfer: {} },
        {
          error: {
            details: [
              { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "INSUFFICIENT_FUNDS" },
            ],
          },
        },
      ],
    });
  });

  it("refusals fit the error body, with their ErrorInfo reason", async () => {
    const operation = operationOf("GetLedger");
    const missing = await postJson("GetLedger", { ledgerId: randomUUID() });
    expect(missing.status).toBe(404);
    const validateError = schemaFor(errorSchemaRef(operation, 404));
    expect(validateError(missing.json), JSON.stringify(validateError.errors)).toBe(true);
    expect(missing.json).toMatchObject({
      code: "not_found",
      details: [{ type: "google.rpc.ErrorInfo", debug: { reason: "LEDGER_NOT_FOUND" } }],
    });

    const misspelt = await postJson("GetLedger", { ledgerID: randomUUID() });
    expect(misspelt.status).toBe(400);
    expect(schemaFor(errorSchemaRef(operation, 400))(misspelt.json)).toBe(true);
    expect(misspelt.json).toMatchObject({ code: "invalid_argument" });
  });
});

/** A Connect streaming envelope: flags, a 4-byte big-endian length, the JSON. */
function envelope(flags: number, message: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(message));
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(json.length, 1);
  return Buffer.concat([head, json]);
}

function unenvelope(body: Buffer): { flags: number; json: unknown }[] {
  const frames: { flags: number; json: unknown }[] = [];
  for (let offset = 0; offset < body.length; ) {
    const flags = body.readUInt8(offset);
    const length = body.readUInt32BE(offset + 1);
    const json: unknown = JSON.parse(body.subarray(offset + 5, offset + 5 + length).toString());
    frames.push({ flags, json });
    offset += 5 + length;
  }
  return frames;
}

describe("the OpenAPI document on a server that requires tokens", () => {
  const harness = useLedgerServer({ LEDGER_TOKENS: newToken("content", "admin").line });

  it("is public, while a call without a token is refused with the documented error body", async () => {
    const document = await fetch(`${harness.server().url}/openapi.json`);
    expect(document.status).toBe(200);
    const refused = await fetch(`${harness.server().url}${SERVICE_PATH}GetLedger`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ledgerId: randomUUID() }),
    });
    expect(refused.status).toBe(401);
    const body = (await refused.json()) as Json;
    const validate = documentValidator()(errorSchemaRef(operationOf("GetLedger"), 401));
    expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
    expect(body).toMatchObject({
      code: "unauthenticated",
      details: [{ debug: { reason: "TOKEN_MISSING" } }],
    });
  });
});
