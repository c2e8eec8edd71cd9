import { INT64_MAX, invalidArgument } from "../domain/index.js";

/**
 * An opaque page token: base64url JSON of the position after the last item
 * and the filters of the request that produced it. A token only continues
 * the listing it came from.
 */
interface PageTokenBody {
  readonly v: 1;
  /** The listing's filters, compared verbatim. */
  readonly f: Readonly<Record<string, string>>;
  /** The keyset position: the sort key of the last item returned. */
  readonly after: string;
}

const TOKEN_LENGTH_MAX = 2048;

export function encodePageToken(filters: Readonly<Record<string, string>>, after: string): string {
  const body: PageTokenBody = { v: 1, f: filters, after };
  return Buffer.from(JSON.stringify(body), "utf8").toString("base64url");
}

/** Reads a token's position exactly; undefined when the listing would never have issued it. */
export type PositionParser<T> = (after: string) => T | undefined;

/** An entry sequence: canonical decimal, 1 to 2^63-1 (the int64 column's range). */
export const sequencePosition: PositionParser<bigint> = (after) => {
  if (!/^[1-9][0-9]{0,18}$/.test(after)) {
    return undefined;
  }
  const sequence = BigInt(after);
  return sequence <= INT64_MAX ? sequence : undefined;
};

/** An entry's place in history: its sequence, and its created_at (ISO 8601, ms) after an "@". */
export interface HistoryPosition {
  readonly sequence: bigint;
  /** undefined in a token issued before history order: the entry's own created_at then. */
  readonly createdAt: Date | undefined;
}

export const historyPosition: PositionParser<HistoryPosition> = (after) => {
  const [sequenceText = "", createdAtText, ...rest] = after.split("@");
  const sequence = sequencePosition(sequenceText);
  if (sequence === undefined || rest.length > 0) {
    return undefined;
  }
  if (createdAtText === undefined) {
    return { sequence, createdAt: undefined };
  }
  const createdAt = new Date(createdAtText);
  return Number.isNaN(createdAt.getTime()) || createdAt.toISOString() !== createdAtText
    ? undefined
    : { sequence, createdAt };
};

/** The position historyPosition reads back. */
export function historyPositionText(entry: {
  readonly sequence: bigint;
  readonly createdAt: Date;
}): string {
  return `${entry.sequence}@${entry.createdAt.toISOString()}`;
}

/** A ledger id: a lowercase UUID, as the store writes them. */
export const idPosition: PositionParser<string> = (after) =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(after) ? after : undefined;

/**
 * The position a token continues from, or undefined for an empty token (the
 * first page). The whole token is validated before any of it is used: it is
 * exactly what encodePageToken writes (canonical base64url of a JSON object
 * with exactly v, f and after), and its position is one the listing issues.
 * INVALID_ARGUMENT (page_token) when not, or when it was issued for
 * different filters.
 */
export function decodePageToken<T>(
  token: string,
  filters: Readonly<Record<string, string>>,
  parsePosition: PositionParser<T>,
): T | undefined {
  if (token === "") {
    return undefined;
  }
  const body = parse(token);
  const position = body === undefined ? undefined : parsePosition(body.after);
  if (body === undefined || position === undefined) {
    throw invalidArgument("page_token", "is not a token this service issued");
  }
  if (!sameFilters(body.f, filters)) {
    throw invalidArgument("page_token", "was issued for a request with different filters");
  }
  return position;
}

function parse(token: string): PageTokenBody | undefined {
  if (token.length > TOKEN_LENGTH_MAX || !/^[A-Za-z0-9_-]+$/.test(token)) {
    return undefined;
  }
  const text = Buffer.from(token, "base64url").toString("utf8");
  if (Buffer.from(text, "utf8").toString("base64url") !== token) {
    return undefined; // not canonical: stray bits, a cut-off quartet, bytes that are not UTF-8
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return undefined;
  }
  const { v, f, after, ...rest } = value as Record<string, unknown>;
  if (v !== 1 || typeof after !== "string" || !isStringRecord(f) || Object.keys(rest).length > 0) {
    return undefined;
  }
  return { v, f, after };
}

function isStringRecord(value: unknown): value is Readonly<Record<string, string>> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((item) => typeof item === "string")
  );
}

function sameFilters(
  a: Readonly<Record<string, string>>,
  b: Readonly<Record<string, string>>,
): boolean {
  const keysA = Object.keys(a);
  return keysA.length === Object.keys(b).length && keysA.every((key) => a[key] === b[key]);
}
