import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { invalidArgument } from "../domain/index.js";
import { quoted } from "./quoted.js";

/**
 * google.protobuf.Timestamp in requests: its whole range is accepted, from
 * 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z. The store keeps
 * milliseconds (a JS Date), so finer digits are truncated toward the past,
 * never rounded up into another millisecond (or into year 10000).
 */
export const TIMESTAMP_SECONDS_MIN = -62_135_596_800n;
export const TIMESTAMP_SECONDS_MAX = 253_402_300_799n;
const NANOS_MAX = 999_999_999;
const NANOS_PER_MS = 1_000_000;
const SECONDS_PER_DAY = 86_400;

/**
 * The one place a request timestamp becomes a Date: the millisecond at or
 * before it. Out-of-range values are INVALID_ARGUMENT naming `field`.
 */
export function dateFromTimestamp(field: string, value: Timestamp | undefined): Date | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (
    value.seconds < TIMESTAMP_SECONDS_MIN ||
    value.seconds > TIMESTAMP_SECONDS_MAX ||
    !Number.isInteger(value.nanos) ||
    value.nanos < 0 ||
    value.nanos > NANOS_MAX
  ) {
    throw invalidArgument(
      field,
      "is not a valid timestamp (0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z, nanos 0 to 999999999)",
    );
  }
  return new Date(Number(value.seconds) * 1000 + Math.floor(value.nanos / NANOS_PER_MS));
}

/** proto3 JSON's form of a Timestamp: RFC 3339 with an uppercase T and Z, up to 9 fraction digits. */
const RFC3339 =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]{1,9})?(?:Z|([+-])([0-9]{2}):([0-9]{2}))$/;
const FORM = "YYYY-MM-DDTHH:MM:SS[.fraction]Z or ±HH:MM instead of Z";

/**
 * Refuses a JSON Timestamp that is not exactly an RFC 3339 instant inside the
 * Timestamp range: no impossible dates (February 30) or times (24:00, a leap
 * second 60), no year 0000, no offset that moves it out of range. What passes
 * is read by protobuf-es to the same instant, nothing moved.
 */
export function checkTimestampJson(field: string, json: unknown): void {
  if (typeof json !== "string") {
    throw invalidArgument(field, `must be an RFC 3339 string (${FORM})`);
  }
  const match = RFC3339.exec(json);
  if (match === null) {
    throw invalidArgument(field, `is not an RFC 3339 timestamp (${FORM}): got ${quoted(json)}`);
  }
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    throw invalidArgument(field, `has no such calendar date: got ${quoted(json)}`);
  }
  if (hour > 23 || minute > 59 || second > 59) {
    throw invalidArgument(field, `has no such time of day: got ${quoted(json)}`);
  }
  const offsetSeconds = utcOffsetSeconds(field, json, match.slice(7, 10));
  const seconds =
    daysFromCivil(year, month, day) * SECONDS_PER_DAY +
    hour * 3600 +
    minute * 60 +
    second -
    offsetSeconds;
  if (seconds < Number(TIMESTAMP_SECONDS_MIN) || seconds > Number(TIMESTAMP_SECONDS_MAX)) {
    throw invalidArgument(
      field,
      `is outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z: got ${quoted(json)}`,
    );
  }
}

function utcOffsetSeconds(field: string, json: string, parts: (string | undefined)[]): number {
  const [sign, hours, minutes] = parts;
  if (sign === undefined) {
    return 0;
  }
  if (Number(hours) > 23 || Number(minutes) > 59) {
    throw invalidArgument(field, `has no such UTC offset: got ${quoted(json)}`);
  }
  const magnitude = Number(hours) * 3600 + Number(minutes) * 60;
  return sign === "-" ? -magnitude : magnitude;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra =
    yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}
