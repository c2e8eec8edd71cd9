import { create, createRegistry, type DescMessage, type Message } from "@bufbuild/protobuf";
import { anyPack, durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { type Status, StatusSchema } from "../../gen/google/rpc/status_pb.js";
import { type ErrorReason, LedgerError } from "../domain/index.js";

/** The `domain` of every google.rpc.ErrorInfo this service sends. */
export const ERROR_DOMAIN = "ledger.v1";

/**
 * The delay an OVERLOADED answer suggests (google.rpc.RetryInfo): a hint, long
 * enough for a full queue to drain a little, short beside a client's deadline.
 */
export const OVERLOADED_RETRY_DELAY_MS = 1000;

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
    case "HOLD_NOT_PENDING":
    case "HOLD_EXPIRED":
    case "HOLD_AMOUNT_EXCEEDED":
    case "LEDGER_HAS_PENDING_TRANSACTIONS":
    case "BACKDATE_TOO_FAR":
    case "LEDGER_NOT_YET_VALID":
    case "LEDGER_EXPIRED":
      return Code.FailedPrecondition;
    case "IDEMPOTENCY_KEY_REUSED":
    case "LEDGER_ALREADY_EXISTS":
    case "EXTERNAL_ID_ALREADY_USED":
      return Code.AlreadyExists;
    case "UNKNOWN_OPERATION":
    case "AMOUNT_DIRECTION_MISMATCH":
    case "INVALID_ARGUMENT":
    case "APP_MISMATCH":
    case "UNIT_MISMATCH":
    case "UNKNOWN_APP":
    case "AMOUNT_NOT_ALLOWED":
      return Code.InvalidArgument;
    case "TOKEN_MISSING":
    case "TOKEN_INVALID":
      return Code.Unauthenticated;
    case "ROLE_NOT_PERMITTED":
    case "APP_NOT_PERMITTED":
      return Code.PermissionDenied;
    case "BALANCE_OVERFLOW":
      return Code.OutOfRange;
    case "CONCURRENCY_CONFLICT":
      return Code.Aborted;
    case "STORE_UNAVAILABLE":
      return Code.Unavailable;
    case "OVERLOADED":
    case "CONSUMER_TOO_SLOW":
      return Code.ResourceExhausted;
  }
}

/**
 * Every detail type wireFailure sends: what a JSON codec must know to write
 * (and read) a google.rpc.Status whose details are google.protobuf.Any.
 */
export const FAILURE_DETAIL_REGISTRY = createRegistry(ErrorInfoSchema, RetryInfoSchema);

/** One detail of a failure, as ConnectError sends it and as google.rpc.Status packs it. */
export interface FailureDetail {
  readonly desc: DescMessage;
  readonly value: Message;
}

/** A domain failure as the client sees it, whatever carries it. */
export interface WireFailure {
  readonly code: Code;
  readonly message: string;
  readonly details: readonly FailureDetail[];
}

/**
 * The one rule for what a LedgerError becomes on the wire: its reason's code,
 * its message, an ErrorInfo detail (domain, reason, metadata), plus a
 * RetryInfo detail when the server is overloaded. A failed call
 * (connectErrorFromLedgerError) and a failed item of a bulk call
 * (statusFromLedgerError) are both built from it.
 */
export function wireFailure(error: LedgerError): WireFailure {
  const info: FailureDetail = {
    desc: ErrorInfoSchema,
    value: create(ErrorInfoSchema, {
      domain: ERROR_DOMAIN,
      reason: error.reason,
      metadata: { ...error.metadata },
    }),
  };
  const retry: FailureDetail = {
    desc: RetryInfoSchema,
    value: create(RetryInfoSchema, { retryDelay: durationFromMs(OVERLOADED_RETRY_DELAY_MS) }),
  };
  const details = error.reason === "OVERLOADED" ? [info, retry] : [info];
  return { code: codeForReason(error.reason), message: error.message, details };
}

/** A domain failure of a whole call. */
export function connectErrorFromLedgerError(error: LedgerError): ConnectError {
  const failure = wireFailure(error);
  return new ConnectError(failure.message, failure.code, undefined, [...failure.details]);
}

/**
 * A domain failure of one item of a bulk call, as a google.rpc.Status: the
 * code, message and details a call failing with it would carry, each detail
 * packed in a google.protobuf.Any.
 */
export function statusFromLedgerError(error: LedgerError): Status {
  const failure = wireFailure(error);
  return create(StatusSchema, {
    code: failure.code,
    message: failure.message,
    details: failure.details.map((detail) => anyPack(detail.desc, detail.value)),
  });
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
