/**
 * Holds: a write that reserves its amount (debits count against the floor
 * at once) and changes no balance until it is posted, and the rules of
 * posting, voiding and expiring one. Pure functions over the ledgers and
 * transactions the write pipeline locked.
 */

import { invalidArgument, LedgerError } from "./errors.js";
import { invariant } from "./invariant.js";
import { assertActive } from "./ledger.js";
import { addInt64, isInt64 } from "./money.js";
import { assertPostAllowed, type OperationRegistry } from "./operations.js";
import type {
  Hold,
  HoldPolicy,
  HoldRequest,
  Ledger,
  PostPendingInput,
  Transaction,
  TransactionState,
} from "./types.js";

/** Without configuration: holds live a day unless asked otherwise, and at most 30 days. */
export const DEFAULT_HOLD_POLICY: HoldPolicy = {
  defaultTtlMs: 24 * 60 * 60 * 1000,
  maxTtlMs: 30 * 24 * 60 * 60 * 1000,
};

/** The deadline of a new hold: INVALID_ARGUMENT when not in the future or beyond the policy's maximum. */
export function holdExpiresAt(request: HoldRequest, policy: HoldPolicy, now: Date): Date {
  const expiresAt = request.expiresAt ?? new Date(now.getTime() + policy.defaultTtlMs);
  if (expiresAt.getTime() <= now.getTime()) {
    throw invalidArgument("pending_expires_at", "must be in the future");
  }
  if (expiresAt.getTime() > now.getTime() + policy.maxTtlMs) {
    throw invalidArgument(
      "pending_expires_at",
      `must be at most ${policy.maxTtlMs / 1000} s ahead (the server's longest hold)`,
    );
  }
  return expiresAt;
}

/** What a ledger can spend down to its floor: the balance less what open holds reserve. */
export function availableMinor(ledger: Ledger): bigint {
  return ledger.balanceMinor - ledger.pendingDebitsMinor;
}

/**
 * The ledger with `amountMinor` held: a debit reserves its magnitude
 * (INSUFFICIENT_FUNDS when available would fall below the floor), a credit
 * awaits its post. LEDGER_TERMINATED, BALANCE_OVERFLOW.
 */
export function reserve(ledger: Ledger, amountMinor: bigint): Ledger {
  assertActive(ledger);
  const debit = amountMinor < 0n;
  const held = debit ? ledger.pendingDebitsMinor : ledger.pendingCreditsMinor;
  const lapsed = debit ? ledger.lapsedDebitsMinor : ledger.lapsedCreditsMinor;
  const heldAfter = addInt64(held, debit ? -amountMinor : amountMinor);
  if (
    heldAfter === undefined ||
    addInt64(heldAfter, lapsed) === undefined ||
    (debit && !isInt64(ledger.balanceMinor - heldAfter))
  ) {
    throw new LedgerError(
      "BALANCE_OVERFLOW",
      `holding ${amountMinor} on ledger ${ledger.id} would overflow its int64 pending total or available balance`,
      { ledger_id: ledger.id, pending: held.toString(), amount: amountMinor.toString() },
    );
  }
  if (!debit) {
    return { ...ledger, pendingCreditsMinor: heldAfter };
  }
  const after = { ...ledger, pendingDebitsMinor: heldAfter };
  if (ledger.minBalanceMinor !== undefined && availableMinor(after) < ledger.minBalanceMinor) {
    throw new LedgerError(
      "INSUFFICIENT_FUNDS",
      `ledger ${ledger.id} has ${availableMinor(ledger)} ${ledger.unit} available (balance ${ledger.balanceMinor}, held ${ledger.pendingDebitsMinor}); holding ${-amountMinor} more would take it below its floor of ${ledger.minBalanceMinor}`,
      {
        ledger_id: ledger.id,
        balance: ledger.balanceMinor.toString(),
        available: availableMinor(ledger).toString(),
        amount: amountMinor.toString(),
        min_balance: ledger.minBalanceMinor.toString(),
        unit: ledger.unit,
      },
    );
  }
  return after;
}

/** The ledger with a leg of `amountMinor` no longer held: an open one, or a lapsed one. */
export function release(ledger: Ledger, amountMinor: bigint, lapsed: boolean): Ledger {
  const debit = amountMinor < 0n;
  const magnitude = debit ? -amountMinor : amountMinor;
  const field = lapsed
    ? debit
      ? "lapsedDebitsMinor"
      : "lapsedCreditsMinor"
    : debit
      ? "pendingDebitsMinor"
      : "pendingCreditsMinor";
  const left = ledger[field] - magnitude;
  invariant(left >= 0n, `ledger ${ledger.id} releases more than it holds (${field})`);
  return { ...ledger, [field]: left };
}

/**
 * The hold of a transaction that may be posted or voided at `now`:
 * HOLD_EXPIRED past its deadline (swept or not), HOLD_NOT_PENDING once
 * posted or voided, or when it was never a hold.
 */
export function openHold(transaction: Transaction, now: Date): Hold {
  const { hold } = transaction;
  if (hold !== undefined && stateAt(transaction, now) === "EXPIRED") {
    throw new LedgerError(
      "HOLD_EXPIRED",
      `hold ${transaction.id} expired at ${hold.expiresAt.toISOString()}`,
      { transaction_id: transaction.id, pending_expires_at: hold.expiresAt.toISOString() },
    );
  }
  if (hold === undefined || transaction.state !== "PENDING") {
    const state = stateAt(transaction, now);
    throw new LedgerError(
      "HOLD_NOT_PENDING",
      hold === undefined
        ? `transaction ${transaction.id} is not a hold: it was posted when written`
        : `hold ${transaction.id} is ${state}, no longer pending`,
      { transaction_id: transaction.id, state },
    );
  }
  return hold;
}

/**
 * How much a post takes: `requestedMinor` or all that is held.
 * HOLD_AMOUNT_EXCEEDED; AMOUNT_NOT_ALLOWED for a part that the held
 * operation's fixed amount or bounds forbid.
 */
export function postAmount(
  transaction: Transaction,
  hold: Hold,
  input: PostPendingInput,
  operations: OperationRegistry,
): bigint {
  const amountMinor = input.amountMinor ?? hold.heldAmountMinor;
  if (amountMinor > hold.heldAmountMinor) {
    throw new LedgerError(
      "HOLD_AMOUNT_EXCEEDED",
      `cannot post ${amountMinor} of hold ${transaction.id}: it holds ${hold.heldAmountMinor}`,
      {
        transaction_id: transaction.id,
        amount: amountMinor.toString(),
        held_amount: hold.heldAmountMinor.toString(),
      },
    );
  }
  invariant(amountMinor > 0n, "a post amount is positive (validated)");
  if (amountMinor !== hold.heldAmountMinor) {
    for (const operation of new Set(hold.entries.map((leg) => leg.operation))) {
      assertPostAllowed(operations, transaction.app, operation, amountMinor);
    }
  }
  return amountMinor;
}

/** A hold is past its deadline from that instant on. */
export function lapsedAt(hold: Hold, now: Date): boolean {
  return hold.expiresAt.getTime() <= now.getTime();
}

/** The state a reader sees: a pending hold past its deadline is EXPIRED, swept or not. */
export function stateAt(transaction: Transaction, now: Date): TransactionState {
  const { hold } = transaction;
  return transaction.state === "PENDING" && hold !== undefined && lapsedAt(hold, now)
    ? "EXPIRED"
    : transaction.state;
}

/** The transaction as a reader sees it at `now` (an unswept lapsed hold as EXPIRED at its deadline). */
export function transactionAt<T extends Transaction>(transaction: T, now: Date): T {
  const state = stateAt(transaction, now);
  if (state === transaction.state || transaction.hold === undefined) {
    return transaction;
  }
  return {
    ...transaction,
    state,
    hold: { ...transaction.hold, resolvedAt: transaction.hold.expiresAt },
  };
}

/** A hold as the request that created it answered: pending, nothing posted or reversed. */
export function holdAsCreated(transaction: Transaction): Transaction {
  const { hold } = transaction;
  invariant(hold !== undefined, `transaction ${transaction.id} is not a hold`);
  return {
    ...transaction,
    state: "PENDING",
    amountMinor: hold.heldAmountMinor,
    reversedAmountMinor: 0n,
    entries: [],
    hold: { ...hold, resolvedAt: undefined },
  };
}
