import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type EntrySchema,
  type LedgerSchema,
  LedgerStatus,
  TransactionKind,
  type TransactionSchema,
} from "../../gen/ledger/v1/ledger_pb.js";
import type * as domain from "../domain/index.js";
import { invalidArgument } from "../domain/index.js";

// google.protobuf.Timestamp is defined for 0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59.999999999Z.
const TIMESTAMP_SECONDS_MIN = -62135596800n;
const TIMESTAMP_SECONDS_MAX = 253402300799n;
const NANOS_MAX = 999_999_999;

/** An optional request timestamp as a Date; out-of-range values name their field. */
export function dateFromTimestamp(field: string, value: Timestamp | undefined): Date | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (
    value.seconds < TIMESTAMP_SECONDS_MIN ||
    value.seconds > TIMESTAMP_SECONDS_MAX ||
    value.nanos < 0 ||
    value.nanos > NANOS_MAX
  ) {
    throw invalidArgument(field, "is not a valid timestamp");
  }
  return timestampDate(value);
}

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
  };
}

export function transactionToProto(
  transaction: domain.Transaction,
): MessageInitShape<typeof TransactionSchema> {
  return {
    id: transaction.id,
    kind: transactionKindToProto(transaction.kind),
    entries: transaction.entries.map(entryToProto),
    reversesTransactionId: transaction.reversesTransactionId ?? "",
    amount: transaction.amountMinor,
    reversedAmount: transaction.reversedAmountMinor,
    createdAt: timestampFromDate(transaction.createdAt),
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
    case "REVERSAL":
      return TransactionKind.REVERSAL;
  }
}
