/** Page tokens continue only the listing they came from, and anything else is INVALID_ARGUMENT. */
import { describe, expect, it } from "vitest";
import { LedgerError } from "../domain/index.js";
import { decodePageToken, encodePageToken, idPosition, sequencePosition } from "./page-token.js";

const filters = { app: "shop", owner_id: "" };
const anyPosition = (after: string) => after;

function refusal(token: string, expected: Readonly<Record<string, string>> = filters): LedgerError {
  try {
    decodePageToken(token, expected, anyPosition);
  } catch (error) {
    expect(error).toBeInstanceOf(LedgerError);
    return error as LedgerError;
  }
  throw new Error("the token was accepted");
}

describe("page tokens", () => {
  it("round-trip the position for the same filters, and an empty token means the first page", () => {
    const token = encodePageToken(filters, "42");
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodePageToken(token, { owner_id: "", app: "shop" }, anyPosition)).toBe("42");
    expect(decodePageToken("", filters, anyPosition)).toBeUndefined();
  });

  it("refuse tokens issued for other filters with INVALID_ARGUMENT on page_token", () => {
    const token = encodePageToken(filters, "42");
    const others: Readonly<Record<string, string>>[] = [
      { app: "shop", owner_id: "x" },
      { app: "shop" },
      { ...filters, extra: "" },
    ];
    for (const other of others) {
      const error = refusal(token, other);
      expect(error.reason).toBe("INVALID_ARGUMENT");
      expect(error.metadata).toEqual({ field: "page_token" });
    }
  });

  it("refuse malformed tokens and positions the listing would not issue", () => {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const malformed = [
      "not base64!",
      "x".repeat(5000),
      Buffer.from("not json").toString("base64url"),
      encode(null),
      encode([1, 2]),
      encode({ v: 2, f: filters, after: "1" }),
      encode({ v: 1, f: filters, after: 1 }),
      encode({ v: 1, f: { app: 1 }, after: "1" }),
    ];
    for (const token of malformed) {
      expect(refusal(token).metadata).toEqual({ field: "page_token" });
    }
    expect(() =>
      decodePageToken(encodePageToken(filters, "abc"), filters, sequencePosition),
    ).toThrow(LedgerError);
  });

  it("refuse tokens that are not exactly what the service writes", () => {
    const token = encodePageToken(filters, "42");
    const body = { v: 1, f: filters, after: "42" };
    const encode = (text: string) => Buffer.from(text, "utf8").toString("base64url");
    const variants = [
      `${token}A`, // a cut-off quartet: Buffer would drop it silently
      encode(JSON.stringify({ ...body, extra: true })),
      Buffer.from([0x7b, 0xff, 0x7d]).toString("base64url"), // not UTF-8
    ];
    for (const variant of variants) {
      expect(refusal(variant).metadata).toEqual({ field: "page_token" });
    }
  });

  it("read sequences as canonical decimals from 1 to 2^63-1, and ids as lowercase UUIDs", () => {
    expect(sequencePosition("1")).toBe(1n);
    expect(sequencePosition("9223372036854775807")).toBe(2n ** 63n - 1n);
    for (const bad of [
      "0",
      "01",
      "-1",
      "+1",
      " 1",
      "0x10",
      "9223372036854775808",
      "9".repeat(19),
    ]) {
      expect(sequencePosition(bad), bad).toBeUndefined();
    }
    const id = "0190a6e2-7b1c-7d3e-8f00-123456789abc";
    expect(idPosition(id)).toBe(id);
    expect(idPosition(id.toUpperCase())).toBeUndefined();
    expect(idPosition(`${id} `)).toBeUndefined();
  });
});
