import { invalidArgument } from "../domain/index.js";

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

/**
 * The position a token continues from, or undefined for an empty token (the
 * first page). INVALID_ARGUMENT (page_token) when the token is malformed or
 * was issued for different filters.
 */
export function decodePageToken(
  token: string,
  filters: Readonly<Record<string, string>>,
  isPosition: (after: string) => boolean,
): string | undefined {
  if (token === "") {
    return undefined;
  }
  const body = parse(token);
  if (body === undefined || !isPosition(body.after)) {
    throw invalidArgument("page_token", "is not a token this service issued");
  }
  if (!sameFilters(body.f, filters)) {
    throw invalidArgument("page_token", "was issued for a request with different filters");
  }
  return body.after;
}

function parse(token: string): PageTokenBody | undefined {
  if (token.length > TOKEN_LENGTH_MAX || !/^[A-Za-z0-9_-]+$/.test(token)) {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) {
    return undefined;
  }
  const { v, f, after } = value as Record<string, unknown>;
  if (v !== 1 || typeof after !== "string" || !isStringRecord(f)) {
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
