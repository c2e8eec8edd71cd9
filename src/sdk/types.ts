/**
 * What the SDK's calls take and return. Amounts are bigint minor units
 * (`amountMinor`), instants are Dates on the way in; results are the
 * generated protobuf messages (int64 as bigint, google.protobuf.Timestamp:
 * see timestampDate from @bufbuild/protobuf/wkt; a Transaction's `kind` is
 * a TransactionKind, its `state` a TransactionState), but for a Ledger's
 * validity window (Dates, see Ledger).
 */
import type {
  Entry,
  GetBalanceResponse,
  HoldEvent,
  Ledger as LedgerMessage,
  PendingEntry,
  Transaction,
} from "../../gen/ledger/v1/ledger_pb.js";

import type { LedgerRpcError } from "./errors.js";

/**
 * A Ledger carries `balance` (posted), `pendingDebits` and `pendingCredits`
 * (what its open holds reserve and await) and `available` (balance -
 * pendingDebits: what the floor is checked against). A Transaction carries
 * its `state` (POSTED for ordinary writes; a hold is PENDING, then POSTED,
 * VOIDED or EXPIRED) and, for a hold, `heldAmount`, `pendingExpiresAt`,
 * `pendingEntries` (its legs as held, signed) and `history` (HoldEvents).
 */
export type { Entry, HoldEvent, PendingEntry, Transaction };

/**
 * A ledger as the generated message has it, its timestamps as
 * google.protobuf.Timestamp like every message the SDK returns
 * (timestampDate() converts). Its validity window: `validFrom` (writes
 * before it are refused, LedgerNotYetValidError), `validUntil` (writes from
 * it on are refused, LedgerExpiredError, and the server's expiry sweep moves
 * the remainder to `expireToLedgerId` and terminates it); absent: undefined
 * timestamps and an empty `expireToLedgerId`.
 */
export type Ledger = LedgerMessage;

/**
 * The balance of a ledger: ledgerId, unit, version, balance (posted),
 * pendingDebits, pendingCredits and available, as on its Ledger.
 */
export type Balance = GetBalanceResponse;

/** Options of one call. */
export interface CallOptions {
  /** The call's deadline in ms, retries and backoff included. Default: the client's timeoutMs. */
  readonly timeoutMs?: number | undefined;
  /** Cancels the call and its pending retries. */
  readonly signal?: AbortSignal | undefined;
}

/** Fields every write may carry. */
export interface WriteInput {
  /**
   * Makes the write safe to repeat: the same key and request return the first
   * result (`replayed: true`). Default: a random UUID generated once per
   * call, reused by the SDK's retries of that call.
   */
  readonly idempotencyKey?: string | undefined;
}

/** CreateLedger: a ledger for one owner of one app in one unit. */
export interface CreateLedgerInput extends WriteInput {
  readonly app: string;
  readonly ownerId: string;
  /** E.g. CREDITS, SEATS, USD_CENTS. */
  readonly unit: string;
  readonly description?: string | undefined;
  readonly reference?: string | undefined;
  readonly metadata?: Readonly<Record<string, string>> | undefined;
  /** The floor of the balance; default 0 (no overdraft), negative: a credit limit. */
  readonly minBalanceMinor?: bigint | undefined;
  /** A funding source with no floor at all (then minBalanceMinor must be absent). */
  readonly unbounded?: boolean | undefined;
  /** Writes before this instant are refused (LedgerNotYetValidError); default: valid at once. */
  readonly validFrom?: Date | undefined;
  /**
   * Writes from this instant on are refused (LedgerExpiredError), and then
   * the server's expiry sweep voids its open holds, moves a positive balance
   * to `expireToLedgerId` (operation EXPIRY) and terminates it. In the
   * future and after validFrom; requires expireToLedgerId. Default: never expires.
   */
  readonly validUntil?: Date | undefined;
  /**
   * With validUntil only: an active ledger of the same app and unit that
   * does not expire itself (typically an unbounded "expired" ledger of the app).
   */
  readonly expireToLedgerId?: string | undefined;
}

/** What a write that posts entries carries on each of them (both legs of a transfer). */
export interface PostingFields extends WriteInput {
  /** When it happened; default now; never in the future. */
  readonly occurredAt?: Date | undefined;
  readonly description?: string | undefined;
  readonly reference?: string | undefined;
  readonly metadata?: Readonly<Record<string, string>> | undefined;
  /**
   * The caller's reference of the transaction (a payment provider's id...):
   * unique per app among transactions, else EXTERNAL_ID_ALREADY_USED; a
   * replay of the same idempotency key is no conflict.
   */
  readonly externalTransactionId?: string | undefined;
  /**
   * true: hold the write instead of making it, a PENDING transaction with no
   * entries that reserves its debits at once (they count against the floor:
   * see Ledger.available) and leaves the posted balance as it is, until it
   * is posted (postPendingTransaction), voided or expires.
   */
  readonly pending?: boolean | undefined;
  /**
   * With `pending` only (else INVALID_ARGUMENT): when the hold expires, in
   * the future; default the server's (24 h unless configured), at most its
   * maximum ahead (30 days unless configured).
   */
  readonly pendingExpiresAt?: Date | undefined;
}

/** The fields of an entry, besides its ledger and operation: recorded at once. */
export interface EntryFields extends PostingFields {
  /** Signed minor units; absent: the operation's default amount. */
  readonly amountMinor?: bigint | undefined;
  /**
   * Backdates the entry: it takes its place in the ledger's history at this
   * instant (after the entries already there at that instant), and every
   * later entry's balanceAfter is recomputed (RecordedEntry.recomputedEntries).
   * Never in the future; never on a hold. Refused with InsufficientFundsError
   * when a recomputed balance would break the floor, BackdateTooFarError past
   * 100,000 later entries, LedgerNotYetValidError before the ledger's
   * validFrom. Default: now.
   */
  readonly createdAt?: Date | undefined;
  /** Recorded at once: see HoldEntryFields for a hold. */
  readonly pending?: false | undefined;
  readonly pendingExpiresAt?: undefined;
}

/** The fields of an entry held instead of recorded (`pending: true`). */
export type HoldEntryFields = Omit<EntryFields, "pending" | "pendingExpiresAt" | "createdAt"> & {
  readonly pending: true;
  /** When the hold expires (see PostingFields.pendingExpiresAt). */
  readonly pendingExpiresAt?: Date | undefined;
  /** A hold is never backdated (the server refuses it: INVALID_ARGUMENT). */
  readonly createdAt?: undefined;
};

/** RecordEntry with any operation name (the typed app clients narrow it). */
export interface RecordEntryInput extends EntryFields {
  readonly ledgerId: string;
  readonly operation: string;
}

/** RecordEntry held (`pending: true`): it answers the hold, not an entry. */
export type HoldEntryInput = HoldEntryFields & {
  readonly ledgerId: string;
  readonly operation: string;
};

/** A bulk write's options (recordEntries, createTransfers): how the items stand together, and the call's options. */
export interface BulkWriteOptions extends CallOptions {
  /**
   * true: all or nothing; the first item that fails rejects the call with
   * its typed error (`index` names the item) and nothing is written.
   * false: each item is written or refused alone (see RecordEntriesItem).
   */
  readonly atomic: boolean;
}

/** RecordEntries' options. */
export type RecordEntriesOptions = BulkWriteOptions;

/** CreateTransfers' options. */
export type CreateTransfersOptions = BulkWriteOptions;

/**
 * An item of a bulk write refused with the typed error the write of it
 * alone would have rejected with; its key stays unused.
 */
export interface RefusedItem {
  readonly ok: false;
  readonly error: LedgerRpcError;
  readonly idempotencyKey: string;
}

/**
 * One item of recordEntries, in the items' order: recorded (what recordEntry
 * returns, `ok: true`), or refused (`ok: false`).
 */
export type RecordEntriesItem = (RecordedEntry & { readonly ok: true }) | RefusedItem;

/** One item of recordEntries held (`pending: true`): the hold, or refused. */
export type HoldEntriesItem = (RecordedHold & { readonly ok: true }) | RefusedItem;

/** A transfer's fields besides its ledgers and amount. */
export interface TransferFields<Operation extends string = string> extends PostingFields {
  /** One of the app's operations, recorded on both legs; absent: the built-in TRANSFER. */
  readonly operation?: Operation | undefined;
}

/**
 * Transfer: moves `amountMinor` from one ledger to another of the same app
 * and unit (the typed app clients narrow `operation`).
 */
export interface TransferInput<Operation extends string = string>
  extends TransferFields<Operation> {
  /** The ledger debited; its floor holds unless it is unbounded. */
  readonly fromLedgerId: string;
  /** The ledger credited: another one of the same app and unit. */
  readonly toLedgerId: string;
  /** Positive magnitude in minor units. */
  readonly amountMinor: bigint;
}

/**
 * One item of createTransfers, in the items' order: made (what transfer
 * returns, `ok: true`), or refused (`ok: false`).
 */
export type CreateTransfersItem = (RecordedTransfer & { readonly ok: true }) | RefusedItem;

/** ReverseTransaction: compensates all or part of a transaction. */
export interface ReverseTransactionInput extends WriteInput {
  readonly transactionId: string;
  /** Positive magnitude to reverse; absent: all that remains. */
  readonly amountMinor?: bigint | undefined;
  readonly description?: string | undefined;
  readonly metadata?: Readonly<Record<string, string>> | undefined;
}

/** PostPendingTransaction: posts all of a hold, or part of it. */
export interface PostPendingInput extends WriteInput {
  /** Positive magnitude to post, at most the amount held; absent: all of it. */
  readonly amountMinor?: bigint | undefined;
}

/** VoidPendingTransaction: releases a hold. */
export type VoidPendingInput = WriteInput;

/** TerminateLedger's options. */
export interface TerminateLedgerOptions extends CallOptions {
  /**
   * Void the ledger's open holds (every leg of each) first. Without it, a
   * ledger with open holds is refused (LedgerHasPendingTransactionsError).
   */
  readonly voidPending?: boolean | undefined;
  /**
   * Moves what is left on the ledger to this one (same app and unit,
   * active) before closing it, as a transfer under the built-in operation
   * SWEEP: a positive balance to it, a negative one from it (its floor
   * applies). Absent: the balance stays on the closed ledger.
   */
  readonly sweepToLedgerId?: string | undefined;
}

/** A ledger by id, or an owner's active ledger by (app, ownerId, unit). */
export type BalanceLookup =
  | { readonly ledgerId: string }
  | { readonly app: string; readonly ownerId: string; readonly unit: string };

/** When a balance is read. */
export interface BalanceAsOf {
  /**
   * The balance at this past instant of the ledger's history: the
   * balanceAfter of its last entry created at or before it (0 before the
   * first), and the holds open then; terminated ledgers included. Never in
   * the future. Default: now (and only an active ledger).
   */
  readonly asOf?: Date | undefined;
}

/** GetBalance: a ledger (see BalanceLookup), now or as of a past instant. */
export type BalanceInput = BalanceLookup & BalanceAsOf;

/** ListLedgers: an app's ledgers, oldest first. */
export interface ListLedgersInput {
  readonly app: string;
  readonly ownerId?: string | undefined;
  /** 1..500, default 50. */
  readonly pageSize?: number | undefined;
  readonly pageToken?: string | undefined;
}

/** ListEntries: a ledger's entries in history order (createdAt, then sequence), newest first. */
export interface ListEntriesInput {
  readonly ledgerId: string;
  /** 1..500, default 50. */
  readonly pageSize?: number | undefined;
  readonly pageToken?: string | undefined;
  /** Only entries that occurred at or after this instant. */
  readonly occurredAfter?: Date | undefined;
  /** Only entries that occurred strictly before this instant. */
  readonly occurredBefore?: Date | undefined;
  /** Only entries whose createdAt (their place in history) is at or after this instant. */
  readonly createdAfter?: Date | undefined;
  /** Only entries whose createdAt is strictly before this instant. */
  readonly createdBefore?: Date | undefined;
  /** Only entries with exactly this reference. */
  readonly reference?: string | undefined;
  /** Only entries of the transaction with exactly this external id. */
  readonly externalTransactionId?: string | undefined;
}

/** A page of a list call. */
export interface PageInput {
  /** 1..500, default 50. */
  readonly pageSize?: number | undefined;
  readonly pageToken?: string | undefined;
}

/** What every write returns besides its resource. */
export interface WriteResult {
  /** True when the server returned the first result of this idempotency key. */
  readonly replayed: boolean;
  /** The key used (the caller's, or the one the SDK generated). */
  readonly idempotencyKey: string;
}

/** The result of CreateLedger. */
export interface CreatedLedger extends WriteResult {
  readonly ledger: Ledger;
}

/** The result of RecordEntry. */
export interface RecordedEntry extends WriteResult {
  readonly entry: Entry;
  /**
   * How many later entries had their balanceAfter recomputed: non-zero only
   * for a backdated entry (`createdAt`).
   */
  readonly recomputedEntries: number;
}

/** The result of TerminateLedger. */
export interface TerminatedLedger {
  /** The ledger, TERMINATED. */
  readonly ledger: Ledger;
  /** What was left on it when it closed, in minor units: 0 once swept. */
  readonly remainingBalanceMinor: bigint;
  /** The SWEEP transfer that moved the remainder (sweepToLedgerId), when there was one. */
  readonly sweepTransaction: Transaction | undefined;
}

/**
 * The result of Transfer: the TRANSFER transaction, its debit then its credit
 * entry; held (`pending: true`), the PENDING transaction and no entries.
 */
export interface RecordedTransfer extends WriteResult {
  readonly transaction: Transaction;
}

/**
 * The result of RecordEntry held (`pending: true`): the hold, a transaction
 * in state PENDING with no entries, its leg in `pendingEntries`.
 */
export interface RecordedHold extends WriteResult {
  readonly transaction: Transaction;
}

/** The result of PostPendingTransaction: the transaction, POSTED with its entries. */
export interface PostedTransaction extends WriteResult {
  readonly transaction: Transaction;
}

/** The result of VoidPendingTransaction: the transaction, VOIDED. */
export interface VoidedTransaction extends WriteResult {
  readonly transaction: Transaction;
}

/** The result of ReverseTransaction: the REVERSAL transaction and its entries. */
export interface ReversedTransaction extends WriteResult {
  readonly transaction: Transaction;
}

/** One page of ledgers; nextPageToken is empty on the last page. */
export interface LedgerPage {
  readonly ledgers: readonly Ledger[];
  readonly nextPageToken: string;
}

/** One page of entries; nextPageToken is empty on the last page. */
export interface EntryPage {
  readonly entries: readonly Entry[];
  readonly nextPageToken: string;
}

/** One page of transactions; nextPageToken is empty on the last page. */
export interface TransactionPage {
  readonly transactions: readonly Transaction[];
  readonly nextPageToken: string;
}
