import { createHash } from "node:crypto";

/**
 * A stable fingerprint of a write request, idempotency key excluded: two
 * requests are "the same" exactly when method and fingerprint match.
 * Object keys are sorted so field order never matters.
 */
export function requestFingerprint(method: string, input: object): string {
  const { idempotencyKey: _ignored, ...rest } = input as { idempotencyKey?: unknown };
  return createHash("sha256")
    .update(method)
    .update("\u0000")
    .update(canonicalJson(rest))
    .digest("hex");
}

function canonicalJson(value: unknown): string {
  if (value === undefined || value === null) {
    return "null";
  }
  if (typeof value === "bigint") {
    return `"${value}n"`;
  }
  if (value instanceof Date) {
    return JSON.stringify(value.toISOString());
  }
  if (Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(",")}]`;
  }
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value);
}
