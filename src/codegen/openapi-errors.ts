/**
 * The Connect error body as OpenAPI components: what a failed unary call
 * answers with a non-200 status (https://connectrpc.com/docs/protocol):
 * `{code, message, details}`, each detail `{type, value, debug}` with the
 * binary message in `value` and its JSON in `debug`. This server sends two
 * detail types (src/rpc/errors.ts): a google.rpc.ErrorInfo with domain
 * "ledger.v1" and a reason from ErrorReason, and, when overloaded, a
 * google.rpc.RetryInfo.
 */
import type { DescEnum } from "@bufbuild/protobuf";
import { enumSchema, type JsonSchema, schemaRef } from "./openapi-schemas.js";

export const ERROR_SCHEMA = "connect.Error";
const ERROR_INFO_SCHEMA = "ledger.v1.ErrorInfo";
const REASON_SCHEMA = "ledger.v1.ErrorInfo.Reason";
const ERROR_INFO_DETAIL_SCHEMA = "connect.ErrorDetail.ErrorInfo";
const RETRY_INFO_DETAIL_SCHEMA = "connect.ErrorDetail.RetryInfo";
/** As src/rpc/errors.ts ERROR_DOMAIN; not imported, so that generation needs no gen/ code. */
const ERROR_DOMAIN = "ledger.v1";
const REASON_PREFIX = "ERROR_REASON_";

/** Connect's code names, and the HTTP status each is sent with (Connect protocol). */
const CODE_STATUSES: ReadonlyArray<readonly [code: string, status: number]> = [
  ["canceled", 499],
  ["unknown", 500],
  ["invalid_argument", 400],
  ["deadline_exceeded", 504],
  ["not_found", 404],
  ["already_exists", 409],
  ["permission_denied", 403],
  ["resource_exhausted", 429],
  ["failed_precondition", 400],
  ["aborted", 409],
  ["out_of_range", 400],
  ["unimplemented", 501],
  ["internal", 500],
  ["unavailable", 503],
  ["data_loss", 500],
  ["unauthenticated", 401],
];

/** The component schemas of the error body; `reasons` is ledger.v1.ErrorReason. */
export function errorSchemas(reasons: DescEnum): Record<string, JsonSchema> {
  return {
    [ERROR_SCHEMA]: {
      type: "object",
      description:
        "A failed call: the Connect error body. `code` decides the HTTP status; `details` carries the ledger's ErrorInfo, whose `reason` is the stable value to branch on.",
      required: ["code"],
      properties: {
        code: { type: "string", enum: CODE_STATUSES.map(([code]) => code) },
        message: { type: "string", description: "For people; may change between versions." },
        details: {
          type: "array",
          items: {
            oneOf: [schemaRef(ERROR_INFO_DETAIL_SCHEMA), schemaRef(RETRY_INFO_DETAIL_SCHEMA)],
          },
        },
      },
      additionalProperties: false,
    },
    [ERROR_INFO_DETAIL_SCHEMA]: detailSchema("google.rpc.ErrorInfo", ERROR_INFO_SCHEMA),
    [RETRY_INFO_DETAIL_SCHEMA]: detailSchema("google.rpc.RetryInfo", "google.rpc.RetryInfo"),
    [ERROR_INFO_SCHEMA]: {
      type: "object",
      description: `google.rpc.ErrorInfo as this service fills it: domain "${ERROR_DOMAIN}", a reason, and metadata whose keys the reason names.`,
      required: ["reason", "domain"],
      properties: {
        reason: schemaRef(REASON_SCHEMA),
        domain: { const: ERROR_DOMAIN },
        metadata: { type: "object", additionalProperties: { type: "string" } },
      },
      additionalProperties: false,
    },
    [REASON_SCHEMA]: reasonSchema(reasons),
  };
}

/** ErrorReason's values as the wire carries them: without the ERROR_REASON_ prefix, and never 0. */
function reasonSchema(reasons: DescEnum): JsonSchema {
  const sent = reasons.values.filter((value) => value.number !== 0);
  return enumSchema(reasons, sent, (value) => value.name.slice(REASON_PREFIX.length));
}

function detailSchema(typeName: string, debugSchema: string): JsonSchema {
  return {
    type: "object",
    description: `A ${typeName} detail: \`value\` is its binary encoding in base64, \`debug\` the same as JSON.`,
    required: ["type", "value"],
    properties: {
      type: { const: typeName },
      value: { type: "string", contentEncoding: "base64" },
      debug: schemaRef(debugSchema),
    },
    additionalProperties: false,
  };
}

/** One response component per HTTP status a failure may have, naming its codes. */
export function errorResponses(): Record<string, JsonSchema> {
  const codesByStatus = new Map<number, string[]>();
  for (const [code, status] of CODE_STATUSES) {
    codesByStatus.set(status, [...(codesByStatus.get(status) ?? []), code]);
  }
  const sorted = [...codesByStatus.entries()].sort(([a], [b]) => a - b);
  return Object.fromEntries(
    sorted.map(([status, codes]) => [
      errorResponseName(status),
      {
        description: `Failed: code ${codes.map((code) => `\`${code}\``).join(", ")}.`,
        content: { "application/json": { schema: schemaRef(ERROR_SCHEMA) } },
      },
    ]),
  );
}

/** The statuses of errorResponses, for an operation's responses. */
export function errorStatuses(): number[] {
  return [...new Set(CODE_STATUSES.map(([, status]) => status))].sort((a, b) => a - b);
}

export function errorResponseName(status: number): string {
  return `Error${status}`;
}
