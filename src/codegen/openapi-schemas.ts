/**
 * The proto3 JSON mapping as JSON Schema (draft 2020-12, as OpenAPI 3.1
 * uses it): what connect-es writes and this server's strict decoder
 * (src/rpc/strict-json.ts) accepts. Field names are their lowerCamelCase
 * JSON names; 64-bit integers are decimal strings, because a JSON number
 * loses precision past 2^53; enums are their value names; Timestamps are
 * RFC 3339 strings. Messages and enums become components named by their
 * full proto name, referenced where used; well-known types are inlined.
 */
import {
  type DescEnum,
  type DescEnumValue,
  type DescField,
  type DescMessage,
  type DescOneof,
  ScalarType,
} from "@bufbuild/protobuf";
import { getComments } from "@bufbuild/protoplugin";

/** A JSON Schema object; kept loose, as the document is plain JSON. */
export type JsonSchema = { [keyword: string]: unknown };

/** Canonical decimal strings, as the server writes and reads int64 / uint64 (strict-json.ts). */
export const INT64_PATTERN = "^-?(0|[1-9][0-9]*)$";
export const UINT64_PATTERN = "^(0|[1-9][0-9]*)$";

/** Where components live in the document. */
export function schemaRef(typeName: string): JsonSchema {
  return { $ref: `#/components/schemas/${typeName}` };
}

/**
 * Collects the component schemas of messages and enums reachable from the
 * roots, each once, well-known types excepted (inlined where used).
 */
export class SchemaCollector {
  readonly schemas = new Map<string, JsonSchema>();

  addMessage(message: DescMessage): JsonSchema {
    const inline = wellKnownSchema(message);
    if (inline !== undefined) {
      return inline;
    }
    if (!this.schemas.has(message.typeName)) {
      // Reserve the name first: messages may refer to themselves.
      this.schemas.set(message.typeName, {});
      this.schemas.set(message.typeName, this.messageSchema(message));
    }
    return schemaRef(message.typeName);
  }

  addEnum(desc: DescEnum): JsonSchema {
    if (!this.schemas.has(desc.typeName)) {
      this.schemas.set(desc.typeName, enumSchema(desc));
    }
    return schemaRef(desc.typeName);
  }

  /** The components, sorted by name so that the output is stable. */
  sorted(): Record<string, JsonSchema> {
    return Object.fromEntries([...this.schemas.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  private messageSchema(message: DescMessage): JsonSchema {
    const properties: Record<string, JsonSchema> = {};
    for (const field of message.fields) {
      properties[field.jsonName] = withDescription(
        this.fieldSchema(field),
        fieldDescription(field),
      );
    }
    return {
      type: "object",
      ...descriptionOf(commentOf(message)),
      properties,
      additionalProperties: false,
      ...oneofConstraint(message.oneofs),
    };
  }

  private fieldSchema(field: DescField): JsonSchema {
    switch (field.fieldKind) {
      case "scalar":
        return scalarSchema(field.scalar);
      case "enum":
        return this.addEnum(field.enum);
      case "message":
        return this.addMessage(field.message);
      case "list":
        return { type: "array", items: this.elementSchema(field) };
      case "map":
        return {
          type: "object",
          propertyNames: mapKeySchema(field.mapKey),
          additionalProperties: this.elementSchema(field),
        };
    }
  }

  /** An element of a list or a value of a map. */
  private elementSchema(field: DescField & { fieldKind: "list" | "map" }): JsonSchema {
    const kind = field.fieldKind === "list" ? field.listKind : field.mapKind;
    if (kind === "message" && field.message !== undefined) {
      return this.addMessage(field.message);
    }
    if (kind === "enum" && field.enum !== undefined) {
      return this.addEnum(field.enum);
    }
    return scalarSchema(field.scalar ?? ScalarType.STRING);
  }
}

export function scalarSchema(type: ScalarType): JsonSchema {
  switch (type) {
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64" };
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return { oneOf: [{ type: "number" }, { enum: ["NaN", "Infinity", "-Infinity"] }] };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "int32", minimum: 0 };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return { type: "string", format: "int64", pattern: INT64_PATTERN };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { type: "string", format: "int64", pattern: UINT64_PATTERN };
  }
}

/** Map keys are always JSON object keys: strings, which for integer keys hold decimals. */
function mapKeySchema(type: ScalarType): JsonSchema {
  if (type === ScalarType.STRING) {
    return { type: "string" };
  }
  if (type === ScalarType.BOOL) {
    return { enum: ["true", "false"] };
  }
  const unsigned = type === ScalarType.UINT32 || type === ScalarType.UINT64;
  return { type: "string", pattern: unsigned ? UINT64_PATTERN : INT64_PATTERN };
}

/**
 * Enums as their value names; each value's comment goes into the description.
 * `named` maps a value to its wire name (default: its proto name).
 */
export function enumSchema(
  desc: DescEnum,
  values: readonly DescEnumValue[] = desc.values,
  named: (value: DescEnumValue) => string = (value) => value.name,
): JsonSchema {
  const lines = values.map((value) => {
    const comment = commentOf(value);
    const name = `\`${named(value)}\``;
    return comment === "" ? `- ${name}` : `- ${name}: ${oneLine(comment)}`;
  });
  const intro = commentOf(desc);
  return {
    type: "string",
    description: [intro, lines.join("\n")].filter((part) => part !== "").join("\n\n"),
    enum: values.map(named),
  };
}

/** The well-known types with a JSON form of their own; undefined for any other message. */
export function wellKnownSchema(message: DescMessage): JsonSchema | undefined {
  switch (message.typeName) {
    case "google.protobuf.Timestamp":
      return {
        type: "string",
        format: "date-time",
        description: "RFC 3339 instant in UTC, e.g. `2026-12-03T10:15:30Z`.",
      };
    case "google.protobuf.Duration":
      return { type: "string", pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$" };
    case "google.protobuf.Any":
      return {
        type: "object",
        required: ["@type"],
        properties: { "@type": { type: "string" } },
        additionalProperties: true,
      };
    case "google.protobuf.Empty":
      return { type: "object", additionalProperties: false };
    case "google.protobuf.Struct":
      return { type: "object" };
    case "google.protobuf.Value":
      return {};
    case "google.protobuf.ListValue":
      return { type: "array" };
    case "google.protobuf.FieldMask":
      return { type: "string" };
  }
  const wrapped = /^google\.protobuf\.[A-Z][a-z0-9]*Value$/.test(message.typeName)
    ? message.fields[0]
    : undefined;
  return wrapped?.fieldKind === "scalar" ? scalarSchema(wrapped.scalar) : undefined;
}

/**
 * proto3 JSON allows at most one member of a oneof: with one member present,
 * the others may not be (a property schema `false` forbids the property).
 */
function oneofConstraint(oneofs: readonly DescOneof[]): JsonSchema {
  const dependent: Record<string, JsonSchema> = {};
  for (const oneof of oneofs) {
    for (const member of oneof.fields) {
      const others = oneof.fields.filter((f) => f !== member).map((f) => [f.jsonName, false]);
      dependent[member.jsonName] = { properties: Object.fromEntries(others) };
    }
  }
  return Object.keys(dependent).length === 0 ? {} : { dependentSchemas: dependent };
}

function fieldDescription(field: DescField): string {
  const notes: string[] = [];
  if (field.oneof !== undefined) {
    const others = field.oneof.fields.filter((f) => f !== field).map((f) => `\`${f.jsonName}\``);
    notes.push(`One of oneof \`${field.oneof.name}\`: not with ${others.join(", ")}.`);
  }
  if (field.proto.proto3Optional === true) {
    notes.push("Optional: absent and zero differ.");
  }
  return [commentOf(field), ...notes].filter((part) => part !== "").join("\n\n");
}

/** A $ref keeps its siblings in OpenAPI 3.1, so a field's description sits beside it. */
function withDescription(schema: JsonSchema, description: string): JsonSchema {
  if (description === "") {
    return schema;
  }
  const own = typeof schema.description === "string" ? `\n\n${schema.description}` : "";
  return { ...schema, description: `${description}${own}` };
}

function descriptionOf(text: string): JsonSchema {
  return text === "" ? {} : { description: text };
}

/**
 * The leading comment of an element, as written in the proto: the one space
 * after each `//` removed, lines kept (Markdown joins them).
 */
export function commentOf(desc: Parameters<typeof getComments>[0]): string {
  const leading = getComments(desc).leading ?? "";
  return leading
    .split("\n")
    .map((line) => (line.startsWith(" ") ? line.slice(1) : line))
    .join("\n")
    .trim();
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ");
}
