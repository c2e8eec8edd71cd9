import { anyUnpack, durationMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { ErrorReasonSchema } from "../../gen/ledger/v1/ledger_pb.js";
import { type ErrorReason, InvariantViolation, LedgerError } from "../domain/index.js";
import {
  codeForReason,
  ERROR_DOMAIN,
  FAILURE_DETAIL_REGISTRY,
  OVERLOADED_RETRY_DELAY_MS,
  reasonOf,
  statusFromLedgerError,
  toConnectError,
} from "./errors.js";

/** The contract: proto/ledger/v1/ledger.proto, enum ErrorReason, one code per reason. */
const EXPECTED_CODES: Record<ErrorReason, Code> = {
  LEDGER_NOT_FOUND: Code.NotFound,
  TRANSACTION_NOT_FOUND: Code.NotFound,
  INSUFFICIENT_FUNDS: Code.FailedPrecondition,
  LEDGER_TERMINATED: Code.FailedPrecondition,
  IDEMPOTENCY_KEY_REUSED: Code.AlreadyExists,
  REVERSAL_EXCEEDS_TRANSACTION: Code.FailedPrecondition,
  UNKNOWN_OPERATION: Code.InvalidArgument,
  AMOUNT_DIRECTION_MISMATCH: Code.InvalidArgument,
  INVALID_ARGUMENT: Code.InvalidArgument,
  TRANSACTION_NOT_REVERSIBLE: Code.FailedPrecondition,
  BALANCE_OVERFLOW: Code.OutOfRange,
  LEDGER_ALREADY_EXISTS: Code.AlreadyExists,
  CONCURRENCY_CONFLICT: Code.Aborted,
  STORE_UNAVAILABLE: Code.Unavailable,
  OVERLOADED: Code.ResourceExhausted,
  CONSUMER_TOO_SLOW: Code.ResourceExhausted,
  EXTERNAL_ID_ALREADY_USED: Code.AlreadyExists,
  APP_MISMATCH: Code.InvalidArgument,
  UNIT_MISMATCH: Code.InvalidArgument,
  HOLD_NOT_PENDING: Code.FailedPrecondition,
  HOLD_EXPIRED: Code.FailedPrecondition,
  HOLD_AMOUNT_EXCEEDED: Code.FailedPrecondition,
  LEDGER_HAS_PENDING_TRANSACTIONS: Code.FailedPrecondition,
  BACKDATE_TOO_FAR: Code.FailedPrecondition,
  LEDGER_NOT_YET_VALID: Code.FailedPrecondition,
  LEDGER_EXPIRED: Code.FailedPrecondition,
  UNKNOWN_APP: Code.InvalidArgument,
  AMOUNT_NOT_ALLOWED: Code.InvalidArgument,
  TOKEN_MISSING: Code.Unauthenticated,
  TOKEN_INVALID: Code.Unauthenticated,
  ROLE_NOT_PERMITTED: Code.PermissionDenied,
  APP_NOT_PERMITTED: Code.PermissionDenied,
};

describe("error mapping", () => {
  it("covers exactly the reasons of the proto ErrorReason enum", () => {
    const protoReasons = ErrorReasonSchema.values
      .map((value) => value.name.replace(/^ERROR_REASON_/, ""))
      .filter((name) => name !== "UNSPECIFIED")
      .sort();
    expect(Object.keys(EXPECTED_CODES).sort()).toEqual(protoReasons);
  });

  it.each(Object.entries(EXPECTED_CODES) as [ErrorReason, Code][])(
    "maps %s to its code with an ErrorInfo carrying reason and metadata",
    (reason, code) => {
      const mapped = toConnectError(
        new LedgerError(reason, `because ${reason}`, { ledger_id: "l-1" }),
        "req-1",
      );
      expect(codeForReason(reason)).toBe(code);
      expect(mapped.code).toBe(code);
      expect(mapped.rawMessage).toBe(`because ${reason}`);
      const [info, ...others] = mapped.findDetails(ErrorInfoSchema);
      expect(others).toEqual([]);
      expect(info?.domain).toBe(ERROR_DOMAIN);
      expect(info?.reason).toBe(reason);
      expect(info?.metadata).toEqual({ ledger_id: "l-1" });
      expect(reasonOf(mapped)).toBe(reason);
    },
  );

  it("suggests a retry delay (google.rpc.RetryInfo) with OVERLOADED, and only then", () => {
    const overloaded = toConnectError(new LedgerError("OVERLOADED", "busy", {}), "req-1");
    const [retry] = overloaded.findDetails(RetryInfoSchema);
    expect(retry?.retryDelay && durationMs(retry.retryDelay)).toBe(OVERLOADED_RETRY_DELAY_MS);
    const unavailable = toConnectError(new LedgerError("STORE_UNAVAILABLE", "down", {}), "req-1");
    expect(unavailable.findDetails(RetryInfoSchema)).toEqual([]);
  });

  it.each(["INSUFFICIENT_FUNDS", "IDEMPOTENCY_KEY_REUSED", "OVERLOADED"] as const)(
    "gives a bulk item's google.rpc.Status for %s the code, message and details of a failed call",
    (reason) => {
      const error = new LedgerError(reason, `entries[3]: because ${reason}`, { index: "3" });
      const call = toConnectError(error, "req-1");
      const status = statusFromLedgerError(error);
      expect(status.code).toBe(call.code);
      expect(status.message).toBe(call.rawMessage);
      const unpacked = status.details.map((any) => anyUnpack(any, FAILURE_DETAIL_REGISTRY));
      expect(unpacked).toEqual([
        ...call.findDetails(ErrorInfoSchema),
        ...call.findDetails(RetryInfoSchema),
      ]);
      expect(unpacked[0]).toMatchObject({
        domain: ERROR_DOMAIN,
        reason,
        metadata: { index: "3" },
      });
    },
  );

  it("passes a ConnectError through unchanged", () => {
    const deadline = new ConnectError("deadline exceeded", Code.DeadlineExceeded);
    expect(toConnectError(deadline, "req-1")).toBe(deadline);
  });

  it.each([
    ["a broken invariant", new InvariantViolation("balance_after = balance + amount")],
    ["a plain Error", new Error("connection string postgres://secret@db")],
    ["a thrown string", "boom"],
  ])("turns %s into INTERNAL with a generic message naming the request id", (_, cause) => {
    const mapped = toConnectError(cause, "req-42");
    expect(mapped.code).toBe(Code.Internal);
    expect(mapped.rawMessage).toBe("internal error (request id req-42)");
    expect(mapped.details).toEqual([]);
    expect(mapped.cause).toBe(cause);
  });
});
