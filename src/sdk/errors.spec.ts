/**
 * toLedgerRpcError maps every ErrorInfo reason to its class (the three the
 * server only sends under load or outage included), keeps a reason whose
 * metadata is malformed on the base class rather than invent numbers, and
 * treats a lost connection as UNAVAILABLE (retryable), not a caller's cancel.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import {
  ConcurrencyConflictError,
  InsufficientFundsError,
  LedgerRpcError,
  OverloadedError,
  StoreUnavailableError,
  toLedgerRpcError,
} from "./errors.js";

function withInfo(
  code: Code,
  reason: string,
  metadata: Record<string, string>,
  domain = "ledger.v1",
) {
  return new ConnectError("refused", code, undefined, [
    { desc: ErrorInfoSchema, value: { domain, reason, metadata } },
  ]);
}

describe("toLedgerRpcError", () => {
  it("maps CONCURRENCY_CONFLICT, STORE_UNAVAILABLE and OVERLOADED to retryable classes", () => {
    const conflict = toLedgerRpcError(withInfo(Code.Aborted, "CONCURRENCY_CONFLICT", {}));
    expect(conflict).toBeInstanceOf(ConcurrencyConflictError);
    expect(conflict.retryable).toBe(true);
    const unavailable = toLedgerRpcError(withInfo(Code.Unavailable, "STORE_UNAVAILABLE", {}));
    expect(unavailable).toBeInstanceOf(StoreUnavailableError);
    expect(unavailable.retryable).toBe(true);
    const overloaded = toLedgerRpcError(
      withInfo(Code.ResourceExhausted, "OVERLOADED", { cause: "queue_full" }),
    );
    expect(overloaded).toBeInstanceOf(OverloadedError);
    expect(overloaded.retryable).toBe(true);
  });

  it("does not retry a RESOURCE_EXHAUSTED that is not OVERLOADED (an oversized request)", () => {
    const oversized = toLedgerRpcError(
      new ConnectError("message too large", Code.ResourceExhausted),
    );
    expect(oversized.retryable).toBe(false);
  });

  it("parses amounts as bigint beyond 2^53", () => {
    const error = toLedgerRpcError(
      withInfo(Code.FailedPrecondition, "INSUFFICIENT_FUNDS", {
        ledger_id: "l",
        balance: "9007199254740993",
        amount: "-9223372036854775807",
      }),
    );
    expect(error).toBeInstanceOf(InsufficientFundsError);
    expect(error).toMatchObject({
      balanceMinor: 9007199254740993n,
      amountMinor: -9223372036854775807n,
      minBalanceMinor: undefined,
    });
  });

  it("keeps malformed metadata, another domain and an unknown reason on the base class", () => {
    for (const error of [
      withInfo(Code.FailedPrecondition, "INSUFFICIENT_FUNDS", { balance: "1.5", amount: "-1" }),
      withInfo(Code.FailedPrecondition, "INSUFFICIENT_FUNDS", { amount: "-1" }),
      withInfo(
        Code.FailedPrecondition,
        "INSUFFICIENT_FUNDS",
        { balance: "1", amount: "-1" },
        "other",
      ),
      withInfo(Code.FailedPrecondition, "SOMETHING_NEW", {}),
    ]) {
      const mapped = toLedgerRpcError(error);
      expect(mapped.constructor).toBe(LedgerRpcError);
      expect(mapped.code).toBe(Code.FailedPrecondition);
    }
  });

  it("treats a lost connection as UNAVAILABLE unless the caller cancelled, anything else by its code", () => {
    const network = new ConnectError(
      "fetch failed",
      Code.Unknown,
      undefined,
      undefined,
      new TypeError("fetch failed"),
    );
    expect(toLedgerRpcError(network)).toMatchObject({ code: Code.Unavailable, retryable: true });
    const reset = new ConnectError("http/2 stream closed with error code CANCEL", Code.Canceled);
    expect(toLedgerRpcError(reset)).toMatchObject({ code: Code.Unavailable, retryable: true });
    expect(toLedgerRpcError(reset, true)).toMatchObject({ code: Code.Canceled, retryable: false });
    expect(toLedgerRpcError(new Error("boom"))).toMatchObject({
      code: Code.Unknown,
      retryable: false,
    });
    expect(toLedgerRpcError(new ConnectError("late", Code.DeadlineExceeded))).toMatchObject({
      code: Code.DeadlineExceeded,
      reason: undefined,
      retryable: false,
    });
  });
});
