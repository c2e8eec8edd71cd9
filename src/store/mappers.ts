import type { Entry, PendingEntry, Transaction } from "../domain/index.js";
import type { EntryRow, TransactionRow } from "./entities/index.js";

export function toEntry(row: EntryRow): Entry {
  return {
    id: row.id,
    transactionId: row.transactionId,
    ledgerId: row.ledgerId,
    sequence: row.sequence,
    operation: row.operation,
    amountMinor: row.amount,
    balanceAfterMinor: row.balanceAfter,
    occurredAt: row.occurredAt,
    createdAt: row.createdAt,
    description: row.description,
    reference: row.reference,
    metadata: row.metadata,
    externalTransactionId: row.externalTransactionId,
    reversesTransactionId: row.reversesTransactionId ?? undefined,
  };
}

/** `entries` in the order they were posted; `legs`, a hold's, in the order they were held. */
export function toTransaction(
  row: TransactionRow,
  entries: readonly Entry[],
  legs: readonly PendingEntry[],
): Transaction {
  const { heldAmount, pendingExpiresAt } = row;
  return {
    id: row.id,
    app: row.app,
    kind: row.kind,
    amountMinor: row.amount,
    reversedAmountMinor: row.reversedAmount,
    reversesTransactionId: row.reversesTransactionId ?? undefined,
    externalTransactionId: row.externalTransactionId,
    createdAt: row.createdAt,
    entries,
    state: row.state,
    hold:
      heldAmount === null || heldAmount === undefined || !pendingExpiresAt
        ? undefined
        : {
            heldAmountMinor: heldAmount,
            expiresAt: pendingExpiresAt,
            entries: legs,
            resolvedAt: row.resolvedAt ?? undefined,
          },
  };
}
