import type {
  Balance,
  BalanceLookup,
  CreateLedgerInput,
  CreateTransfersInput,
  Entry,
  ItemResult,
  Ledger,
  ListEntriesInput,
  ListLedgersInput,
  ListPendingInput,
  Page,
  PostPendingInput,
  RecordEntriesInput,
  RecordEntryInput,
  ReverseTransactionInput,
  StreamPage,
  StreamScope,
  TerminateLedgerInput,
  Termination,
  Transaction,
  TransactionLookup,
  TransactionView,
  TransferInput,
  VoidPendingInput,
  WriteResult,
} from "./types.js";

/** Per-call options: the caller's deadline bounds lock waits and statements. */
export interface CallOptions {
  /** Milliseconds left before the caller's deadline; undefined: none. */
  readonly timeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /**
   * The caller's app (from its credential). When set, every ledger and
   * transaction of another app is treated exactly as one that does not
   * exist: LEDGER_NOT_FOUND / TRANSACTION_NOT_FOUND, never read into an
   * answer, never locked. undefined: any app (development mode, the
   * server's own sweeps).
   */
  readonly app?: string | undefined;
}

/**
 * What the service needs from storage. Inputs arrive validated
 * (validation.ts). Every method fails only with LedgerError (the reasons
 * listed) or, for bugs, InvariantViolation. Any method may also fail with
 * STORE_UNAVAILABLE (database unreachable) or CONCURRENCY_CONFLICT (lock
 * contention outlasting the bounded retries).
 *
 * Every write is one database transaction that locks the ledger rows it
 * touches (SELECT ... FOR UPDATE, ascending id order), checks, writes and
 * commits; a replayed idempotency key returns the original result with
 * replayed=true.
 */
export interface LedgerStore {
  /** LEDGER_ALREADY_EXISTS (an active ledger for app+owner+unit), IDEMPOTENCY_KEY_REUSED. */
  createLedger(input: CreateLedgerInput, options?: CallOptions): Promise<WriteResult<Ledger>>;
  /** LEDGER_NOT_FOUND. */
  getLedger(ledgerId: string, options?: CallOptions): Promise<Ledger>;
  /** INVALID_ARGUMENT (page_token). */
  listLedgers(input: ListLedgersInput, options?: CallOptions): Promise<Page<Ledger>>;
  /**
   * LEDGER_NOT_FOUND, LEDGER_TERMINATED, UNKNOWN_OPERATION,
   * AMOUNT_DIRECTION_MISMATCH, AMOUNT_NOT_ALLOWED, INSUFFICIENT_FUNDS,
   * BALANCE_OVERFLOW, EXTERNAL_ID_ALREADY_USED, IDEMPOTENCY_KEY_REUSED.
   */
  recordEntry(input: RecordEntryInput, options?: CallOptions): Promise<WriteResult<Entry>>;
  /**
   * recordEntry with `hold` set: a PENDING transaction that reserves a debit
   * against the floor (available) or awaits a credit, and moves no balance.
   * The reasons of recordEntry, and INVALID_ARGUMENT (pending_expires_at).
   */
  holdEntry(input: RecordEntryInput, options?: CallOptions): Promise<WriteResult<Transaction>>;
  /**
   * Each item as recordEntry would record it, in order. Atomic: every item's
   * result, or the first item failure thrown with `index` in its metadata
   * and nothing written. Not atomic: one ItemResult per item; only a failure
   * of the call as a whole (STORE_UNAVAILABLE, OVERLOADED...) is thrown.
   */
  recordEntries(
    input: RecordEntriesInput,
    options?: CallOptions,
  ): Promise<readonly ItemResult<Entry | Transaction>[]>;
  /**
   * LEDGER_NOT_FOUND, LEDGER_TERMINATED, APP_MISMATCH, UNIT_MISMATCH,
   * UNKNOWN_OPERATION, AMOUNT_NOT_ALLOWED, INSUFFICIENT_FUNDS (the source's floor),
   * BALANCE_OVERFLOW, EXTERNAL_ID_ALREADY_USED, IDEMPOTENCY_KEY_REUSED.
   * One TRANSFER transaction: the debit of the source, then the credit.
   */
  transfer(input: TransferInput, options?: CallOptions): Promise<WriteResult<Transaction>>;
  /** Each item as transfer would make it, in order; `atomic` as in recordEntries. */
  createTransfers(
    input: CreateTransfersInput,
    options?: CallOptions,
  ): Promise<readonly ItemResult<Transaction>[]>;
  /** TRANSACTION_NOT_FOUND. With its reversals' ids, oldest first. */
  getTransaction(lookup: TransactionLookup, options?: CallOptions): Promise<TransactionView>;
  /**
   * TRANSACTION_NOT_FOUND, TRANSACTION_NOT_REVERSIBLE,
   * REVERSAL_EXCEEDS_TRANSACTION, LEDGER_TERMINATED, INSUFFICIENT_FUNDS,
   * BALANCE_OVERFLOW, IDEMPOTENCY_KEY_REUSED.
   */
  reverseTransaction(
    input: ReverseTransactionInput,
    options?: CallOptions,
  ): Promise<WriteResult<Transaction>>;
  /** LEDGER_NOT_FOUND, LEDGER_TERMINATED. */
  getBalance(lookup: BalanceLookup, options?: CallOptions): Promise<Balance>;
  /** LEDGER_NOT_FOUND, INVALID_ARGUMENT (page_token). Newest (highest sequence) first. */
  listEntries(input: ListEntriesInput, options?: CallOptions): Promise<Page<Entry>>;
  /**
   * LEDGER_NOT_FOUND, LEDGER_HAS_PENDING_TRANSACTIONS (unless voidPending,
   * which voids the ledger's open holds first). With sweepToLedgerId, the
   * remainder moves there first (SWEEP): LEDGER_NOT_FOUND, LEDGER_TERMINATED,
   * APP_MISMATCH, UNIT_MISMATCH, INSUFFICIENT_FUNDS (a negative remainder
   * settled from it). Idempotent: a terminated ledger stays as it is.
   */
  terminateLedger(input: TerminateLedgerInput, options?: CallOptions): Promise<Termination>;
  /**
   * Posts all or part of an open hold: its entries for that amount, the rest
   * released. TRANSACTION_NOT_FOUND, HOLD_NOT_PENDING, HOLD_EXPIRED,
   * HOLD_AMOUNT_EXCEEDED, AMOUNT_NOT_ALLOWED (a part the held operation's
   * policy forbids), IDEMPOTENCY_KEY_REUSED.
   */
  postPendingTransaction(
    input: PostPendingInput,
    options?: CallOptions,
  ): Promise<WriteResult<Transaction>>;
  /** TRANSACTION_NOT_FOUND, HOLD_NOT_PENDING, HOLD_EXPIRED, IDEMPOTENCY_KEY_REUSED. */
  voidPendingTransaction(
    input: VoidPendingInput,
    options?: CallOptions,
  ): Promise<WriteResult<Transaction>>;
  /** LEDGER_NOT_FOUND, INVALID_ARGUMENT (page_token). Open holds on the ledger, oldest first. */
  listPendingTransactions(
    input: ListPendingInput,
    options?: CallOptions,
  ): Promise<Page<Transaction>>;
  /**
   * The stream's events at positions in (afterPosition, upToPosition], in
   * position order, `limit` at most. LEDGER_NOT_FOUND for a ledger the
   * caller does not see.
   */
  streamPage(
    scope: StreamScope,
    afterPosition: bigint,
    upToPosition: bigint,
    limit: number,
    options?: CallOptions,
  ): Promise<StreamPage>;
  /**
   * The highest final position: every event at or below it is committed and
   * readable, and none will appear there later. It waits (briefly) for the
   * writes in progress when it was asked to end.
   */
  streamHorizon(options?: CallOptions): Promise<bigint>;
  /**
   * The position of a ledger's entry at `sequence` (0: before its first event).
   * LEDGER_NOT_FOUND; INVALID_ARGUMENT beyond its latest entry.
   */
  streamPositionOf(ledgerId: string, sequence: bigint, options?: CallOptions): Promise<bigint>;
  /** Marks every hold past its deadline EXPIRED, once across processes; how many this call did. */
  expireHolds(options?: CallOptions): Promise<number>;
  /**
   * Closes every active ledger past its valid_until, once across processes:
   * its open holds voided, its positive balance moved to its
   * expire_to_ledger_id (an EXPIRY transfer; left on it when that ledger
   * was closed since), then TERMINATED. What this call closed.
   */
  expireLedgers(options?: CallOptions): Promise<readonly Termination[]>;
  /** Resolves when the database answers; rejects otherwise (also when `options` end the wait). */
  ping(options?: CallOptions): Promise<void>;
  close(): Promise<void>;
}
