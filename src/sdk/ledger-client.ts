/**
 * createLedgerClient: the ledger's RPCs over a generated Connect client, with
 * typed errors, a deadline per logical call, idempotency keys generated once
 * per write and bounded retries of UNAVAILABLE / ABORTED / OVERLOADED.
 * Holds (pending transactions) are made by recordEntry and transfer with
 * `pending: true`, and resolved by postPendingTransaction and
 * voidPendingTransaction.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Status } from "../../gen/google/rpc/status_pb.js";
import {
  type Entry,
  type Ledger as LedgerMessage,
  LedgerService,
  type RecordEntryRequestSchema,
  type RecordEntryResponse,
  type Transaction,
  type TransferRequestSchema,
} from "../../gen/ledger/v1/ledger_pb.js";
import { LedgerRpcError, ledgerRpcErrorFromStatus, toLedgerRpcError } from "./errors.js";
import {
  backoffDelayMs,
  type RetryOptions,
  type RetryPolicy,
  resolveRetryPolicy,
} from "./retry.js";
import { createLedgerTransport, type Protocol, type TransportOptions } from "./transport.js";
import type {
  Balance,
  BalanceInput,
  CallOptions,
  CreatedLedger,
  CreateLedgerInput,
  CreateTransfersItem,
  CreateTransfersOptions,
  EntryPage,
  HoldEntriesItem,
  HoldEntryInput,
  Ledger,
  LedgerPage,
  ListEntriesInput,
  ListLedgersInput,
  PageInput,
  PostedTransaction,
  PostingFields,
  PostPendingInput,
  RecordEntriesItem,
  RecordEntriesOptions,
  RecordEntryInput,
  RecordedEntry,
  RecordedHold,
  RecordedTransfer,
  RefusedItem,
  ReversedTransaction,
  ReverseTransactionInput,
  TerminatedLedger,
  TerminateLedgerOptions,
  TransactionPage,
  TransferInput,
  VoidedTransaction,
  VoidPendingInput,
} from "./types.js";
import {
  type WatchEvent,
  type WatchEventsOptions,
  type WatchOptions,
  type WatchTarget,
  watchEntries,
  watchEvents,
} from "./watch.js";

/** The default deadline of one call, retries included. */
export const DEFAULT_TIMEOUT_MS = 10_000;
const TIMEOUT_MS_MAX = 600_000;

/** createLedgerClient's options. */
export interface LedgerClientOptions extends TransportOptions {
  /** Deadline of each call in ms, retries and backoff included. 1..600000, default 10000. */
  readonly timeoutMs?: number | undefined;
  /** The SDK's retries of UNAVAILABLE, ABORTED and OVERLOADED. */
  readonly retry?: RetryOptions | undefined;
}

/** The ledger service. Every method rejects with a LedgerRpcError (or its reason's subclass). */
export interface LedgerClient {
  /** The protocol this client speaks. */
  readonly protocol: Protocol;
  /**
   * Opens a ledger, optionally valid only from `validFrom` and until
   * `validUntil` (then its remainder goes to `expireToLedgerId`).
   * LEDGER_ALREADY_EXISTS, INVALID_ARGUMENT, IDEMPOTENCY_KEY_REUSED.
   */
  createLedger(input: CreateLedgerInput, options?: CallOptions): Promise<CreatedLedger>;
  /** A ledger by id, terminated ones included. LEDGER_NOT_FOUND. */
  getLedger(ledgerId: string, options?: CallOptions): Promise<Ledger>;
  /** An app's ledgers, oldest first. */
  listLedgers(input: ListLedgersInput, options?: CallOptions): Promise<LedgerPage>;
  /**
   * Records an operation, now or backdated (`createdAt`: later entries'
   * balanceAfter recomputed, `recomputedEntries` says how many); with
   * `pending: true`, holds it instead and returns the hold (a PENDING
   * transaction, no entry). LEDGER_NOT_FOUND, LEDGER_TERMINATED,
   * LEDGER_NOT_YET_VALID, LEDGER_EXPIRED, UNKNOWN_OPERATION,
   * AMOUNT_DIRECTION_MISMATCH, AMOUNT_NOT_ALLOWED (the operation's fixed
   * amount or bounds), INSUFFICIENT_FUNDS (against `available` for a
   * debit, held or not; for a backdated entry, the first later entry whose
   * recomputed balance breaks the floor), BACKDATE_TOO_FAR,
   * BALANCE_OVERFLOW, IDEMPOTENCY_KEY_REUSED, EXTERNAL_ID_ALREADY_USED.
   */
  recordEntry(input: HoldEntryInput, options?: CallOptions): Promise<RecordedHold>;
  recordEntry(input: RecordEntryInput, options?: CallOptions): Promise<RecordedEntry>;
  recordEntry(
    input: RecordEntryInput | HoldEntryInput,
    options?: CallOptions,
  ): Promise<RecordedEntry | RecordedHold>;
  /**
   * Records 1..1000 operations in one call, each item as recordEntry would
   * (its own idempotency key, generated once per item unless given), and
   * returns one result per item, in order. `atomic: true`: all or nothing,
   * the first failing item rejects the call with its typed error (`index`).
   * `atomic: false`: each item's result says whether it was recorded. A
   * request the server refuses as a whole (INVALID_ARGUMENT naming
   * `entries[i].<field>`, a key given twice) rejects either way.
   */
  recordEntries(
    items: readonly HoldEntryInput[],
    options: RecordEntriesOptions,
  ): Promise<HoldEntriesItem[]>;
  recordEntries(
    items: readonly RecordEntryInput[],
    options: RecordEntriesOptions,
  ): Promise<RecordEntriesItem[]>;
  recordEntries(
    items: readonly (RecordEntryInput | HoldEntryInput)[],
    options: RecordEntriesOptions,
  ): Promise<(RecordEntriesItem | HoldEntriesItem)[]>;
  /**
   * Moves `amountMinor` from one ledger to another of the same app and unit:
   * one TRANSFER transaction, the debit of `fromLedgerId` then the credit of
   * `toLedgerId`. With `pending: true`, holds it instead: a PENDING
   * transaction with no entries whose `pendingEntries` are the two legs.
   * LEDGER_NOT_FOUND, LEDGER_TERMINATED, LEDGER_NOT_YET_VALID,
   * LEDGER_EXPIRED, APP_MISMATCH, UNIT_MISMATCH, UNKNOWN_OPERATION,
   * AMOUNT_NOT_ALLOWED (`operation`'s fixed amount or bounds, on the
   * magnitude), INSUFFICIENT_FUNDS, BALANCE_OVERFLOW,
   * IDEMPOTENCY_KEY_REUSED, EXTERNAL_ID_ALREADY_USED.
   */
  transfer(input: TransferInput, options?: CallOptions): Promise<RecordedTransfer>;
  /**
   * 1..1000 transfers in one call, as recordEntries records entries: each
   * item made as transfer would make it, one result per item, in order;
   * `atomic` says whether they stand or fall together (the failing item's
   * message is prefixed `transfers[i]: `, its error's `index` names it).
   */
  createTransfers(
    items: readonly TransferInput[],
    options: CreateTransfersOptions,
  ): Promise<CreateTransfersItem[]>;
  /**
   * Compensates a posted transaction (every leg of a transfer; of a posted
   * hold, up to the amount posted). TRANSACTION_NOT_FOUND,
   * TRANSACTION_NOT_REVERSIBLE (a reversal, or a hold not POSTED),
   * REVERSAL_EXCEEDS_TRANSACTION, INSUFFICIENT_FUNDS, LEDGER_TERMINATED.
   */
  reverseTransaction(
    input: ReverseTransactionInput,
    options?: CallOptions,
  ): Promise<ReversedTransaction>;
  /** A transaction with its entries and the ids of its reversals. TRANSACTION_NOT_FOUND. */
  getTransaction(transactionId: string, options?: CallOptions): Promise<Transaction>;
  /**
   * The app's transaction with this external id (its entries and reversal
   * ids), or undefined when the app has none; other failures reject.
   */
  findTransactionByExternalId(
    app: string,
    externalTransactionId: string,
    options?: CallOptions,
  ): Promise<Transaction | undefined>;
  /**
   * The balance of an active ledger; with `asOf`, at that past instant of
   * its history, terminated ledgers included. LEDGER_NOT_FOUND,
   * LEDGER_TERMINATED (without `asOf`), INVALID_ARGUMENT (`asOf` in the future).
   */
  getBalance(input: BalanceInput, options?: CallOptions): Promise<Balance>;
  /**
   * A ledger's posted entries in history order (createdAt, then sequence),
   * newest first (a hold has none until posted). LEDGER_NOT_FOUND.
   */
  listEntries(input: ListEntriesInput, options?: CallOptions): Promise<EntryPage>;
  /**
   * Posts all of a hold (`amountMinor` absent) or part of it: its entries
   * are written for the amount posted, the rest is released, and it becomes
   * POSTED. TRANSACTION_NOT_FOUND, HOLD_NOT_PENDING, HOLD_EXPIRED,
   * HOLD_AMOUNT_EXCEEDED, IDEMPOTENCY_KEY_REUSED.
   */
  postPendingTransaction(
    transactionId: string,
    input?: PostPendingInput,
    options?: CallOptions,
  ): Promise<PostedTransaction>;
  /**
   * Releases a hold: it becomes VOIDED. TRANSACTION_NOT_FOUND,
   * HOLD_NOT_PENDING, HOLD_EXPIRED, IDEMPOTENCY_KEY_REUSED.
   */
  voidPendingTransaction(
    transactionId: string,
    input?: VoidPendingInput,
    options?: CallOptions,
  ): Promise<VoidedTransaction>;
  /** The open holds with a leg on a ledger, oldest first. LEDGER_NOT_FOUND. */
  listPendingTransactions(
    ledgerId: string,
    page?: PageInput,
    options?: CallOptions,
  ): Promise<TransactionPage>;
  /**
   * Closes a ledger for good, first moving what is left on it to
   * `sweepToLedgerId` if given (a SWEEP transfer); idempotent. It returns
   * the ledger, what remained on it and the sweep's transaction.
   * LEDGER_NOT_FOUND, LEDGER_HAS_PENDING_TRANSACTIONS (open holds, unless
   * `voidPending`), and for the sweep those of a transfer.
   */
  terminateLedger(ledgerId: string, options?: TerminateLedgerOptions): Promise<TerminatedLedger>;
  /** Releases the client's connections (the HTTP/2 session of "grpc"). */
  /**
   * The ledger's entries as they are committed (WatchEntries), in sequence
   * order: after `fromSequence` (0: from the first; absent: from now), then
   * live. Reconnects by itself from the last event received, with
   * backoff, on a retryable failure; ends on `signal`, or once a terminated
   * ledger's entries are all sent. LEDGER_NOT_FOUND.
   */
  watch(ledgerId: string, options?: WatchOptions): AsyncIterable<Entry>;
  /**
   * Everything committed on a ledger, or on all of the app's ledgers:
   * entries and hold steps (created, posted, voided, expired), each with
   * the cursor to resume after it (`fromCursor`), in commit order, after a
   * checkpoint (a cursor, no event) at each connect. Reconnects by itself
   * like `watch`. APP_NOT_PERMITTED for another app.
   */
  watchEvents(target: WatchTarget, options?: WatchEventsOptions): AsyncIterable<WatchEvent>;
  close(): void;
}

/**
 * A client of the ledger service at `baseUrl` over `protocol`. Throws
 * RangeError/TypeError for bad options (at once, not at the first call).
 */
export function createLedgerClient(options: LedgerClientOptions): LedgerClient {
  const timeoutMsDefault = checkTimeoutMs(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const policy = resolveRetryPolicy(options.retry);
  const { transport, close } = createLedgerTransport(options);
  const rpc = createClient(LedgerService, transport);
  const call: Call = (callOptions, attempt) =>
    withRetries(
      policy,
      checkTimeoutMs(callOptions?.timeoutMs ?? timeoutMsDefault),
      callOptions?.signal,
      attempt,
    );
  return {
    protocol: options.protocol,
    ...ledgerCalls(rpc, call),
    ...entryCalls(rpc, call),
    ...transferCalls(rpc, call),
    ...transactionCalls(rpc, call),
    ...holdCalls(rpc, call),
    watch: (ledgerId, watchOptions) => watchEntries({ rpc, policy }, ledgerId, watchOptions),
    watchEvents: (target, watchOptions) => watchEvents({ rpc, policy }, target, watchOptions),
    close,
  };
}

/** The generated client of the service. */
type Rpc = Client<typeof LedgerService>;

/** One logical call: its attempts, within its deadline. */
type Call = <T>(callOptions: CallOptions | undefined, attempt: Attempt<T>) => Promise<T>;

/** Ledgers: open, read, list, close, and their balances. */
function ledgerCalls(
  rpc: Rpc,
  call: Call,
): Pick<
  LedgerClient,
  "createLedger" | "getLedger" | "listLedgers" | "getBalance" | "terminateLedger"
> {
  return {
    async createLedger(input, callOptions) {
      const idempotencyKey = input.idempotencyKey ?? randomKey();
      const response = await call(callOptions, (o) =>
        rpc.createLedger(
          {
            app: input.app,
            ownerId: input.ownerId,
            unit: input.unit,
            description: input.description ?? "",
            reference: input.reference ?? "",
            metadata: { ...input.metadata },
            minBalance: input.minBalanceMinor,
            unbounded: input.unbounded ?? false,
            validFrom: optionalTimestamp(input.validFrom),
            validUntil: optionalTimestamp(input.validUntil),
            expireToLedgerId: input.expireToLedgerId ?? "",
            idempotencyKey,
          },
          o,
        ),
      );
      return {
        ledger: presentLedger(response.ledger),
        replayed: response.replayed,
        idempotencyKey,
      };
    },
    async getLedger(ledgerId, callOptions) {
      const response = await call(callOptions, (o) => rpc.getLedger({ ledgerId }, o));
      return presentLedger(response.ledger);
    },
    async listLedgers(input, callOptions) {
      const response = await call(callOptions, (o) =>
        rpc.listLedgers(
          {
            app: input.app,
            ownerId: input.ownerId ?? "",
            pageSize: input.pageSize ?? 0,
            pageToken: input.pageToken ?? "",
          },
          o,
        ),
      );
      return { ledgers: response.ledgers, nextPageToken: response.nextPageToken };
    },
    getBalance(input, callOptions) {
      const request = { ...balanceLookup(input), asOf: optionalTimestamp(input.asOf) };
      return call(callOptions, (o) => rpc.getBalance(request, o));
    },
    async terminateLedger(ledgerId, options = {}) {
      const { voidPending = false, sweepToLedgerId = "", ...callOptions } = options;
      const response = await call(callOptions, (o) =>
        rpc.terminateLedger({ ledgerId, voidPending, sweepToLedgerId }, o),
      );
      return {
        ledger: presentLedger(response.ledger),
        remainingBalanceMinor: response.remainingBalance,
        sweepTransaction: response.sweepTransaction,
      };
    },
  };
}

/** Entries: record (or hold) one or many, list a ledger's. */
function entryCalls(
  rpc: Rpc,
  call: Call,
): Pick<LedgerClient, "recordEntry" | "recordEntries" | "listEntries"> {
  const recordEntry = async (
    input: RecordEntryInput | HoldEntryInput,
    callOptions: CallOptions | undefined,
  ): Promise<RecordedEntry | RecordedHold> => {
    const request = entryRequest(input);
    const response = await call(callOptions, (o) => rpc.recordEntry(request, o));
    return recordedEntry(response, request);
  };
  const recordEntries = async (
    items: readonly (RecordEntryInput | HoldEntryInput)[],
    { atomic, ...callOptions }: RecordEntriesOptions,
  ): Promise<(RecordEntriesItem | HoldEntriesItem)[]> => {
    const entries = items.map(entryRequest);
    const response = await call(callOptions, (o) => rpc.recordEntries({ entries, atomic }, o));
    return bulkResults(entries, response.results, (request, { result }) =>
      itemResult(request.idempotencyKey, result, (made: RecordEntryResponse) =>
        recordedEntry(made, request),
      ),
    );
  };
  return {
    // The overloads narrow the result by `pending`, which entryRequest and recordedEntry follow.
    recordEntry: recordEntry as LedgerClient["recordEntry"],
    recordEntries: recordEntries as LedgerClient["recordEntries"],
    async listEntries(input, callOptions) {
      const response = await call(callOptions, (o) =>
        rpc.listEntries(
          {
            ledgerId: input.ledgerId,
            pageSize: input.pageSize ?? 0,
            pageToken: input.pageToken ?? "",
            occurredAfter: optionalTimestamp(input.occurredAfter),
            occurredBefore: optionalTimestamp(input.occurredBefore),
            createdAfter: optionalTimestamp(input.createdAfter),
            createdBefore: optionalTimestamp(input.createdBefore),
            reference: input.reference ?? "",
            externalTransactionId: input.externalTransactionId ?? "",
          },
          o,
        ),
      );
      return { entries: response.entries, nextPageToken: response.nextPageToken };
    },
  };
}

/** Transfers: one, or many in one call. */
function transferCalls(rpc: Rpc, call: Call): Pick<LedgerClient, "transfer" | "createTransfers"> {
  return {
    async transfer(input, callOptions) {
      const request = transferRequest(input);
      const response = await call(callOptions, (o) => rpc.transfer(request, o));
      return writtenTransaction(response, request.idempotencyKey);
    },
    async createTransfers(items, { atomic, ...callOptions }) {
      const transfers = items.map(transferRequest);
      const response = await call(callOptions, (o) =>
        rpc.createTransfers({ transfers, atomic }, o),
      );
      return bulkResults(transfers, response.results, (request, { result }) =>
        itemResult(request.idempotencyKey, result, writtenTransaction),
      );
    },
  };
}

/** Transactions: reversals, and lookups by id or by external id. */
function transactionCalls(
  rpc: Rpc,
  call: Call,
): Pick<LedgerClient, "reverseTransaction" | "getTransaction" | "findTransactionByExternalId"> {
  const lookUp = async (
    lookup: { transactionId: string } | { app: string; externalTransactionId: string },
    callOptions: CallOptions | undefined,
  ) => present((await call(callOptions, (o) => rpc.getTransaction(lookup, o))).transaction);
  return {
    async reverseTransaction(input, callOptions) {
      const idempotencyKey = input.idempotencyKey ?? randomKey();
      const response = await call(callOptions, (o) =>
        rpc.reverseTransaction(
          {
            transactionId: input.transactionId,
            amount: input.amountMinor,
            idempotencyKey,
            description: input.description ?? "",
            metadata: { ...input.metadata },
          },
          o,
        ),
      );
      return writtenTransaction(response, idempotencyKey);
    },
    getTransaction(transactionId, callOptions) {
      return lookUp({ transactionId }, callOptions);
    },
    async findTransactionByExternalId(app, externalTransactionId, callOptions) {
      try {
        return await lookUp({ app, externalTransactionId }, callOptions);
      } catch (error) {
        if (error instanceof LedgerRpcError && error.reason === "TRANSACTION_NOT_FOUND") {
          return undefined;
        }
        throw error;
      }
    },
  };
}

/** Holds: post, void, and list a ledger's open ones. */
function holdCalls(
  rpc: Rpc,
  call: Call,
): Pick<
  LedgerClient,
  "postPendingTransaction" | "voidPendingTransaction" | "listPendingTransactions"
> {
  return {
    async postPendingTransaction(transactionId, input = {}, callOptions) {
      const idempotencyKey = input.idempotencyKey ?? randomKey();
      const response = await call(callOptions, (o) =>
        rpc.postPendingTransaction({ transactionId, amount: input.amountMinor, idempotencyKey }, o),
      );
      return writtenTransaction(response, idempotencyKey);
    },
    async voidPendingTransaction(transactionId, input = {}, callOptions) {
      const idempotencyKey = input.idempotencyKey ?? randomKey();
      const response = await call(callOptions, (o) =>
        rpc.voidPendingTransaction({ transactionId, idempotencyKey }, o),
      );
      return writtenTransaction(response, idempotencyKey);
    },
    async listPendingTransactions(ledgerId, page = {}, callOptions) {
      const response = await call(callOptions, (o) =>
        rpc.listPendingTransactions(
          { ledgerId, pageSize: page.pageSize ?? 0, pageToken: page.pageToken ?? "" },
          o,
        ),
      );
      return { transactions: response.transactions, nextPageToken: response.nextPageToken };
    },
  };
}

/** The options of one attempt, handed to the generated client. */
interface AttemptOptions {
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
}

type Attempt<T> = (options: AttemptOptions) => Promise<T>;

/**
 * Runs `attempt` until it succeeds, fails for good, exhausts the attempts or
 * the deadline. Each attempt gets what remains of the deadline.
 */
async function withRetries<T>(
  policy: RetryPolicy,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  attempt: Attempt<T>,
): Promise<T> {
  const deadlineMs = Date.now() + timeoutMs;
  for (let attemptNumber = 1; ; attemptNumber++) {
    const remainingMs = deadlineMs - Date.now();
    try {
      return await attempt({ timeoutMs: Math.max(1, remainingMs), signal });
    } catch (thrown) {
      const error = toLedgerRpcError(thrown, signal?.aborted === true);
      if (!error.retryable || attemptNumber >= policy.attemptsMax || signal?.aborted === true) {
        throw error;
      }
      const delayMs = backoffDelayMs(policy, attemptNumber);
      if (Date.now() + delayMs >= deadlineMs) {
        throw error;
      }
      await sleep(delayMs, signal);
    }
  }
}

function sleep(delayMs: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(
        new LedgerRpcError({
          message: "the call was cancelled while waiting to retry",
          code: Code.Canceled,
          reason: undefined,
          metadata: {},
          cause: signal?.reason,
        }),
      );
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, delayMs);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** A response message field the server always sets; its absence is a broken server. */
function present<T>(value: T | undefined): T {
  if (value === undefined) {
    throw brokenResponse("missing response field");
  }
  return value;
}

/** A response no working server sends. */
function brokenResponse(what: string): LedgerRpcError {
  return new LedgerRpcError({
    message: "the server's response lacks its resource",
    code: Code.Internal,
    reason: undefined,
    metadata: {},
    cause: new ConnectError(what, Code.Internal),
  });
}

/** A response's ledger, which the server always sets. */
function presentLedger(message: LedgerMessage | undefined): Ledger {
  return present(message);
}

/** GetBalance's lookup fields: by id, or by (app, ownerId, unit); nothing else of the input. */
function balanceLookup(input: BalanceInput) {
  return "ledgerId" in input
    ? { ledgerId: input.ledgerId }
    : { app: input.app, ownerId: input.ownerId, unit: input.unit };
}

/** A RecordEntry request as the SDK sends it: its key generated, `pending` set. */
type EntryRequest = MessageInitShape<typeof RecordEntryRequestSchema> & {
  idempotencyKey: string;
  pending: boolean;
};

/** RecordEntry's request, alone or as an item of RecordEntries, its key generated once. */
function entryRequest(input: RecordEntryInput | HoldEntryInput): EntryRequest {
  return {
    ...postingFields(input),
    ledgerId: input.ledgerId,
    operation: input.operation,
    amount: input.amountMinor,
    createdAt: optionalTimestamp(input.createdAt),
  };
}

/** Transfer's request, alone or as an item of CreateTransfers, its key generated once. */
function transferRequest(
  input: TransferInput,
): MessageInitShape<typeof TransferRequestSchema> & { idempotencyKey: string } {
  return {
    ...postingFields(input),
    fromLedgerId: input.fromLedgerId,
    toLedgerId: input.toLedgerId,
    amount: input.amountMinor,
    operation: input.operation ?? "",
  };
}

/** The fields RecordEntry and Transfer requests share, the key generated here when absent. */
function postingFields(input: PostingFields) {
  return {
    idempotencyKey: input.idempotencyKey ?? randomKey(),
    occurredAt: optionalTimestamp(input.occurredAt),
    description: input.description ?? "",
    reference: input.reference ?? "",
    metadata: { ...input.metadata },
    externalTransactionId: input.externalTransactionId ?? "",
    pending: input.pending ?? false,
    pendingExpiresAt: optionalTimestamp(input.pendingExpiresAt),
  };
}

function optionalTimestamp(date: Date | undefined) {
  return date === undefined ? undefined : timestampFromDate(date);
}

/**
 * What RecordEntry returns, alone or as an item of RecordEntries: its entry,
 * or the hold when the request was `pending`.
 */
function recordedEntry(
  response: RecordEntryResponse,
  request: EntryRequest,
): RecordedEntry | RecordedHold {
  const { replayed } = response;
  const { idempotencyKey } = request;
  if (request.pending) {
    return { transaction: present(response.pendingTransaction), replayed, idempotencyKey };
  }
  return {
    entry: present(response.entry),
    recomputedEntries: Number(response.recomputedEntries),
    replayed,
    idempotencyKey,
  };
}

/** What Transfer, ReverseTransaction and the posts and voids of holds return: their transaction. */
function writtenTransaction(
  response: { readonly transaction?: Transaction | undefined; readonly replayed: boolean },
  idempotencyKey: string,
): RecordedTransfer & ReversedTransaction & PostedTransaction & VoidedTransaction {
  return {
    transaction: present(response.transaction),
    replayed: response.replayed,
    idempotencyKey,
  };
}

/** One result per request item, in order: any other count is a broken server. */
function bulkResults<Request, Result, Item>(
  requests: readonly Request[],
  results: readonly Result[],
  item: (request: Request, result: Result) => Item,
): Item[] {
  if (results.length !== requests.length) {
    throw brokenResponse(`${results.length} results for ${requests.length} items`);
  }
  return requests.map((request, index) => item(request, results[index] as Result));
}

/** A bulk item's oneof: its write's response, or the google.rpc.Status it was refused with. */
type ItemOutcome<Response> =
  | { readonly case: "entry" | "transfer"; readonly value: Response }
  | { readonly case: "error"; readonly value: Status }
  | { readonly case: undefined };

/** One item's result: its write's (`made`), or the typed error of its google.rpc.Status. */
function itemResult<Response, Written>(
  idempotencyKey: string,
  outcome: ItemOutcome<Response>,
  made: (response: Response, idempotencyKey: string) => Written,
): (Written & { readonly ok: true }) | RefusedItem {
  switch (outcome.case) {
    case "error":
      return { ok: false, error: ledgerRpcErrorFromStatus(outcome.value), idempotencyKey };
    case undefined:
      throw brokenResponse("a bulk result with neither its write nor an error");
    default:
      return { ...made(outcome.value, idempotencyKey), ok: true };
  }
}

function randomKey(): string {
  return globalThis.crypto.randomUUID();
}

function checkTimeoutMs(timeoutMs: number): number {
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > TIMEOUT_MS_MAX) {
    throw new RangeError(
      `timeoutMs must be an integer in [1, ${TIMEOUT_MS_MAX}], got ${timeoutMs}`,
    );
  }
  return timeoutMs;
}
