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
  /** Magnitude of the debits open holds reserve: available = balance - this. */
  readonly pendingDebitsMinor: bigint;
  /** What open holds will credit once posted: not spendable. */
  readonly pendingCreditsMinor: bigint;
  /**
   * Debits and credits of holds past their deadline that the sweep has not
   * marked EXPIRED yet: they reserve nothing, but the row still counts them.
   */
  readonly lapsedDebitsMinor: bigint;
  readonly lapsedCreditsMinor: bigint;
  /** Writes before it are refused (LEDGER_NOT_YET_VALID); undefined: from its creation. */
  readonly validFrom: Date | undefined;
  /** Writes from it on are refused (LEDGER_EXPIRED) and the expiry sweep closes it. */
  readonly validUntil: Date | undefined;
  /** Where the remainder goes at validUntil (set exactly when validUntil is). */
  readonly expireToLedgerId: string | undefined;
  /** The created_at of its latest entry in history order: no new write goes before it unless backdated. */
  readonly historyAt: Date | undefined;
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

/** POSTED: its entries are written. A hold is PENDING, then POSTED, VOIDED or EXPIRED. */
export type TransactionState = "POSTED" | "PENDING" | "VOIDED" | "EXPIRED";

/** One leg of a hold: the signed amount it holds on one ledger. */
export interface PendingEntry {
  readonly ledgerId: string;
  readonly operation: string;
  readonly amountMinor: bigint;
  readonly occurredAt: Date;
  readonly description: string;
  readonly reference: string;
  readonly metadata: Metadata;
}

/** What makes a transaction a hold. */
export interface Hold {
  /** The magnitude reserved when it was created. */
  readonly heldAmountMinor: bigint;
  readonly expiresAt: Date;
  /** Its legs in posting order, kept once it is resolved. */
  readonly entries: readonly PendingEntry[];
  /** When it was posted or voided, or its deadline once expired; undefined while pending. */
  readonly resolvedAt: Date | undefined;
}

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
  /** Empty for a hold until it is posted. */
  readonly entries: readonly Entry[];
  readonly state: TransactionState;
  /** undefined: an ordinary write, posted at once. */
  readonly hold: Hold | undefined;
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
  /** The validity window; absent: from creation, for ever. */
  readonly validFrom?: Date | undefined;
  readonly validUntil?: Date | undefined;
  /** Required with validUntil: an active ledger of the same app and unit that does not expire. */
  readonly expireToLedgerId?: string | undefined;
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
  /** undefined: record it; otherwise hold it until posted, voided or expired. */
  readonly hold: HoldRequest | undefined;
  /** Backdates the entry to this instant of the ledger's history; undefined: now. */
  readonly createdAt?: Date | undefined;
}

/** A request to hold a write. */
export interface HoldRequest {
  /** undefined: the server's default lifetime. */
  readonly expiresAt: Date | undefined;
}

/** How long holds live: the default and the longest a request may ask for. */
export interface HoldPolicy {
  readonly defaultTtlMs: number;
  readonly maxTtlMs: number;
}

export interface PostPendingInput {
  readonly transactionId: string;
  /** undefined: all that is held. */
  readonly amountMinor: bigint | undefined;
  readonly idempotencyKey: string;
}

export interface VoidPendingInput {
  readonly transactionId: string;
  readonly idempotencyKey: string;
}

export interface TerminateLedgerInput {
  readonly ledgerId: string;
  /** Void the ledger's open holds first; otherwise LEDGER_HAS_PENDING_TRANSACTIONS. */
  readonly voidPending: boolean;
  /** Move what is left to this ledger first (a SWEEP transfer); undefined: leave it. */
  readonly sweepToLedgerId?: string | undefined;
}

/** What closing a ledger did: the ledger, what stayed on it, and the transfer that moved the rest. */
export interface Termination {
  readonly ledger: Ledger;
  /** The balance left on the closed ledger (0 once swept). */
  readonly remainingMinor: bigint;
  /** The SWEEP or EXPIRY transfer that moved the remainder; undefined: none. */
  readonly sweep: Transaction | undefined;
}

export interface ListPendingInput {
  readonly ledgerId: string;
  readonly pageSize: number;
  readonly pageToken: string;
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
  /** As in RecordEntryInput. */
  readonly hold: HoldRequest | undefined;
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

export type BalanceLookup = (
  | { readonly ledgerId: string }
  | { readonly app: string; readonly ownerId: string; readonly unit: string }
) & {
  /** The balance at this past instant of the ledger's history; undefined: now. */
  readonly asOf?: Date | undefined;
};

export interface Balance {
  readonly ledgerId: string;
  readonly balanceMinor: bigint;
  readonly unit: string;
  readonly version: bigint;
  readonly pendingDebitsMinor: bigint;
  readonly pendingCreditsMinor: bigint;
  /** balanceMinor - pendingDebitsMinor. */
  readonly availableMinor: bigint;
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
  /** created_at in [createdAfter, createdBefore); undefined: unbounded. */
  readonly createdAfter?: Date | undefined;
  readonly createdBefore?: Date | undefined;
}

/** A write's result, and whether it was replayed from its idempotency key. */
export interface WriteResult<T> {
  readonly value: T;
  readonly replayed: boolean;
  /** For a backdated entry: how many later entries it recomputed. */
  readonly recomputedEntries?: number | undefined;
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
  | {
      readonly ok: true;
      readonly value: T;
      readonly replayed: boolean;
      readonly recomputedEntries?: number | undefined;
    }
  | { readonly ok: false; readonly error: LedgerError };

/** A watch's next page: entries after a sequence, in commit (sequence) order, and where the ledger stands. */
/**
 * What WatchEntries streams: a ledger's (ledgerId) or an app's (app), and
 * the caller's scope, which must see it.
 */
export type StreamScope = { readonly ledgerId: string } | { readonly app: string };

/**
 * One event of the stream, at its position: an entry, or a step of a hold
 * (created: PENDING; then POSTED, VOIDED or EXPIRED) with the hold as it
 * stands when read.
 */
export type StreamEvent =
  | { readonly position: bigint; readonly kind: "entry"; readonly entry: Entry }
  | {
      readonly position: bigint;
      readonly kind: "hold";
      readonly step: TransactionState;
      readonly hold: Transaction;
    };

export interface StreamPage {
  /** In position order, none above the position asked for. */
  readonly events: readonly StreamEvent[];
  /** A ledger stream's ledger is TERMINATED (false for an app's stream). */
  readonly terminated: boolean;
}
