import {
  type DescEnum,
  type DescField,
  type DescMessage,
  type DescOneof,
  ScalarType,
} from "@bufbuild/protobuf";
import { invalidArgument, LedgerError } from "../domain/index.js";
import { quoted } from "./quoted.js";
import { checkTimestampJson } from "./timestamp.js";

/**
 * The proto3 JSON a request may be, exactly. protobuf-es (as connect-es calls
 * it) is lenient where this service must not be: it drops unknown fields, so a
 * misspelt `ammount` silently becomes the default amount; it reads int64
 * strings with BigInt(), so "0x10" is 16 and " 5" is 5; it reads Timestamps
 * with Date.parse, which moves February 30 to March 2. This check runs before
 * protobuf-es on the parsed JSON and refuses, naming the field:
 *
 * - a key that is neither a field's JSON name (lowerCamel) nor its proto name,
 *   at any depth, and a field given twice under its two names;
 * - two members of one oneof;
 * - a value of the wrong JSON type for the field, list or map;
 * - integers that are not canonical decimal strings (an optional "-" for
 *   signed types) or JSON numbers that are exact integers (at most 2^53 in
 *   magnitude), and integers outside their type's range;
 * - enum names the enum does not have;
 * - Timestamps that are not exact RFC 3339 instants in range (timestamp.ts).
 *
 * Floats, bytes and the other well-known types are left to protobuf-es.
 */
export function checkJsonMessage(schema: DescMessage, json: unknown, path = ""): void {
  switch (schema.typeName) {
    case "google.protobuf.Timestamp":
      checkTimestampJson(path, json);
      return;
    case "google.protobuf.Int64Value":
    case "google.protobuf.UInt64Value":
    case "google.protobuf.Int32Value":
    case "google.protobuf.UInt32Value":
    case "google.protobuf.BoolValue":
    case "google.protobuf.StringValue":
      checkField(wrappedValue(schema), json, path);
      return;
  }
  if (schema.file.name.startsWith("google/protobuf/") && WKT_WITH_OWN_JSON.has(schema.name)) {
    return;
  }
  if (!isObject(json)) {
    throw refusal(schema, path, "must be a JSON object");
  }
  checkFields(schema, json, path);
}

/** Well-known types whose JSON form is not an object of their fields. */
const WKT_WITH_OWN_JSON = new Set([
  "Any",
  "Duration",
  "FieldMask",
  "Struct",
  "Value",
  "ListValue",
  "DoubleValue",
  "FloatValue",
  "BytesValue",
]);

function checkFields(schema: DescMessage, json: Readonly<Record<string, unknown>>, path: string) {
  const keys = fieldsByJsonKey(schema);
  const given = new Map<DescField, string>();
  const oneofs = new Map<DescOneof, string>();
  for (const [key, value] of Object.entries(json)) {
    const field = keys.get(key);
    if (field === undefined) {
      throw invalidArgument(join(path, key), `is not a field of ${schema.typeName}`);
    }
    const fieldPath = join(path, field.name);
    const earlier = given.get(field);
    if (earlier !== undefined) {
      throw invalidArgument(fieldPath, `is given twice, as "${earlier}" and as "${key}"`);
    }
    given.set(field, key);
    if (value === null) {
      continue; // proto3 JSON: null is the field's default.
    }
    if (field.oneof !== undefined) {
      const other = oneofs.get(field.oneof);
      if (other !== undefined) {
        throw invalidArgument(fieldPath, `shares oneof ${field.oneof.name} with "${other}"`);
      }
      oneofs.set(field.oneof, key);
    }
    checkField(field, value, fieldPath);
  }
}

function checkField(field: DescField, value: unknown, path: string): void {
  switch (field.fieldKind) {
    case "scalar":
      checkScalar(field.scalar, value, path);
      return;
    case "enum":
      checkEnum(field.enum, value, path);
      return;
    case "message":
      checkJsonMessage(field.message, value, path);
      return;
    case "list":
      checkList(field, value, path);
      return;
    case "map":
      checkMap(field, value, path);
      return;
  }
}

function checkList(field: DescField & { fieldKind: "list" }, value: unknown, path: string) {
  if (!Array.isArray(value)) {
    throw invalidArgument(path, "must be a JSON array");
  }
  value.forEach((item: unknown, index) => {
    const itemPath = `${path}[${index}]`;
    if (item === null) {
      throw invalidArgument(itemPath, "must not be null");
    }
    checkItem(field, item, itemPath);
  });
}

function checkMap(field: DescField & { fieldKind: "map" }, value: unknown, path: string) {
  if (!isObject(value)) {
    throw invalidArgument(path, "must be a JSON object");
  }
  for (const [key, item] of Object.entries(value)) {
    const itemPath = join(path, key);
    checkMapKey(field.mapKey, key, itemPath);
    if (item === null) {
      throw invalidArgument(itemPath, "must not be null");
    }
    checkItem(field, item, itemPath);
  }
}

/** An element of a list or a value of a map. */
function checkItem(
  field: DescField & { fieldKind: "list" | "map" },
  item: unknown,
  path: string,
): void {
  const kind = field.fieldKind === "list" ? field.listKind : field.mapKind;
  if (kind === "scalar" && field.scalar !== undefined) {
    checkScalar(field.scalar, item, path);
  } else if (kind === "enum" && field.enum !== undefined) {
    checkEnum(field.enum, item, path);
  } else if (kind === "message" && field.message !== undefined) {
    checkJsonMessage(field.message, item, path);
  }
}

function checkMapKey(type: ScalarType, key: string, path: string): void {
  if (type === ScalarType.STRING) {
    return;
  }
  if (type === ScalarType.BOOL) {
    if (key !== "true" && key !== "false") {
      throw invalidArgument(path, 'has a key that is not "true" or "false"');
    }
    return;
  }
  checkScalar(type, key, path);
}

interface IntegerRange {
  readonly name: string;
  readonly min: bigint;
  readonly max: bigint;
}

const INT32: IntegerRange = { name: "int32", min: -(2n ** 31n), max: 2n ** 31n - 1n };
const UINT32: IntegerRange = { name: "uint32", min: 0n, max: 2n ** 32n - 1n };
const INT64: IntegerRange = { name: "int64", min: -(2n ** 63n), max: 2n ** 63n - 1n };
const UINT64: IntegerRange = { name: "uint64", min: 0n, max: 2n ** 64n - 1n };

function integerRange(type: ScalarType): IntegerRange | undefined {
  switch (type) {
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return INT32;
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return UINT32;
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return INT64;
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return UINT64;
    default:
      return undefined;
  }
}

function checkScalar(type: ScalarType, value: unknown, path: string): void {
  const range = integerRange(type);
  if (range !== undefined) {
    checkInteger(range, value, path);
  } else if (type === ScalarType.STRING && typeof value !== "string") {
    throw invalidArgument(path, "must be a JSON string");
  } else if (type === ScalarType.BOOL && typeof value !== "boolean") {
    throw invalidArgument(path, "must be true or false");
  }
}

/** Canonical decimal: no sign but "-", no leading zeros, no spaces, no 0x / 0b / 0o, no exponent. */
const DECIMAL = /^-?(0|[1-9][0-9]*)$/;
/** More digits than any 64-bit integer has: out of range without building a BigInt. */
const DIGITS_MAX = 20;

function checkInteger(range: IntegerRange, value: unknown, path: string): void {
  let integer: bigint;
  if (typeof value === "number") {
    if (!Number.isInteger(value)) {
      throw invalidArgument(path, `must be an integer (${range.name}): got ${String(value)}`);
    }
    if (!Number.isSafeInteger(value)) {
      throw invalidArgument(
        path,
        `is beyond 2^53 as a JSON number, which cannot carry it exactly: send ${range.name} values as decimal strings`,
      );
    }
    integer = BigInt(value);
  } else if (typeof value === "string") {
    if (!DECIMAL.test(value) || (range.min === 0n && value.startsWith("-"))) {
      throw invalidArgument(
        path,
        `must be a decimal integer (${range.min === 0n ? "digits only" : 'digits, an optional leading "-"'}): got ${quoted(value)}`,
      );
    }
    integer = value.replace("-", "").length > DIGITS_MAX ? range.max + 1n : BigInt(value);
  } else {
    throw invalidArgument(path, `must be an integer (${range.name}): a JSON number or a string`);
  }
  if (integer < range.min || integer > range.max) {
    throw invalidArgument(path, `is out of range for ${range.name}: got ${quoted(String(value))}`);
  }
}

function checkEnum(schema: DescEnum, value: unknown, path: string): void {
  if (typeof value === "string") {
    if (!schema.values.some((v) => v.name === value)) {
      throw invalidArgument(path, `is not a value of ${schema.typeName}: got ${quoted(value)}`);
    }
    return;
  }
  checkInteger(INT32, value, path);
}

const byJsonKey = new WeakMap<DescMessage, ReadonlyMap<string, DescField>>();

/** Both names proto3 JSON accepts for a field: its JSON name and its proto name. */
function fieldsByJsonKey(schema: DescMessage): ReadonlyMap<string, DescField> {
  let keys = byJsonKey.get(schema);
  if (keys === undefined) {
    keys = new Map(schema.fields.flatMap((f) => [[f.jsonName, f] as const, [f.name, f] as const]));
    byJsonKey.set(schema, keys);
  }
  return keys;
}

function wrappedValue(schema: DescMessage): DescField {
  const [field] = schema.fields;
  if (field === undefined) {
    throw new Error(`${schema.typeName} has no value field`);
  }
  return field;
}

function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/** A refusal of a whole message (path "") has no field to name. */
function refusal(schema: DescMessage, path: string, message: string): LedgerError {
  if (path === "") {
    return new LedgerError(
      "INVALID_ARGUMENT",
      `cannot decode message ${schema.typeName} from JSON: ${message}`,
    );
  }
  return invalidArgument(path, message);
}
