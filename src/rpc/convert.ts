import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type EntrySchema,
  type HoldEventSchema,
  type LedgerSchema,
  LedgerStatus,
  type PendingEntrySchema,
  type RecordEntryResponseSchema,
  type RecordEntryResultSchema,
  TransactionKind,
  type TransactionSchema,
  TransactionState,
  type TransferResultSchema,
} from "../../gen/ledger/v1/ledger_pb.js";
import * as domain from "../domain/index.js";
import { statusFromLedgerError } from "./errors.js";

export function ledgerToProto(ledger: domain.Ledger): MessageInitShape<typeof LedgerSchema> {
  return {
    id: ledger.id,
    app: ledger.app,
    ownerId: ledger.ownerId,
    unit: ledger.unit,
    description: ledger.description,
    reference: ledger.reference,
    metadata: { ...ledger.metadata },
    status: ledgerStatusToProto(ledger.status),
    balance: ledger.balanceMinor,
    minBalance: ledger.minBalanceMinor,
    version: ledger.version,
    createdAt: timestampFromDate(ledger.createdAt),
    terminatedAt:
      ledger.terminatedAt === undefined ? undefined : timestampFromDate(ledger.terminatedAt),
    unbounded: ledger.minBalanceMinor === undefined,
    pendingDebits: ledger.pendingDebitsMinor,
    pendingCredits: ledger.pendingCreditsMinor,
    available: domain.availableMinor(ledger),
    validFrom: ledger.validFrom && timestampFromDate(ledger.validFrom),
    validUntil: ledger.validUntil && timestampFromDate(ledger.validUntil),
    expireToLedgerId: ledger.expireToLedgerId ?? "",
  };
}

export function entryToProto(entry: domain.Entry): MessageInitShape<typeof EntrySchema> {
  return {
    id: entry.id,
    transactionId: entry.transactionId,
    ledgerId: entry.ledgerId,
    sequence: entry.sequence,
    operation: entry.operation,
    amount: entry.amountMinor,
    balanceAfter: entry.balanceAfterMinor,
    occurredAt: timestampFromDate(entry.occurredAt),
    createdAt: timestampFromDate(entry.createdAt),
    description: entry.description,
    reference: entry.reference,
    metadata: { ...entry.metadata },
    externalTransactionId: entry.externalTransactionId,
    reversesTransactionId: entry.reversesTransactionId ?? "",
  };
}

/** What RecordEntry answers, and what an item of RecordEntries answers: its entry, or its hold. */
export function recordedEntryToProto(
  result: domain.WriteResult<domain.Entry | domain.Transaction>,
): MessageInitShape<typeof RecordEntryResponseSchema> {
  const { value, replayed } = result;
  return "sequence" in value
    ? {
        entry: entryToProto(value),
        replayed,
        recomputedEntries: BigInt(result.recomputedEntries ?? 0),
      }
    : { pendingTransaction: transactionToProto(value), replayed };
}

/**
 * A write's transaction and whether it was replayed: what Transfer,
 * ReverseTransaction, PostPendingTransaction and VoidPendingTransaction
 * answer, and an item of CreateTransfers when made.
 */
export function writtenTransactionToProto(result: domain.WriteResult<domain.Transaction>): {
  transaction: MessageInitShape<typeof TransactionSchema>;
  replayed: boolean;
} {
  return { transaction: transactionToProto(result.value), replayed: result.replayed };
}

/** One item of CreateTransfers: its transaction, or its failure as a google.rpc.Status. */
export function transferResultToProto(
  result: domain.ItemResult<domain.Transaction>,
): MessageInitShape<typeof TransferResultSchema> {
  return result.ok
    ? { result: { case: "transfer", value: writtenTransactionToProto(result) } }
    : { result: { case: "error", value: statusFromLedgerError(result.error) } };
}

/** One item of RecordEntries: its entry, or its failure as a google.rpc.Status. */
export function entryResultToProto(
  result: domain.ItemResult<domain.Entry | domain.Transaction>,
): MessageInitShape<typeof RecordEntryResultSchema> {
  return result.ok
    ? { result: { case: "entry", value: recordedEntryToProto(result) } }
    : { result: { case: "error", value: statusFromLedgerError(result.error) } };
}

/** A write's transaction carries no reversal ids; GetTransaction's view does. */
export function transactionToProto(
  transaction: domain.Transaction | domain.TransactionView,
): MessageInitShape<typeof TransactionSchema> {
  return {
    id: transaction.id,
    kind: transactionKindToProto(transaction.kind),
    entries: transaction.entries.map(entryToProto),
    reversesTransactionId: transaction.reversesTransactionId ?? "",
    amount: transaction.amountMinor,
    reversedAmount: transaction.reversedAmountMinor,
    createdAt: timestampFromDate(transaction.createdAt),
    reversalIds: "reversalIds" in transaction ? [...transaction.reversalIds] : [],
    externalTransactionId: transaction.externalTransactionId,
    state: TRANSACTION_STATES[transaction.state],
    ...holdToProto(transaction),
  };
}

export const TRANSACTION_STATES = {
  POSTED: TransactionState.POSTED,
  PENDING: TransactionState.PENDING,
  VOIDED: TransactionState.VOIDED,
  EXPIRED: TransactionState.EXPIRED,
} as const satisfies Record<domain.TransactionState, TransactionState>;

/** A hold's fields of a Transaction: its deadline, what it held, its legs, its history. */
function holdToProto(
  transaction: domain.Transaction,
): Pick<
  MessageInitShape<typeof TransactionSchema>,
  "pendingExpiresAt" | "heldAmount" | "pendingEntries" | "history"
> {
  const { hold } = transaction;
  if (hold === undefined) {
    return {};
  }
  const created: MessageInitShape<typeof HoldEventSchema> = {
    state: TransactionState.PENDING,
    at: timestampFromDate(transaction.createdAt),
    amount: hold.heldAmountMinor,
  };
  const resolved: MessageInitShape<typeof HoldEventSchema>[] =
    hold.resolvedAt === undefined
      ? []
      : [
          {
            state: TRANSACTION_STATES[transaction.state],
            at: timestampFromDate(hold.resolvedAt),
            amount: transaction.state === "POSTED" ? transaction.amountMinor : hold.heldAmountMinor,
          },
        ];
  return {
    pendingExpiresAt: timestampFromDate(hold.expiresAt),
    heldAmount: hold.heldAmountMinor,
    pendingEntries: hold.entries.map(pendingEntryToProto),
    history: [created, ...resolved],
  };
}

function pendingEntryToProto(
  leg: domain.PendingEntry,
): MessageInitShape<typeof PendingEntrySchema> {
  return {
    ledgerId: leg.ledgerId,
    operation: leg.operation,
    amount: leg.amountMinor,
    occurredAt: timestampFromDate(leg.occurredAt),
    description: leg.description,
    reference: leg.reference,
    metadata: { ...leg.metadata },
  };
}

function ledgerStatusToProto(status: domain.LedgerStatus): LedgerStatus {
  switch (status) {
    case "ACTIVE":
      return LedgerStatus.ACTIVE;
    case "TERMINATED":
      return LedgerStatus.TERMINATED;
  }
}

function transactionKindToProto(kind: domain.TransactionKind): TransactionKind {
  switch (kind) {
    case "ENTRY":
      return TransactionKind.ENTRY;
    case "TRANSFER":
      return TransactionKind.TRANSFER;
    case "REVERSAL":
      return TransactionKind.REVERSAL;
  }
}
