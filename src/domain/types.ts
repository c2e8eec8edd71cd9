/** Plain domain records. Ids are UUID strings; amounts are bigint minor units. */

import type { LedgerError } from "./errors.js";

export type Metadata = Readonly<Record<string, string>>;

export type LedgerStatus = "ACTIVE" | "TERMINATED";

export interface Ledger {
  readonly id: string;
  readonly app: string;
  readonly ownerId: string;
  readonly unit: string;
  readonly description: string;
  readonly reference: string;
  readonly metadata: Metadata;
  readonly status: LedgerStatus;
  readonly balanceMinor: bigint;
  /** undefined: unbounded (a funding source). */
  readonly minBalanceMinor: bigint | undefined;
  /** The sequence of the latest entry; 0 before the first. */
  readonly version: bigint;
  readonly createdAt: Date;
  readonly terminatedAt: Date | undefined;
}

export interface Entry {
  readonly id: string;
  readonly transactionId: string;
  readonly ledgerId: string;
  readonly sequence: bigint;
  readonly operation: string;
  readonly amountMinor: bigint;
  readonly balanceAfterMinor: bigint;
  readonly occurredAt: Date;
  readonly createdAt: Date;
  readonly description: string;
  readonly reference: string;
  readonly metadata: Metadata;
  readonly externalTransactionId: string;
  /** For an entry of a reversal: the transaction it compensates. */
  readonly reversesTransactionId: string | undefined;
}

export type TransactionKind = "ENTRY" | "TRANSFER" | "REVERSAL";

export interface Transaction {
  readonly id: string;
  readonly app: string;
  readonly kind: TransactionKind;
  /** Magnitude: the same for every entry of the transaction. */
  readonly amountMinor: bigint;
  readonly reversedAmountMinor: bigint;
  readonly reversesTransactionId: string | undefined;
  /** The caller's reference, unique per app; empty: none. */
  readonly externalTransactionId: string;
  readonly createdAt: Date;
  readonly entries: readonly Entry[];
}

/** A transaction as GetTransaction reads it: with the ids of its reversals, oldest first. */
export interface TransactionView extends Transaction {
  readonly reversalIds: readonly string[];
}

export type TransactionLookup =
  | { readonly transactionId: string }
  | { readonly app: string; readonly externalTransactionId: string };

export interface CreateLedgerInput {
  readonly app: string;
  readonly ownerId: string;
  readonly unit: string;
  readonly description: string;
  readonly reference: string;
  readonly metadata: Metadata;
  /** undefined together with unbounded=false means the default floor of 0. */
  readonly minBalanceMinor: bigint | undefined;
  readonly unbounded: boolean;
  readonly idempotencyKey: string;
}

export interface RecordEntryInput {
  readonly ledgerId: string;
  readonly operation: string;
  readonly amountMinor: bigint | undefined;
  readonly idempotencyKey: string;
  /** undefined: now. */
  readonly occurredAt: Date | undefined;
  readonly description: string;
  readonly reference: string;
  readonly metadata: Metadata;
  readonly externalTransactionId: string;
}

export interface TransferInput {
  readonly fromLedgerId: string;
  readonly toLedgerId: string;
  /** Positive magnitude. */
  readonly amountMinor: bigint;
  readonly idempotencyKey: string;
  /** Empty: TRANSFER. */
  readonly operation: string;
  /** undefined: now. */
  readonly occurredAt: Date | undefined;
  readonly description: string;
  readonly reference: string;
  readonly metadata: Metadata;
  readonly externalTransactionId: string;
}

/** Up to BULK_ITEMS_MAX transfers, each with its own idempotency key; `atomic` as in RecordEntriesInput. */
export interface CreateTransfersInput {
  readonly transfers: readonly TransferInput[];
  readonly atomic: boolean;
}

export interface ReverseTransactionInput {
  readonly transactionId: string;
  /** undefined: all that remains unreversed. */
  readonly amountMinor: bigint | undefined;
  readonly idempotencyKey: string;
  readonly description: string;
  readonly metadata: Metadata;
}

export type BalanceLookup =
  | { readonly ledgerId: string }
  | { readonly app: string; readonly ownerId: string; readonly unit: string };

export interface Balance {
  readonly ledgerId: string;
  readonly balanceMinor: bigint;
  readonly unit: string;
  readonly version: bigint;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Empty when there is no further page. */
  readonly nextPageToken: string;
}

export interface ListLedgersInput {
  readonly app: string;
  /** Empty: every owner. */
  readonly ownerId: string;
  readonly pageSize: number;
  readonly pageToken: string;
}

export interface ListEntriesInput {
  readonly ledgerId: string;
  readonly pageSize: number;
  readonly pageToken: string;
  readonly occurredAfter: Date | undefined;
  readonly occurredBefore: Date | undefined;
  /** Empty: any. */
  readonly reference: string;
  /** Empty: any. */
  readonly externalTransactionId: string;
}

/** A write's result, and whether it was replayed from its idempotency key. */
export interface WriteResult<T> {
  readonly value: T;
  readonly replayed: boolean;
}

/** Up to BULK_ITEMS_MAX entries, each with its own idempotency key. */
export interface RecordEntriesInput {
  readonly entries: readonly RecordEntryInput[];
  /**
   * true: all or nothing; the first failure fails the call, its metadata
   * naming the item's `index`. false: each item succeeds or fails alone.
   */
  readonly atomic: boolean;
}

/** One item's outcome in a bulk write that is not atomic. */
export type ItemResult<T> =
  | { readonly ok: true; readonly value: T; readonly replayed: boolean }
  | { readonly ok: false; readonly error: LedgerError };
