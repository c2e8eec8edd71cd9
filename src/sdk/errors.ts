/**
 * Typed errors: every failed call rejects with a LedgerRpcError, or with the
 * subclass of its google.rpc.ErrorInfo reason (`instanceof
 * InsufficientFundsError`), whose fields are the reason's metadata parsed
 * (amounts as bigint).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import type { Status } from "../../gen/google/rpc/status_pb.js";
import type { ErrorReason } from "../../gen/ledger/v1/ledger_pb.js";

/** The `domain` of the ledger's ErrorInfo details. */
export const LEDGER_ERROR_DOMAIN = "ledger.v1";

/** A stable ErrorInfo reason of ledger.v1 (the ErrorReason enum without its prefix). */
export type LedgerErrorReason = Exclude<keyof typeof ErrorReason, "UNSPECIFIED">;

/** What every LedgerRpcError is built from. */
export interface LedgerRpcErrorInit {
  readonly message: string;
  readonly code: Code;
  /** Undefined when the failure carried no ledger ErrorInfo (a network error, a deadline...). */
  readonly reason: LedgerErrorReason | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  readonly cause: unknown;
}

/** Any failed call of the SDK. `code` is the gRPC/Connect code, the same for every protocol. */
export class LedgerRpcError extends Error {
  override readonly name: string = "LedgerRpcError";
  /** The status code, e.g. Code.FailedPrecondition. */
  readonly code: Code;
  /** The ErrorInfo reason, e.g. "INSUFFICIENT_FUNDS"; undefined without ErrorInfo. */
  readonly reason: LedgerErrorReason | undefined;
  /** The ErrorInfo metadata as sent (strings). */
  readonly metadata: Readonly<Record<string, string>>;
  /**
   * For a failed item of recordEntries (metadata.index): its position in
   * the items, e.g. the item that failed an atomic call. Undefined otherwise.
   */
  readonly index: number | undefined;

  constructor(init: LedgerRpcErrorInit) {
    super(init.message, { cause: init.cause });
    this.code = init.code;
    this.reason = init.reason;
    this.metadata = init.metadata;
    this.index = itemIndex(init.metadata);
  }

  /** True when the SDK retries this failure by itself (UNAVAILABLE, ABORTED, OVERLOADED). */
  get retryable(): boolean {
    return isRetryableCode(this.code) || this.reason === "OVERLOADED";
  }
}

/**
 * UNAVAILABLE and ABORTED: transient, and safe to retry with the same
 * idempotency key. RESOURCE_EXHAUSTED is retryable only with the OVERLOADED
 * reason (an oversized request stays oversized).
 */
export function isRetryableCode(code: Code): boolean {
  return code === Code.Unavailable || code === Code.Aborted;
}

/** NOT_FOUND: no such ledger (metadata ledger_id, or app/owner_id/unit for a lookup by owner). */
export class LedgerNotFoundError extends LedgerRpcError {
  override readonly name = "LedgerNotFoundError";
  /** The ledger asked for; undefined for a lookup by (app, owner_id, unit). */
  readonly ledgerId: string | undefined = this.metadata.ledger_id;
}

/** NOT_FOUND: no such transaction. */
export class TransactionNotFoundError extends LedgerRpcError {
  override readonly name = "TransactionNotFoundError";
  /** The transaction asked for. */
  readonly transactionId: string = this.metadata.transaction_id ?? "";
}

/** FAILED_PRECONDITION: the write would take the balance below the ledger's floor. */
export class InsufficientFundsError extends LedgerRpcError {
  override readonly name = "InsufficientFundsError";
  /** The ledger refused. */
  readonly ledgerId: string = this.metadata.ledger_id ?? "";
  /** Its balance when the write was refused, in minor units. */
  readonly balanceMinor: bigint = requiredBigint(this.metadata, "balance");
  /** The signed amount that was requested. */
  readonly amountMinor: bigint = requiredBigint(this.metadata, "amount");
  /** The ledger's floor; undefined if the server did not send it. */
  readonly minBalanceMinor: bigint | undefined = optionalBigint(this.metadata, "min_balance");
  /**
   * Its available balance (balance - what open holds reserve), which the
   * floor is checked against; undefined if the server did not send it.
   */
  readonly availableMinor: bigint | undefined = optionalBigint(this.metadata, "available");
  /**
   * For a backdated entry: the first entry in history order whose running
   * balance would fall below the floor (the backdated entry itself, or a
   * later one), `balanceMinor` being its balance before; undefined otherwise.
   */
  readonly entryId: string | undefined = this.metadata.entry_id;
  readonly sequence: bigint | undefined = optionalBigint(this.metadata, "sequence");
}

/** FAILED_PRECONDITION: the ledger is terminated. */
export class LedgerTerminatedError extends LedgerRpcError {
  override readonly name = "LedgerTerminatedError";
  /** The terminated ledger. */
  readonly ledgerId: string = this.metadata.ledger_id ?? "";
}

/** ALREADY_EXISTS: the idempotency key was used for a different request. */
export class IdempotencyKeyReusedError extends LedgerRpcError {
  override readonly name = "IdempotencyKeyReusedError";
  /** The reused key. */
  readonly idempotencyKey: string = this.metadata.idempotency_key ?? "";
}

/** FAILED_PRECONDITION: more than what remains of the transaction would be reversed. */
export class ReversalExceedsTransactionError extends LedgerRpcError {
  override readonly name = "ReversalExceedsTransactionError";
  /** The transaction to reverse. */
  readonly transactionId: string = this.metadata.transaction_id ?? "";
  /** The magnitude requested. */
  readonly amountMinor: bigint = requiredBigint(this.metadata, "amount");
  /** What can still be reversed. */
  readonly reversibleAmountMinor: bigint = requiredBigint(this.metadata, "reversible_amount");
}

/** FAILED_PRECONDITION: the transaction is itself a reversal, or a hold that is not POSTED. */
export class TransactionNotReversibleError extends LedgerRpcError {
  override readonly name = "TransactionNotReversibleError";
  /** The reversal that was asked to be reversed. */
  readonly transactionId: string = this.metadata.transaction_id ?? "";
}

/** INVALID_ARGUMENT: the operation is not one of the ledger's app's. */
export class UnknownOperationError extends LedgerRpcError {
  override readonly name = "UnknownOperationError";
  /** The operation sent. */
  readonly operation: string = this.metadata.operation ?? "";
  /** The ledger's app. */
  readonly app: string = this.metadata.app ?? "";
}

/** INVALID_ARGUMENT: the amount's sign disagrees with the operation's direction. */
export class AmountDirectionMismatchError extends LedgerRpcError {
  override readonly name = "AmountDirectionMismatchError";
  /** The operation sent. */
  readonly operation: string = this.metadata.operation ?? "";
  /** Its direction: CREDIT, DEBIT or EITHER. */
  readonly direction: string = this.metadata.direction ?? "";
  /** The amount (sent, or the operation's default). */
  readonly amountMinor: bigint = requiredBigint(this.metadata, "amount");
}

/** INVALID_ARGUMENT: a field is missing, malformed or out of bounds. */
export class InvalidArgumentError extends LedgerRpcError {
  override readonly name = "InvalidArgumentError";
  /** The offending field, e.g. "owner_id". */
  readonly field: string = this.metadata.field ?? "";
}

/** OUT_OF_RANGE: the balance would leave the int64 range. */
export class BalanceOverflowError extends LedgerRpcError {
  override readonly name = "BalanceOverflowError";
  /** The ledger refused. */
  readonly ledgerId: string = this.metadata.ledger_id ?? "";
  /** Its balance. */
  readonly balanceMinor: bigint = requiredBigint(this.metadata, "balance");
  /** The amount requested. */
  readonly amountMinor: bigint = requiredBigint(this.metadata, "amount");
}

/** ALREADY_EXISTS: the owner already has an active ledger in that app and unit. */
export class LedgerAlreadyExistsError extends LedgerRpcError {
  override readonly name = "LedgerAlreadyExistsError";
  /** The existing ledger. */
  readonly ledgerId: string = this.metadata.ledger_id ?? "";
}

/** ABORTED: lock contention outlasted the server's retries (the SDK retries it too). */
export class ConcurrencyConflictError extends LedgerRpcError {
  override readonly name = "ConcurrencyConflictError";
}

/** UNAVAILABLE: the server's database cannot be reached (the SDK retries it too). */
export class StoreUnavailableError extends LedgerRpcError {
  override readonly name = "StoreUnavailableError";
}

/**
 * RESOURCE_EXHAUSTED: the server is overloaded (no database connection free
 * within the call's wait, or its queue full; metadata.cause says which). The
 * SDK retries it with backoff too.
 */
export class OverloadedError extends LedgerRpcError {
  override readonly name = "OverloadedError";
}

/** ALREADY_EXISTS: another transaction of the app already has this external_transaction_id. */
export class ExternalIdAlreadyUsedError extends LedgerRpcError {
  override readonly name = "ExternalIdAlreadyUsedError";
  readonly app: string = this.metadata.app ?? "";
  /** The external id sent. */
  readonly externalTransactionId: string = this.metadata.external_transaction_id ?? "";
  /** The transaction that already has it. */
  readonly transactionId: string = this.metadata.transaction_id ?? "";
}

/** INVALID_ARGUMENT: a transfer between ledgers of two apps. */
export class AppMismatchError extends LedgerRpcError {
  override readonly name = "AppMismatchError";
  readonly fromLedgerId: string = this.metadata.from_ledger_id ?? "";
  readonly toLedgerId: string = this.metadata.to_ledger_id ?? "";
  readonly fromApp: string = this.metadata.from_app ?? "";
  readonly toApp: string = this.metadata.to_app ?? "";
}

/** INVALID_ARGUMENT: a transfer between ledgers of two units. */
export class UnitMismatchError extends LedgerRpcError {
  override readonly name = "UnitMismatchError";
  readonly fromLedgerId: string = this.metadata.from_ledger_id ?? "";
  readonly toLedgerId: string = this.metadata.to_ledger_id ?? "";
  readonly fromUnit: string = this.metadata.from_unit ?? "";
  readonly toUnit: string = this.metadata.to_unit ?? "";
}

/**
 * FAILED_PRECONDITION: a post or void of a transaction that is not an open
 * hold (already posted, voided or expired, or never a hold).
 */
export class HoldNotPendingError extends LedgerRpcError {
  override readonly name = "HoldNotPendingError";
  /** The transaction to post or void. */
  readonly transactionId: string = this.metadata.transaction_id ?? "";
  /** Its state, by name: POSTED, VOIDED or EXPIRED. */
  readonly state: string = this.metadata.state ?? "";
}

/** FAILED_PRECONDITION: a post or void of a hold past its deadline (expired, swept or not). */
export class HoldExpiredError extends LedgerRpcError {
  override readonly name = "HoldExpiredError";
  /** The hold to post or void. */
  readonly transactionId: string = this.metadata.transaction_id ?? "";
  /** Its deadline; undefined if the server did not send it. */
  readonly pendingExpiresAt: Date | undefined = optionalDate(this.metadata, "pending_expires_at");
}

/** FAILED_PRECONDITION: a post of more than the hold reserved. */
export class HoldAmountExceededError extends LedgerRpcError {
  override readonly name = "HoldAmountExceededError";
  /** The hold to post. */
  readonly transactionId: string = this.metadata.transaction_id ?? "";
  /** The magnitude asked for. */
  readonly amountMinor: bigint = requiredBigint(this.metadata, "amount");
  /** The magnitude held, the most a post may take. */
  readonly heldAmountMinor: bigint = requiredBigint(this.metadata, "held_amount");
}

/** FAILED_PRECONDITION: terminating a ledger with open holds, without `voidPending`. */
export class LedgerHasPendingTransactionsError extends LedgerRpcError {
  override readonly name = "LedgerHasPendingTransactionsError";
  /** The ledger to terminate. */
  readonly ledgerId: string = this.metadata.ledger_id ?? "";
  /** What its open holds reserve. */
  readonly pendingDebitsMinor: bigint = requiredBigint(this.metadata, "pending_debits");
  /** What its open holds would credit. */
  readonly pendingCreditsMinor: bigint = requiredBigint(this.metadata, "pending_credits");
}

/** FAILED_PRECONDITION: a backdated entry would recompute more than 100,000 later entries. */
export class BackdateTooFarError extends LedgerRpcError {
  override readonly name = "BackdateTooFarError";
  /** The ledger written to. */
  readonly ledgerId: string = this.metadata.ledger_id ?? "";
  /** The instant asked for; undefined if the server did not send it. */
  readonly createdAt: Date | undefined = optionalDate(this.metadata, "created_at");
}

/** FAILED_PRECONDITION: a write before the ledger's validity window opens. */
export class LedgerNotYetValidError extends LedgerRpcError {
  override readonly name = "LedgerNotYetValidError";
  /** The ledger written to. */
  readonly ledgerId: string = this.metadata.ledger_id ?? "";
  /** When its window opens; undefined if the server did not send it. */
  readonly validFrom: Date | undefined = optionalDate(this.metadata, "valid_from");
}

/** FAILED_PRECONDITION: a write at or after the ledger's valid_until. */
export class LedgerExpiredError extends LedgerRpcError {
  override readonly name = "LedgerExpiredError";
  /** The ledger written to. */
  readonly ledgerId: string = this.metadata.ledger_id ?? "";
  /** When it expired; undefined if the server did not send it. */
  readonly validUntil: Date | undefined = optionalDate(this.metadata, "valid_until");
}

/** INVALID_ARGUMENT: the request names an app that the server does not declare. */
export class UnknownAppError extends LedgerRpcError {
  override readonly name = "UnknownAppError";
  /** The app asked for. */
  readonly app: string = this.metadata.app ?? "";
  /** The apps the server declares (proto/apps/). */
  readonly declaredApps: readonly string[] = (this.metadata.declared_apps ?? "")
    .split(",")
    .filter((app) => app !== "");
}

/** INVALID_ARGUMENT: the amount breaks the operation's policy (fixed, or out of its bounds). */
export class AmountNotAllowedError extends LedgerRpcError {
  override readonly name = "AmountNotAllowedError";
  /** The operation sent. */
  readonly operation: string = this.metadata.operation ?? "";
  /** The amount sent (for a transfer, its magnitude). */
  readonly amountMinor: bigint = requiredBigint(this.metadata, "amount");
  /** The only amount a fixed operation accepts (signed); undefined when it is bounded instead. */
  readonly fixedAmountMinor: bigint | undefined = optionalBigint(this.metadata, "fixed_amount");
  /** The least |amount| the operation accepts, if it has that bound. */
  readonly amountMinAbsMinor: bigint | undefined = optionalBigint(this.metadata, "amount_min_abs");
  /** The largest |amount| the operation accepts, if it has that bound. */
  readonly amountMaxAbsMinor: bigint | undefined = optionalBigint(this.metadata, "amount_max_abs");
}

/** UNAUTHENTICATED: the call carried no token; give the client a `token`. */
export class TokenMissingError extends LedgerRpcError {
  override readonly name = "TokenMissingError";
}

/** UNAUTHENTICATED: the token is malformed, unknown or revoked. */
export class TokenInvalidError extends LedgerRpcError {
  override readonly name = "TokenInvalidError";
}

/** PERMISSION_DENIED: the token's role does not allow the call. */
export class RoleNotPermittedError extends LedgerRpcError {
  override readonly name = "RoleNotPermittedError";
  /** The token's role: reader, writer or admin. */
  readonly role: string = this.metadata.role ?? "";
  /** The least role the call needs. */
  readonly requiredRole: string = this.metadata.required_role ?? "";
}

/** PERMISSION_DENIED: the request names another app than the token's. */
export class AppNotPermittedError extends LedgerRpcError {
  override readonly name = "AppNotPermittedError";
  /** The app asked for. */
  readonly app: string = this.metadata.app ?? "";
  /** The token's app. */
  readonly callerApp: string = this.metadata.caller_app ?? "";
}

/**
 * RESOURCE_EXHAUSTED: a WatchEntries stream read too slowly (its buffer on
 * the server filled up). `watch` resumes from `cursor` by itself.
 */
export class ConsumerTooSlowError extends LedgerRpcError {
  override readonly name = "ConsumerTooSlowError";
  /** Resume after this (empty: from where the stream started). */
  readonly cursor: string = this.metadata.cursor ?? "";
}

type ErrorClass = new (init: LedgerRpcErrorInit) => LedgerRpcError;

/** One class per reason: adding a reason to ledger.proto breaks compilation here until mapped. */
const ERROR_CLASSES: Readonly<Record<LedgerErrorReason, ErrorClass>> = {
  LEDGER_NOT_FOUND: LedgerNotFoundError,
  TRANSACTION_NOT_FOUND: TransactionNotFoundError,
  INSUFFICIENT_FUNDS: InsufficientFundsError,
  LEDGER_TERMINATED: LedgerTerminatedError,
  IDEMPOTENCY_KEY_REUSED: IdempotencyKeyReusedError,
  REVERSAL_EXCEEDS_TRANSACTION: ReversalExceedsTransactionError,
  TRANSACTION_NOT_REVERSIBLE: TransactionNotReversibleError,
  UNKNOWN_OPERATION: UnknownOperationError,
  AMOUNT_DIRECTION_MISMATCH: AmountDirectionMismatchError,
  INVALID_ARGUMENT: InvalidArgumentError,
  BALANCE_OVERFLOW: BalanceOverflowError,
  LEDGER_ALREADY_EXISTS: LedgerAlreadyExistsError,
  CONCURRENCY_CONFLICT: ConcurrencyConflictError,
  STORE_UNAVAILABLE: StoreUnavailableError,
  OVERLOADED: OverloadedError,
  EXTERNAL_ID_ALREADY_USED: ExternalIdAlreadyUsedError,
  APP_MISMATCH: AppMismatchError,
  UNIT_MISMATCH: UnitMismatchError,
  HOLD_NOT_PENDING: HoldNotPendingError,
  HOLD_EXPIRED: HoldExpiredError,
  HOLD_AMOUNT_EXCEEDED: HoldAmountExceededError,
  LEDGER_HAS_PENDING_TRANSACTIONS: LedgerHasPendingTransactionsError,
  BACKDATE_TOO_FAR: BackdateTooFarError,
  LEDGER_NOT_YET_VALID: LedgerNotYetValidError,
  LEDGER_EXPIRED: LedgerExpiredError,
  UNKNOWN_APP: UnknownAppError,
  AMOUNT_NOT_ALLOWED: AmountNotAllowedError,
  TOKEN_MISSING: TokenMissingError,
  TOKEN_INVALID: TokenInvalidError,
  ROLE_NOT_PERMITTED: RoleNotPermittedError,
  APP_NOT_PERMITTED: AppNotPermittedError,
  CONSUMER_TOO_SLOW: ConsumerTooSlowError,
};

/**
 * Any rejection of a call as a LedgerRpcError. A lost connection counts as
 * UNAVAILABLE whatever the transport says: fetch reports a failure before a
 * response as UNKNOWN (a TypeError), and the HTTP/2 transport a stream reset
 * by a dropped session as CANCELED, which only means the caller cancelled
 * when `callerCancelled`. A reason whose metadata is malformed (a server bug)
 * falls back to the base class rather than carry made-up numbers.
 */
export function toLedgerRpcError(error: unknown, callerCancelled = false): LedgerRpcError {
  if (error instanceof LedgerRpcError) {
    return error;
  }
  const connectError = ConnectError.from(error);
  const info = connectError
    .findDetails(ErrorInfoSchema)
    .find((detail) => detail.domain === LEDGER_ERROR_DOMAIN);
  const reason = info !== undefined && isLedgerErrorReason(info.reason) ? info.reason : undefined;
  const init: LedgerRpcErrorInit = {
    message: connectError.message,
    code: isLostConnection(connectError, callerCancelled) ? Code.Unavailable : connectError.code,
    reason,
    metadata: { ...(info?.metadata ?? {}) },
    cause: error,
  };
  if (reason === undefined) {
    return new LedgerRpcError(init);
  }
  try {
    return new ERROR_CLASSES[reason](init);
  } catch (malformed) {
    if (malformed instanceof MalformedMetadataError) {
      return new LedgerRpcError(init);
    }
    throw malformed;
  }
}

/**
 * A refused item of recordEntries, whose google.rpc.Status carries what a
 * failed call carries: decoded as that call's error would be (toLedgerRpcError),
 * to the same class with the same fields.
 */
export function ledgerRpcErrorFromStatus(status: Status): LedgerRpcError {
  const error = new ConnectError(status.message, status.code as Code);
  for (const any of status.details) {
    error.details.push({
      type: any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1),
      value: any.value,
    });
  }
  return toLedgerRpcError(error);
}

const INDEX = /^(0|[1-9]\d{0,8})$/;

function itemIndex(metadata: Readonly<Record<string, string>>): number | undefined {
  const text = metadata.index;
  return text !== undefined && INDEX.test(text) ? Number(text) : undefined;
}

function isLedgerErrorReason(reason: string): reason is LedgerErrorReason {
  return Object.hasOwn(ERROR_CLASSES, reason);
}

function isLostConnection(error: ConnectError, callerCancelled: boolean): boolean {
  if (error.code === Code.Canceled) {
    return !callerCancelled;
  }
  return error.code === Code.Unknown && error.cause instanceof TypeError;
}

class MalformedMetadataError extends Error {}

const INTEGER = /^-?\d{1,20}$/;

function requiredBigint(metadata: Readonly<Record<string, string>>, key: string): bigint {
  const value = optionalBigint(metadata, key);
  if (value === undefined) {
    throw new MalformedMetadataError(key);
  }
  return value;
}

function optionalBigint(
  metadata: Readonly<Record<string, string>>,
  key: string,
): bigint | undefined {
  const text = metadata[key];
  if (text === undefined) {
    return undefined;
  }
  if (!INTEGER.test(text)) {
    throw new MalformedMetadataError(key);
  }
  return BigInt(text);
}

function optionalDate(metadata: Readonly<Record<string, string>>, key: string): Date | undefined {
  const text = metadata[key];
  if (text === undefined) {
    return undefined;
  }
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) {
    throw new MalformedMetadataError(key);
  }
  return date;
}
