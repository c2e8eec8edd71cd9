import type { Entry, Ledger, Transaction } from "../domain/index.js";
import type { EntryRow, LedgerRow, TransactionRow } from "./entities/index.js";

export function toLedger(row: LedgerRow): Ledger {
  return {
    id: row.id,
    app: row.app,
    ownerId: row.ownerId,
    unit: row.unit,
    description: row.description,
    reference: row.reference,
    metadata: row.metadata,
    status: row.status,
    balanceMinor: row.balance,
    minBalanceMinor: row.minBalance ?? undefined,
    version: row.version,
    createdAt: row.createdAt,
    terminatedAt: row.terminatedAt ?? undefined,
  };
}

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

/** `entries` in the order they were posted. */
export function toTransaction(row: TransactionRow, entries: readonly Entry[]): Transaction {
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
  };
}
