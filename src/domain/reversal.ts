import { LedgerError } from "./errors.js";
import { invariant } from "./invariant.js";
import type { Transaction } from "./types.js";

/**
 * How much a reversal of `original` will compensate: `requestedMinor`, or all
 * that remains when it is undefined. A reversal is not itself reversible, and
 * the reversals of a transaction never add up to more than the transaction.
 */
export function reversalAmount(original: Transaction, requestedMinor: bigint | undefined): bigint {
  if (original.kind === "REVERSAL") {
    throw new LedgerError(
      "TRANSACTION_NOT_REVERSIBLE",
      `transaction ${original.id} is a reversal; reversals cannot be reversed`,
      { transaction_id: original.id },
    );
  }
  if (original.state !== "POSTED") {
    throw new LedgerError(
      "TRANSACTION_NOT_REVERSIBLE",
      `transaction ${original.id} is a hold in state ${original.state}: only what was posted can be reversed${original.state === "PENDING" ? "; void it instead" : ""}`,
      { transaction_id: original.id, state: original.state },
    );
  }
  const remaining = original.amountMinor - original.reversedAmountMinor;
  invariant(remaining >= 0n, `transaction ${original.id} is reversed beyond its amount`);
  const amount = requestedMinor ?? remaining;
  if (amount <= 0n || amount > remaining) {
    throw new LedgerError(
      "REVERSAL_EXCEEDS_TRANSACTION",
      remaining === 0n
        ? `transaction ${original.id} is already fully reversed`
        : `cannot reverse ${amount} of transaction ${original.id}: only ${remaining} remains reversible`,
      {
        transaction_id: original.id,
        amount: amount.toString(),
        reversible_amount: remaining.toString(),
      },
    );
  }
  return amount;
}

/**
 * The signed amount of the compensating entry for one entry of the original:
 * every leg of a transfer is compensated, so a reversal of a transfer sums
 * to zero as the transfer does.
 */
export function compensatingAmount(
  originalEntryAmountMinor: bigint,
  reversalMinor: bigint,
): bigint {
  invariant(reversalMinor > 0n, "a reversal amount is positive");
  return originalEntryAmountMinor > 0n ? -reversalMinor : reversalMinor;
}
