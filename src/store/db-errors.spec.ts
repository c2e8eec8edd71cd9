/** Which database failures become CONCURRENCY_CONFLICT or STORE_UNAVAILABLE, and which pass through. */
import { describe, expect, it } from "vitest";
import { InvariantViolation, LedgerError } from "../domain/index.js";
import { isRetryable, RetryableConflict, translateError } from "./db-errors.js";

const withCode = (code: string, message = "failure") => Object.assign(new Error(message), { code });

describe("translateError", () => {
  it("retries deadlocks, serialization failures and the store's own retryable conflicts only", () => {
    expect(isRetryable(withCode("40P01"))).toBe(true);
    expect(isRetryable(withCode("40001"))).toBe(true);
    expect(isRetryable(new RetryableConflict("raced"))).toBe(true);
    expect(isRetryable(withCode("55P03"))).toBe(false);
    expect(isRetryable(withCode("23505"))).toBe(false);
  });

  it("maps contention and lock timeouts to CONCURRENCY_CONFLICT", () => {
    for (const code of ["40P01", "40001", "55P03"]) {
      expect(translateError(withCode(code))).toMatchObject({ reason: "CONCURRENCY_CONFLICT" });
    }
  });

  it("maps a query the database never answered (pg's query_timeout) to STORE_UNAVAILABLE", () => {
    for (const error of [
      new Error("Query read timeout"),
      new Error("rollback failed", { cause: new Error("Query read timeout") }),
    ]) {
      expect(translateError(error)).toMatchObject({
        reason: "STORE_UNAVAILABLE",
        message: expect.stringContaining("stopped answering"),
      });
    }
  });

  it("maps a database that cannot be reached to STORE_UNAVAILABLE", () => {
    const unreachable = [
      withCode("ECONNREFUSED"),
      withCode("57P01"),
      withCode("08006"),
      new Error("timeout exceeded when trying to connect"),
      new Error("Connection terminated unexpectedly"),
      new AggregateError([withCode("ECONNREFUSED")], "connect failed"),
      new Error("wrapped", { cause: withCode("ECONNRESET") }),
    ];
    for (const error of unreachable) {
      const translated = translateError(error);
      expect(translated).toBeInstanceOf(LedgerError);
      expect(translated).toMatchObject({ reason: "STORE_UNAVAILABLE" });
    }
  });

  it("reports a statement cancelled by statement_timeout as STORE_UNAVAILABLE", () => {
    const translated = translateError(
      withCode("57014", "canceling statement due to statement timeout"),
    );
    expect(translated).toBeInstanceOf(LedgerError);
    expect(translated).toMatchObject({ reason: "STORE_UNAVAILABLE" });
  });

  it("passes domain errors, invariant violations and everything else through unchanged", () => {
    const passThrough = [
      new LedgerError("INSUFFICIENT_FUNDS", "no", {}),
      new InvariantViolation("bug"),
      withCode("23505"),
      new TypeError("bug"),
    ];
    for (const error of passThrough) {
      expect(translateError(error)).toBe(error);
    }
  });
});
