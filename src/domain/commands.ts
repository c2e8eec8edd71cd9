/**
 * The rule of each write command, as a pure function: it takes the ledger
 * state the write pipeline locked (src/store/pipeline) and the validated
 * input, and returns what to write or throws the LedgerError that refuses it.
 * Locks, idempotency keys, ids, the clock and SQL belong to the pipeline.
 */

import { invalidArgument, LedgerError, ledgerNotFound } from "./errors.js";
import { holdExpiresAt } from "./holds.js";
import { invariant } from "./invariant.js";
import { assertActive, DEFAULT_MIN_BALANCE_MINOR } from "./ledger.js";
import { LIMITS } from "./limits.js";
import { absMinor } from "./money.js";
import {
  type OperationRegistry,
  REVERSAL_OPERATION,
  resolveEntryAmount,
  resolveTransferOperation,
} from "./operations.js";
import { compensatingAmount, reversalAmount } from "./reversal.js";
import { assertWithinWindow, backdateInstant } from "./time.js";
import type {
  CreateLedgerInput,
  HoldPolicy,
  Ledger,
  Metadata,
  RecordEntryInput,
  ReverseTransactionInput,
  Transaction,
  TransactionKind,
  TransferInput,
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
  /** Empty: none; otherwise unique per app (the pipeline checks it). */
  readonly externalTransactionId: string;
  readonly createdAt: Date;
  /** In posting order; at least one. */
  readonly postings: readonly Posting[];
  /** Set: hold the postings until this deadline instead of posting them. */
  readonly holdUntil: Date | undefined;
  /** Set: its entries take their place in history at this past instant (RecordEntry only). */
  readonly backdatedTo: Date | undefined;
}

/** What every rule may read besides the locked state: the batch's clock and configuration. */
export interface RuleContext {
  readonly now: Date;
  readonly operations: OperationRegistry;
  readonly holdPolicy: HoldPolicy;
}

/**
 * UNKNOWN_OPERATION, AMOUNT_DIRECTION_MISMATCH, AMOUNT_NOT_ALLOWED (the
 * operation's fixed amount or bounds), INVALID_ARGUMENT for an
 * occurred_at later than the write's own time (beyond the clock skew
 * allowed); the floor is checked when posted.
 */
export function recordEntryRule(
  ledger: Ledger,
  input: RecordEntryInput,
  id: string,
  { now, operations, holdPolicy }: RuleContext,
): NewTransaction {
  const backdatedTo =
    input.createdAt === undefined ? undefined : backdateInstant(input.createdAt, now);
  const occurredAt = occurredAtOrNow(input.occurredAt, now, backdatedTo);
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
    externalTransactionId: input.externalTransactionId,
    createdAt: now,
    postings: [
      {
        ...annotations(input, occurredAt),
        ledgerId: ledger.id,
        operation: input.operation,
        amountMinor,
      },
    ],
    holdUntil: input.hold && holdExpiresAt(input.hold, holdPolicy, now),
    backdatedTo,
  };
}

/**
 * APP_MISMATCH, UNIT_MISMATCH, UNKNOWN_OPERATION, AMOUNT_NOT_ALLOWED (the
 * named operation's fixed amount or bounds, on the magnitude), INVALID_ARGUMENT for an
 * occurred_at in the future: the debit of `from`, then the credit of `to`,
 * both carrying the request's annotations. The floors are checked when posted.
 */
export function transferRule(
  from: Ledger,
  to: Ledger,
  input: TransferInput,
  id: string,
  { now, operations, holdPolicy }: RuleContext,
): NewTransaction {
  const occurredAt = occurredAtOrNow(input.occurredAt, now);
  sameAppAndUnit(from, to);
  const operation = resolveTransferOperation(
    operations,
    from.app,
    input.operation,
    input.amountMinor,
  );
  const leg = { ...annotations(input, occurredAt), operation };
  return balanced({
    id,
    app: from.app,
    kind: "TRANSFER",
    amountMinor: input.amountMinor,
    reversesTransactionId: undefined,
    externalTransactionId: input.externalTransactionId,
    createdAt: now,
    postings: [
      { ...leg, ledgerId: from.id, amountMinor: -input.amountMinor },
      { ...leg, ledgerId: to.id, amountMinor: input.amountMinor },
    ],
    holdUntil: input.hold && holdExpiresAt(input.hold, holdPolicy, now),
    backdatedTo: undefined,
  });
}

/** APP_MISMATCH, UNIT_MISMATCH: money moves within one app and one unit. */
function sameAppAndUnit(from: Ledger, to: Ledger): void {
  const pair = { from_ledger_id: from.id, to_ledger_id: to.id };
  if (from.app !== to.app) {
    throw new LedgerError(
      "APP_MISMATCH",
      `ledger ${from.id} belongs to app ${from.app} and ledger ${to.id} to app ${to.app}: a transfer stays within one app`,
      { ...pair, from_app: from.app, to_app: to.app },
    );
  }
  if (from.unit !== to.unit) {
    throw new LedgerError(
      "UNIT_MISMATCH",
      `ledger ${from.id} counts ${from.unit} and ledger ${to.id} counts ${to.unit}: a transfer stays within one unit`,
      { ...pair, from_unit: from.unit, to_unit: to.unit },
    );
  }
}

/**
 * The transfer that empties a ledger being closed into `to` (LEDGER_TERMINATED,
 * APP_MISMATCH, UNIT_MISMATCH, even with nothing to move): its positive
 * balance moves to `to`, a negative one is settled from `to`; undefined when
 * there is nothing to move.
 */
export function sweepRule(
  ledger: Ledger,
  to: Ledger,
  operation: string,
  id: string,
  now: Date,
): NewTransaction | undefined {
  assertActive(to);
  sameAppAndUnit(ledger, to);
  // The target takes a write now: inside its window (the closing ledger may be past its own).
  assertWithinWindow(to, now, now);
  const amountMinor = absMinor(ledger.balanceMinor);
  if (amountMinor === 0n) {
    return undefined;
  }
  const [from, into] = ledger.balanceMinor > 0n ? [ledger, to] : [to, ledger];
  const leg = {
    operation,
    occurredAt: now,
    description: `${operation === "EXPIRY" ? "expiry" : "closing"} of ledger ${ledger.id}`,
    reference: "",
    metadata: {},
    externalTransactionId: "",
  };
  return balanced({
    id,
    app: ledger.app,
    kind: "TRANSFER",
    amountMinor,
    reversesTransactionId: undefined,
    externalTransactionId: "",
    createdAt: now,
    postings: [
      { ...leg, ledgerId: from.id, amountMinor: -amountMinor },
      { ...leg, ledgerId: into.id, amountMinor },
    ],
    holdUntil: undefined,
    backdatedTo: undefined,
  });
}

/** Double entry: the postings of a transfer, and of its reversals, sum to zero. */
function balanced(transaction: NewTransaction): NewTransaction {
  const sumMinor = transaction.postings.reduce((sum, posting) => sum + posting.amountMinor, 0n);
  invariant(sumMinor === 0n, `transaction ${transaction.id} moves ${sumMinor} out of nowhere`);
  return transaction;
}

/**
 * The request's occurred_at, or the instant its entry lands in history (now,
 * or the instant backdated to); INVALID_ARGUMENT beyond the skew allowed.
 */
function occurredAtOrNow(
  occurredAt: Date | undefined,
  now: Date,
  backdatedTo: Date | undefined = undefined,
): Date {
  if (
    occurredAt !== undefined &&
    occurredAt.getTime() > now.getTime() + LIMITS.occurredAtFutureSkewMs
  ) {
    throw invalidArgument("occurred_at", "must not be in the future");
  }
  return occurredAt ?? backdatedTo ?? now;
}

/** What every posting of a request carries. */
function annotations(
  input: RecordEntryInput | TransferInput,
  occurredAt: Date,
): Pick<
  Posting,
  "occurredAt" | "description" | "reference" | "metadata" | "externalTransactionId"
> {
  return {
    occurredAt,
    description: input.description,
    reference: input.reference,
    metadata: input.metadata,
    externalTransactionId: input.externalTransactionId,
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
  const reversal: NewTransaction = {
    id,
    app: original.app,
    kind: "REVERSAL",
    amountMinor,
    reversesTransactionId: original.id,
    externalTransactionId: "",
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
    holdUntil: undefined,
    backdatedTo: undefined,
  };
  return original.kind === "TRANSFER" ? balanced(reversal) : reversal;
}

/**
 * LEDGER_ALREADY_EXISTS when `activeLedgerId` names the app's active ledger
 * for owner and unit; the window's end must lie ahead, and the ledger its
 * remainder goes to must qualify (expiryTarget).
 */
export function createLedgerRule(
  input: CreateLedgerInput,
  activeLedgerId: string | undefined,
  expireTo: Ledger | undefined,
  id: string,
  now: Date,
): Ledger {
  if (input.validUntil !== undefined) {
    if (input.validUntil.getTime() <= now.getTime()) {
      throw invalidArgument("valid_until", "must be in the future");
    }
    expiryTarget(input, expireTo);
  }
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
    pendingDebitsMinor: 0n,
    pendingCreditsMinor: 0n,
    lapsedDebitsMinor: 0n,
    lapsedCreditsMinor: 0n,
    validFrom: input.validFrom,
    validUntil: input.validUntil,
    expireToLedgerId: input.expireToLedgerId,
    historyAt: undefined,
  };
}

/**
 * The ledger an expiring one sends its remainder to: LEDGER_NOT_FOUND,
 * LEDGER_TERMINATED, or INVALID_ARGUMENT when it belongs to another app or
 * unit, or expires itself (its own remainder would have nowhere to stay).
 */
function expiryTarget(input: CreateLedgerInput, expireTo: Ledger | undefined): Ledger {
  const targetId = input.expireToLedgerId ?? "";
  if (expireTo === undefined) {
    throw ledgerNotFound(targetId);
  }
  assertActive(expireTo);
  if (expireTo.app !== input.app || expireTo.unit !== input.unit) {
    throw invalidArgument(
      "expire_to_ledger_id",
      `ledger ${targetId} is of app ${expireTo.app} in ${expireTo.unit}; the remainder stays within app ${input.app} and ${input.unit}`,
    );
  }
  if (expireTo.validUntil !== undefined) {
    throw invalidArgument(
      "expire_to_ledger_id",
      `ledger ${targetId} expires itself; name a ledger without valid_until`,
    );
  }
  return expireTo;
}

/**
 * Terminating a terminated ledger leaves it as it is. A ledger with open
 * holds is refused (LEDGER_HAS_PENDING_TRANSACTIONS): the caller voids them
 * first, or asks the pipeline to (void_pending).
 */
export function terminateLedgerRule(ledger: Ledger, now: Date): Ledger {
  if (ledger.status === "TERMINATED") {
    return ledger;
  }
  assertNoOpenHolds(ledger);
  return { ...ledger, status: "TERMINATED", terminatedAt: now };
}

/** LEDGER_HAS_PENDING_TRANSACTIONS: a ledger closes only once its holds are resolved. */
export function assertNoOpenHolds(ledger: Ledger): void {
  if (ledger.pendingDebitsMinor > 0n || ledger.pendingCreditsMinor > 0n) {
    throw new LedgerError(
      "LEDGER_HAS_PENDING_TRANSACTIONS",
      `ledger ${ledger.id} has open holds (${ledger.pendingDebitsMinor} debits, ${ledger.pendingCreditsMinor} credits): post or void them, or terminate with void_pending`,
      {
        ledger_id: ledger.id,
        pending_debits: ledger.pendingDebitsMinor.toString(),
        pending_credits: ledger.pendingCreditsMinor.toString(),
      },
    );
  }
}

/** A ledger as its CreateLedger answered: only balances, version, status and terminated_at change later. */
export function ledgerAsCreated(ledger: Ledger): Ledger {
  return {
    ...ledger,
    status: "ACTIVE",
    balanceMinor: 0n,
    version: 0n,
    terminatedAt: undefined,
    pendingDebitsMinor: 0n,
    pendingCreditsMinor: 0n,
    lapsedDebitsMinor: 0n,
    lapsedCreditsMinor: 0n,
    historyAt: undefined,
  };
}
