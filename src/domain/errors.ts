/**
 * The closed set of reasons a ledger call can fail for. The RPC layer maps
 * each to a gRPC code in one exhaustive switch (src/rpc/errors.ts).
 */
export type ErrorReason =
  | "LEDGER_NOT_FOUND"
  | "TRANSACTION_NOT_FOUND"
  | "INSUFFICIENT_FUNDS"
  | "LEDGER_TERMINATED"
  | "IDEMPOTENCY_KEY_REUSED"
  | "REVERSAL_EXCEEDS_TRANSACTION"
  | "TRANSACTION_NOT_REVERSIBLE"
  | "UNKNOWN_OPERATION"
  | "AMOUNT_DIRECTION_MISMATCH"
  | "INVALID_ARGUMENT"
  | "BALANCE_OVERFLOW"
  | "LEDGER_ALREADY_EXISTS"
  | "CONCURRENCY_CONFLICT"
  | "STORE_UNAVAILABLE"
  | "OVERLOADED"
  | "EXTERNAL_ID_ALREADY_USED"
  | "APP_MISMATCH"
  | "UNIT_MISMATCH"
  | "HOLD_NOT_PENDING"
  | "HOLD_EXPIRED"
  | "HOLD_AMOUNT_EXCEEDED"
  | "LEDGER_HAS_PENDING_TRANSACTIONS"
  | "BACKDATE_TOO_FAR"
  | "LEDGER_NOT_YET_VALID"
  | "LEDGER_EXPIRED"
  | "UNKNOWN_APP"
  | "AMOUNT_NOT_ALLOWED"
  | "TOKEN_MISSING"
  | "TOKEN_INVALID"
  | "ROLE_NOT_PERMITTED"
  | "APP_NOT_PERMITTED"
  | "CONSUMER_TOO_SLOW";

/** An operating error: an expected outcome that the caller is told about. */
export class LedgerError extends Error {
  override readonly name = "LedgerError";

  constructor(
    readonly reason: ErrorReason,
    message: string,
    readonly metadata: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export function invalidArgument(field: string, message: string): LedgerError {
  return new LedgerError("INVALID_ARGUMENT", `${field}: ${message}`, { field });
}

export function ledgerNotFound(ledgerId: string): LedgerError {
  return new LedgerError("LEDGER_NOT_FOUND", `ledger ${ledgerId} does not exist`, {
    ledger_id: ledgerId,
  });
}

export function transactionNotFound(transactionId: string): LedgerError {
  return new LedgerError("TRANSACTION_NOT_FOUND", `transaction ${transactionId} does not exist`, {
    transaction_id: transactionId,
  });
}

export function externalIdNotFound(app: string, externalTransactionId: string): LedgerError {
  return new LedgerError(
    "TRANSACTION_NOT_FOUND",
    `app ${app} has no transaction with external_transaction_id "${externalTransactionId}"`,
    { app, external_transaction_id: externalTransactionId },
  );
}

export function ledgerTerminated(ledgerId: string): LedgerError {
  return new LedgerError("LEDGER_TERMINATED", `ledger ${ledgerId} is terminated`, {
    ledger_id: ledgerId,
  });
}

export function idempotencyKeyReused(idempotencyKey: string): LedgerError {
  return new LedgerError(
    "IDEMPOTENCY_KEY_REUSED",
    `idempotency key "${idempotencyKey}" was already used for a different request`,
    { idempotency_key: idempotencyKey },
  );
}

export function externalIdAlreadyUsed(
  app: string,
  externalTransactionId: string,
  transactionId: string,
): LedgerError {
  return new LedgerError(
    "EXTERNAL_ID_ALREADY_USED",
    `app ${app} already has transaction ${transactionId} with external_transaction_id "${externalTransactionId}"`,
    { app, external_transaction_id: externalTransactionId, transaction_id: transactionId },
  );
}
