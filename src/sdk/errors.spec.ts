/**
 * toLedgerRpcError maps every ErrorInfo reason to its class (the three the
 * server only sends under load or outage included), keeps a reason whose
 * metadata is malformed on the base class rather than invent numbers, and
 * treats a lost connection as UNAVAILABLE (retryable), not a caller's cancel.
 * The holds' reasons parse their amounts and deadline.
 */
import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import {
  BackdateTooFarError,
  ConcurrencyConflictError,
  HoldAmountExceededError,
  HoldExpiredError,
  HoldNotPendingError,
  InsufficientFundsError,
  LedgerExpiredError,
  LedgerHasPendingTransactionsError,
  LedgerNotYetValidError,
  LedgerRpcError,
  ledgerRpcErrorFromStatus,
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

  it("parses the holds' reasons: state, deadline, held and pending amounts", () => {
    const notPending = toLedgerRpcError(
      withInfo(Code.FailedPrecondition, "HOLD_NOT_PENDING", {
        transaction_id: "t",
        state: "VOIDED",
      }),
    );
    expect(notPending).toBeInstanceOf(HoldNotPendingError);
    expect(notPending).toMatchObject({ transactionId: "t", state: "VOIDED", retryable: false });

    const expired = toLedgerRpcError(
      withInfo(Code.FailedPrecondition, "HOLD_EXPIRED", {
        transaction_id: "t",
        pending_expires_at: "2026-01-02T03:04:05.678Z",
      }),
    );
    expect(expired).toBeInstanceOf(HoldExpiredError);
    expect((expired as HoldExpiredError).pendingExpiresAt?.getTime()).toBe(
      Date.UTC(2026, 0, 2, 3, 4, 5, 678),
    );

    const exceeded = toLedgerRpcError(
      withInfo(Code.FailedPrecondition, "HOLD_AMOUNT_EXCEEDED", {
        transaction_id: "t",
        amount: "9223372036854775807",
        held_amount: "5",
      }),
    );
    expect(exceeded).toBeInstanceOf(HoldAmountExceededError);
    expect(exceeded).toMatchObject({ amountMinor: 9223372036854775807n, heldAmountMinor: 5n });

    const open = toLedgerRpcError(
      withInfo(Code.FailedPrecondition, "LEDGER_HAS_PENDING_TRANSACTIONS", {
        ledger_id: "l",
        pending_debits: "3",
        pending_credits: "0",
      }),
    );
    expect(open).toBeInstanceOf(LedgerHasPendingTransactionsError);
    expect(open).toMatchObject({ ledgerId: "l", pendingDebitsMinor: 3n, pendingCreditsMinor: 0n });

    for (const malformed of [
      withInfo(Code.FailedPrecondition, "HOLD_EXPIRED", { pending_expires_at: "tomorrow" }),
      withInfo(Code.FailedPrecondition, "HOLD_AMOUNT_EXCEEDED", { amount: "2" }),
    ]) {
      expect(toLedgerRpcError(malformed).constructor).toBe(LedgerRpcError);
    }
  });

  it("parses the time reasons: the ledger and the instant of each", () => {
    const backdate = toLedgerRpcError(
      withInfo(Code.FailedPrecondition, "BACKDATE_TOO_FAR", {
        ledger_id: "l",
        created_at: "2026-01-02T03:04:05.678Z",
        entries_max: "100000",
      }),
    );
    expect(backdate).toBeInstanceOf(BackdateTooFarError);
    expect(backdate).toMatchObject({
      ledgerId: "l",
      createdAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)),
      retryable: false,
    });

    const early = toLedgerRpcError(
      withInfo(Code.FailedPrecondition, "LEDGER_NOT_YET_VALID", {
        ledger_id: "l",
        valid_from: "2026-02-01T00:00:00Z",
      }),
    );
    expect(early).toBeInstanceOf(LedgerNotYetValidError);
    expect(early).toMatchObject({ ledgerId: "l", validFrom: new Date(Date.UTC(2026, 1, 1)) });

    const late = toLedgerRpcError(
      withInfo(Code.FailedPrecondition, "LEDGER_EXPIRED", {
        ledger_id: "l",
        valid_until: "2026-03-01T00:00:00Z",
      }),
    );
    expect(late).toBeInstanceOf(LedgerExpiredError);
    expect(late).toMatchObject({ ledgerId: "l", validUntil: new Date(Date.UTC(2026, 2, 1)) });
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

  it("reads a bulk item's index from metadata.index, only when it is a plain count", () => {
    const at = (index: string) =>
      toLedgerRpcError(withInfo(Code.AlreadyExists, "IDEMPOTENCY_KEY_REUSED", { index })).index;
    expect([at("0"), at("2"), at("999")]).toEqual([0, 2, 999]);
    expect([at(""), at("-1"), at("01"), at("1.5"), at("9999999999")]).toEqual(
      Array(5).fill(undefined),
    );
    expect(toLedgerRpcError(withInfo(Code.NotFound, "LEDGER_NOT_FOUND", {})).index).toBeUndefined();
  });
});

describe("ledgerRpcErrorFromStatus", () => {
  it("decodes an item's google.rpc.Status exactly as the same failure of a call", () => {
    const info = {
      domain: "ledger.v1",
      reason: "INSUFFICIENT_FUNDS",
      metadata: { ledger_id: "l", balance: "3", amount: "-5", index: "4" },
    };
    const status = create(StatusSchema, {
      code: Code.FailedPrecondition,
      message: "entries[4]: short",
      details: [anyPack(ErrorInfoSchema, create(ErrorInfoSchema, info))],
    });
    const fromStatus = ledgerRpcErrorFromStatus(status);
    const fromCall = toLedgerRpcError(
      new ConnectError("entries[4]: short", Code.FailedPrecondition, undefined, [
        { desc: ErrorInfoSchema, value: info },
      ]),
    );
    expect(fromStatus).toBeInstanceOf(InsufficientFundsError);
    // Every field but the cause (the wire form of the detail differs): class, code, reason, metadata...
    expect({ ...fromStatus }).toEqual({ ...fromCall });
    expect(fromStatus).toMatchObject({ message: fromCall.message, index: 4, balanceMinor: 3n });
  });
});
