/**
 * Request timestamps: JSON ones are exact RFC 3339 instants within the
 * Timestamp range, every valid Timestamp becomes the millisecond at or
 * before it (never rounded up), and anything else is refused by field name.
 */
import { create } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { LedgerError } from "../domain/index.js";
import { checkTimestampJson, dateFromTimestamp } from "./timestamp.js";

const ts = (seconds: bigint, nanos: number) => create(TimestampSchema, { seconds, nanos });

function refusal(check: () => unknown): LedgerError {
  try {
    check();
  } catch (error) {
    expect(error).toBeInstanceOf(LedgerError);
    return error as LedgerError;
  }
  throw new Error("the timestamp was accepted");
}

describe("JSON timestamps", () => {
  it.each([
    "2021-02-28T00:00:00Z",
    "2024-02-29T23:59:59Z",
    "2000-02-29T12:00:00.123456789Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999999Z",
    "2021-06-01T12:00:00+02:00",
    "2021-06-01T12:00:00-23:59",
    "0001-01-01T00:00:00-01:00",
  ])("accepts %s", (text) => {
    expect(() => checkTimestampJson("occurred_at", text)).not.toThrow();
  });

  it.each([
    ["2021-02-30T00:00:00Z", "no such calendar date"],
    ["2023-02-29T00:00:00Z", "no such calendar date"],
    ["1900-02-29T00:00:00Z", "no such calendar date"],
    ["2021-04-31T00:00:00Z", "no such calendar date"],
    ["2021-13-01T00:00:00Z", "no such calendar date"],
    ["2021-00-10T00:00:00Z", "no such calendar date"],
    ["0000-01-01T00:00:00Z", "no such calendar date"],
    ["2021-01-01T24:00:00Z", "no such time of day"],
    ["2021-01-01T23:60:00Z", "no such time of day"],
    ["2016-12-31T23:59:60Z", "no such time of day"],
    ["2021-01-01T00:00:00+24:00", "no such UTC offset"],
    ["0001-01-01T00:00:00+00:01", "is outside"],
    ["9999-12-31T23:59:59-00:01", "is outside"],
    ["2021-01-01T00:00:00", "not an RFC 3339 timestamp"],
    ["2021-01-01t00:00:00z", "not an RFC 3339 timestamp"],
    ["2021-01-01 00:00:00Z", "not an RFC 3339 timestamp"],
    ["2021-01-01T00:00:00.1234567890Z", "not an RFC 3339 timestamp"],
    ["2021-01-01T00:00:00.Z", "not an RFC 3339 timestamp"],
    ["+2021-01-01T00:00:00Z", "not an RFC 3339 timestamp"],
    ["10000-01-01T00:00:00Z", "not an RFC 3339 timestamp"],
    ["2021-1-01T00:00:00Z", "not an RFC 3339 timestamp"],
  ])("refuses %s (%s)", (text, why) => {
    const error = refusal(() => checkTimestampJson("occurred_at", text));
    expect(error.metadata).toEqual({ field: "occurred_at" });
    expect(error.message).toContain(why);
  });

  it("refuses values that are not strings", () => {
    for (const value of [0, 1_600_000_000, {}, { seconds: "1" }, true]) {
      expect(refusal(() => checkTimestampJson("t", value)).metadata).toEqual({ field: "t" });
    }
  });
});

describe("request timestamps as Dates", () => {
  it("truncate sub-millisecond digits toward the past, at both ends of the range", () => {
    const max = dateFromTimestamp("t", ts(253_402_300_799n, 999_999_999));
    expect(max?.toISOString()).toBe("9999-12-31T23:59:59.999Z");
    const half = dateFromTimestamp("t", ts(0n, 1_999_999));
    expect(half?.getTime()).toBe(1);
    const before = dateFromTimestamp("t", ts(-1n, 999_999_999));
    expect(before?.getTime()).toBe(-1);
    const min = dateFromTimestamp("t", ts(-62_135_596_800n, 0));
    expect(min?.toISOString()).toBe("0001-01-01T00:00:00.000Z");
    expect(dateFromTimestamp("t", undefined)).toBeUndefined();
  });

  it("refuse seconds or nanos outside the Timestamp range, naming the field", () => {
    const invalid = [
      ts(253_402_300_800n, 0),
      ts(-62_135_596_801n, 999_999_999),
      ts(0n, 1_000_000_000),
      ts(0n, -1),
    ];
    for (const value of invalid) {
      const error = refusal(() => dateFromTimestamp("occurred_before", value));
      expect(error.metadata).toEqual({ field: "occurred_before" });
    }
  });
});
