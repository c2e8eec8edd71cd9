import { LedgerError, ledgerTerminated } from "./errors.js";
import { invariant } from "./invariant.js";
import { addInt64, isInt64 } from "./money.js";
import type { Ledger } from "./types.js";

/** The default floor: no overdraft. */
export const DEFAULT_MIN_BALANCE_MINOR = 0n;

export function assertActive(ledger: Ledger): void {
  if (ledger.status === "TERMINATED") {
    throw ledgerTerminated(ledger.id);
  }
}

/**
 * The balance after posting `amountMinor` to `ledger`, or the reason it is
 * refused: a terminated ledger, an int64 overflow, or a balance below the floor.
 * A credit is never refused for the floor, so a ledger already below its floor
 * (after its credit limit was lowered, say) can still be topped up.
 */
export function balanceAfterPosting(ledger: Ledger, amountMinor: bigint): bigint {
  assertActive(ledger);
  const after = addInt64(ledger.balanceMinor, amountMinor);
  if (after === undefined || !isInt64(after - ledger.pendingDebitsMinor)) {
    throw new LedgerError(
      "BALANCE_OVERFLOW",
      `posting ${amountMinor} to ledger ${ledger.id} would overflow its int64 balance or available balance`,
      {
        ledger_id: ledger.id,
        balance: ledger.balanceMinor.toString(),
        amount: amountMinor.toString(),
      },
    );
  }
  if (
    amountMinor < 0n &&
    ledger.minBalanceMinor !== undefined &&
    after - ledger.pendingDebitsMinor < ledger.minBalanceMinor
  ) {
    const held =
      ledger.pendingDebitsMinor === 0n ? "" : ` (${ledger.pendingDebitsMinor} of it held)`;
    throw new LedgerError(
      "INSUFFICIENT_FUNDS",
      `ledger ${ledger.id} has a balance of ${ledger.balanceMinor} ${ledger.unit}${held}; ${-amountMinor} more would take it below its floor of ${ledger.minBalanceMinor}`,
      {
        ledger_id: ledger.id,
        balance: ledger.balanceMinor.toString(),
        available: (ledger.balanceMinor - ledger.pendingDebitsMinor).toString(),
        amount: amountMinor.toString(),
        min_balance: ledger.minBalanceMinor.toString(),
        unit: ledger.unit,
      },
    );
  }
  invariant(after === ledger.balanceMinor + amountMinor, "balance_after = balance + amount");
  return after;
}

/** The next entry's sequence: exactly one past the ledger's version. */
export function nextSequence(ledger: Ledger): bigint {
  invariant(ledger.version >= 0n, `ledger ${ledger.id} has a negative version`);
  return ledger.version + 1n;
}
