import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { type ErrorReason, LedgerError } from "../domain/index.js";

/** The `domain` of every google.rpc.ErrorInfo this service sends. */
export const ERROR_DOMAIN = "ledger.v1";

/** The one place a domain failure reason becomes a wire code. */
export function codeForReason(reason: ErrorReason): Code {
  switch (reason) {
    case "LEDGER_NOT_FOUND":
    case "TRANSACTION_NOT_FOUND":
      return Code.NotFound;
    case "INSUFFICIENT_FUNDS":
    case "LEDGER_TERMINATED":
    case "REVERSAL_EXCEEDS_TRANSACTION":
    case "TRANSACTION_NOT_REVERSIBLE":
      return Code.FailedPrecondition;
    case "IDEMPOTENCY_KEY_REUSED":
    case "LEDGER_ALREADY_EXISTS":
      return Code.AlreadyExists;
    case "UNKNOWN_OPERATION":
    case "AMOUNT_DIRECTION_MISMATCH":
    case "INVALID_ARGUMENT":
      return Code.InvalidArgument;
    case "BALANCE_OVERFLOW":
      return Code.OutOfRange;
    case "CONCURRENCY_CONFLICT":
      return Code.Aborted;
    case "STORE_UNAVAILABLE":
      return Code.Unavailable;
  }
}

/** A domain failure as the client sees it: code, message and an ErrorInfo detail. */
export function connectErrorFromLedgerError(error: LedgerError): ConnectError {
  return new ConnectError(error.message, codeForReason(error.reason), undefined, [
    {
      desc: ErrorInfoSchema,
      value: { domain: ERROR_DOMAIN, reason: error.reason, metadata: { ...error.metadata } },
    },
  ]);
}

/**
 * Any failure of a call as sent to the client. A LedgerError is mapped; a
 * ConnectError (a decode error, an exceeded deadline) passes through; anything
 * else is a bug: INTERNAL with a generic message, the original kept as `cause`
 * for the log and never serialized.
 */
export function toConnectError(error: unknown, requestId: string): ConnectError {
  if (error instanceof LedgerError) {
    return connectErrorFromLedgerError(error);
  }
  if (error instanceof ConnectError) {
    return error;
  }
  return new ConnectError(
    `internal error (request id ${requestId})`,
    Code.Internal,
    undefined,
    undefined,
    error,
  );
}

/** The ErrorInfo reason carried by an error, if it is one of ours. */
export function reasonOf(error: ConnectError): string | undefined {
  for (const info of error.findDetails(ErrorInfoSchema)) {
    if (info.domain === ERROR_DOMAIN) {
      return info.reason;
    }
  }
  return undefined;
}
