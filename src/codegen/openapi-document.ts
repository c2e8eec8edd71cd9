/**
 * The OpenAPI 3.1 document of a service's Connect JSON endpoints: one
 * `POST /<package>.<Service>/<Method>` per method, its request and response
 * messages as components (openapi-schemas.ts), the Connect error body for
 * every failure status (openapi-errors.ts), bearer auth, and the proto
 * comments as descriptions.
 */
import type { DescEnum, DescMessage, DescMethod, DescService } from "@bufbuild/protobuf";
import {
  ERROR_SCHEMA,
  errorResponseName,
  errorResponses,
  errorSchemas,
  errorStatuses,
} from "./openapi-errors.js";
import { PLACEHOLDERS, splitMethodComment } from "./openapi-examples.js";
import { commentOf, type JsonSchema, SchemaCollector } from "./openapi-schemas.js";

export const OPENAPI_VERSION = "3.1.0";
/** Server-streaming calls use the Connect streaming protocol, not plain JSON. */
const STREAM_MEDIA_TYPE = "application/connect+json";

export interface DocumentInput {
  readonly service: DescService;
  readonly errorReasons: DescEnum;
  /** google.rpc.RetryInfo, the second detail type errors carry. */
  readonly retryInfo: DescMessage;
  /** info.version. */
  readonly version: string;
}

export function openApiDocument(input: DocumentInput): JsonSchema {
  const schemas = new SchemaCollector();
  schemas.addMessage(input.retryInfo);
  const paths = Object.fromEntries(
    input.service.methods.map((method) => [pathOf(method), { post: operation(method, schemas) }]),
  );
  return {
    openapi: OPENAPI_VERSION,
    info: {
      title: `${input.service.name} JSON API`,
      version: input.version,
      description: serviceDescription(input.service),
    },
    servers: [{ url: "/", description: "The server that serves this document." }],
    security: [{ bearer: [] }],
    tags: [{ name: input.service.name, description: firstParagraph(commentOf(input.service)) }],
    paths,
    components: {
      schemas: { ...schemas.sorted(), ...errorSchemas(input.errorReasons) },
      responses: errorResponses(),
      parameters: headerParameters(),
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description:
            "A token from `npm run token` (header `Authorization: Bearer <token>`). A server with no token configured (development mode) needs none.",
        },
      },
    },
    "x-ledger-placeholders": PLACEHOLDERS,
  };
}

export function pathOf(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

function operation(method: DescMethod, schemas: SchemaCollector): JsonSchema {
  const { description, example } = splitMethodComment(method, commentOf(method));
  const streaming = method.methodKind === "server_streaming";
  if (method.methodKind !== "unary" && !streaming) {
    throw new Error(`${pathOf(method)}: only unary and server-streaming methods are described`);
  }
  const mediaType = streaming ? STREAM_MEDIA_TYPE : "application/json";
  return {
    operationId: method.name,
    tags: [method.parent.name],
    summary: firstSentence(description),
    description: streaming ? `${description}\n\n${STREAMING_NOTE}` : description,
    parameters: [
      { $ref: "#/components/parameters/ConnectProtocolVersion" },
      { $ref: "#/components/parameters/ConnectTimeoutMs" },
    ],
    requestBody: {
      required: true,
      content: {
        [mediaType]: {
          schema: schemas.addMessage(method.input),
          ...(example === undefined ? {} : { example }),
        },
      },
    },
    responses: {
      "200": {
        description: streaming ? "The stream: one message per event." : "OK",
        content: { [mediaType]: { schema: schemas.addMessage(method.output) } },
      },
      ...Object.fromEntries(
        errorStatuses().map((status) => [
          String(status),
          { $ref: `#/components/responses/${errorResponseName(status)}` },
        ]),
      ),
    },
    ...(streaming ? { "x-ledger-streaming": "server" } : {}),
  };
}

const STREAMING_NOTE = [
  "**A server stream (Connect streaming protocol, `Content-Type: application/connect+json`).**",
  "The request and each message of the response are *enveloped*: one flags byte",
  "and a 4-byte big-endian length before the JSON shown here. The stream ends",
  'with an envelope of flags 0x02 whose JSON is `{}` or `{"error": <the error body>}`;',
  "errors after the start are sent there, with status 200.",
  "The schemas below are those of one message. Plain `curl` cannot frame it: use",
  "a Connect, gRPC or gRPC-Web client, or `buf curl`.",
].join(" ");

function headerParameters(): JsonSchema {
  return {
    ConnectProtocolVersion: {
      name: "Connect-Protocol-Version",
      in: "header",
      required: false,
      description:
        "The Connect protocol version. Connect clients send it; this server does not require it.",
      schema: { type: "string", const: "1" },
    },
    ConnectTimeoutMs: {
      name: "Connect-Timeout-Ms",
      in: "header",
      required: false,
      description: "The call's deadline in milliseconds; past it the call fails deadline_exceeded.",
      schema: { type: "string", pattern: "^[0-9]{1,10}$" },
    },
  };
}

function serviceDescription(service: DescService): string {
  const placeholders = Object.entries(PLACEHOLDERS)
    .map(([name, meaning]) => `- \`{{${name}}}\`: ${meaning}`)
    .join("\n");
  return [
    commentOf(service),
    "## Calling it",
    "Each method is a `POST` of its request message as JSON (`Content-Type: application/json`) to `/<service>/<method>`; the answer is the response message as JSON with status 200, or the error body (`" +
      ERROR_SCHEMA +
      "`) with the status its code maps to. Field names are lowerCamelCase (the proto names are accepted too); fields at their default value are left out of answers. 64-bit integers (amounts, balances, sequences) are decimal strings, enums are their value names, timestamps RFC 3339 strings.",
    "## Examples",
    `Each method has one example request. It names ids by placeholders, to be replaced by real values:\n\n${placeholders}`,
  ].join("\n\n");
}

function firstParagraph(text: string): string {
  return text.split(/\n\s*\n/, 1)[0]?.replace(/\s*\n\s*/g, " ") ?? "";
}

/** The summary: the description's first sentence, on one line. */
function firstSentence(text: string): string {
  const paragraph = firstParagraph(text);
  const end = paragraph.search(/\.(\s|$)/);
  return end === -1 ? paragraph : paragraph.slice(0, end + 1);
}
