/**
 * The rule of each write command, as a pure function: it takes the ledger
 * state the write pipeline locked (src/store/pipeline) and the validated
 * input, and returns what to write or throws the LedgerError that refuses it.
 * Locks, idempotency keys, ids, the clock and SQL belong to the pipeline.
 */

import { invalidArgument, LedgerError } from "./errors.js";
import { DEFAULT_MIN_BALANCE_MINOR } from "./ledger.js";
import { LIMITS } from "./limits.js";
import { absMinor } from "./money.js";
import { type OperationRegistry, REVERSAL_OPERATION, resolveEntryAmount } from "./operations.js";
import { compensatingAmount, reversalAmount } from "./reversal.js";
import type {
  CreateLedgerInput,
  Ledger,
  Metadata,
  RecordEntryInput,
  ReverseTransactionInput,
  Transaction,
  TransactionKind,
} from "./types.js";

/** One signed amount to post to one ledger. */
export interface Posting {
  readonly ledgerId: string;
  readonly operation: string;
  readonly amountMinor: bigint;
  readonly occurredAt: Date;
  readonly description: string;
  readonly reference: string;
  readonly metadata: Metadata;
  readonly externalTransactionId: string;
}

/** A transaction to write: the pipeline posts it to the locked ledgers (floor, overflow, termination). */
export interface NewTransaction {
  readonly id: string;
  readonly app: string;
  readonly kind: TransactionKind;
  /** Magnitude: every posting's amount is plus or minus this. */
  readonly amountMinor: bigint;
  readonly reversesTransactionId: string | undefined;
  readonly createdAt: Date;
  /** In posting order; at least one. */
  readonly postings: readonly Posting[];
}

/**
 * UNKNOWN_OPERATION, AMOUNT_DIRECTION_MISMATCH, INVALID_ARGUMENT for an
 * occurred_at later than the write's own time (beyond the clock skew
 * allowed); the floor is checked when posted.
 */
export function recordEntryRule(
  ledger: Ledger,
  input: RecordEntryInput,
  operations: OperationRegistry,
  id: string,
  now: Date,
): NewTransaction {
  if (
    input.occurredAt !== undefined &&
    input.occurredAt.getTime() > now.getTime() + LIMITS.occurredAtFutureSkewMs
  ) {
    throw invalidArgument("occurred_at", "must not be in the future");
  }
  const amountMinor = resolveEntryAmount(
    operations,
    ledger.app,
    input.operation,
    input.amountMinor,
  );
  return {
    id,
    app: ledger.app,
    kind: "ENTRY",
    amountMinor: absMinor(amountMinor),
    reversesTransactionId: undefined,
    createdAt: now,
    postings: [
      {
        ledgerId: ledger.id,
        operation: input.operation,
        amountMinor,
        occurredAt: input.occurredAt ?? now,
        description: input.description,
        reference: input.reference,
        metadata: input.metadata,
        externalTransactionId: input.externalTransactionId,
      },
    ],
  };
}

/**
 * TRANSACTION_NOT_REVERSIBLE, REVERSAL_EXCEEDS_TRANSACTION: one compensating
 * posting per entry of the original, each for the reversed magnitude.
 */
export function reversalRule(
  original: Transaction,
  input: ReverseTransactionInput,
  id: string,
  now: Date,
): NewTransaction {
  const amountMinor = reversalAmount(original, input.amountMinor);
  return {
    id,
    app: original.app,
    kind: "REVERSAL",
    amountMinor,
    reversesTransactionId: original.id,
    createdAt: now,
    postings: original.entries.map((entry) => ({
      ledgerId: entry.ledgerId,
      operation: REVERSAL_OPERATION,
      amountMinor: compensatingAmount(entry.amountMinor, amountMinor),
      occurredAt: now,
      description: input.description,
      reference: "",
      metadata: input.metadata,
      externalTransactionId: "",
    })),
  };
}

/** LEDGER_ALREADY_EXISTS when `activeLedgerId` names the app's active ledger for owner and unit. */
export function createLedgerRule(
  input: CreateLedgerInput,
  activeLedgerId: string | undefined,
  id: string,
  now: Date,
): Ledger {
  if (activeLedgerId !== undefined) {
    throw new LedgerError(
      "LEDGER_ALREADY_EXISTS",
      `app ${input.app} already has an active ledger ${activeLedgerId} for owner ${input.ownerId} in ${input.unit}`,
      { ledger_id: activeLedgerId, app: input.app, owner_id: input.ownerId, unit: input.unit },
    );
  }
  return {
    id,
    app: input.app,
    ownerId: input.ownerId,
    unit: input.unit,
    description: input.description,
    reference: input.reference,
    metadata: input.metadata,
    status: "ACTIVE",
    balanceMinor: 0n,
    minBalanceMinor: input.unbounded
      ? undefined
      : (input.minBalanceMinor ?? DEFAULT_MIN_BALANCE_MINOR),
    version: 0n,
    createdAt: now,
    terminatedAt: undefined,
  };
}

/** Terminating a terminated ledger leaves it as it is. */
export function terminateLedgerRule(ledger: Ledger, now: Date): Ledger {
  if (ledger.status === "TERMINATED") {
    return ledger;
  }
  return { ...ledger, status: "TERMINATED", terminatedAt: now };
}

/** A ledger as its CreateLedger answered: only balance, version, status and terminated_at change later. */
export function ledgerAsCreated(ledger: Ledger): Ledger {
  return { ...ledger, status: "ACTIVE", balanceMinor: 0n, version: 0n, terminatedAt: undefined };
}
