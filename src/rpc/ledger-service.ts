import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import {
  type CreateLedgerRequest,
  type GetBalanceRequest,
  type GetTransactionRequest,
  LedgerService,
  type RecordEntryRequest,
  type TransferRequest,
} from "../../gen/ledger/v1/ledger_pb.js";
import {
  type BalanceLookup,
  bulkItems,
  type CallOptions,
  type CreateLedgerInput,
  checkId,
  type HoldRequest,
  invalidArgument,
  type LedgerStore,
  type ListEntriesInput,
  type ListLedgersInput,
  type ListPendingInput,
  normalizePageSize,
  type PostPendingInput,
  type RecordEntryInput,
  type ReverseTransactionInput,
  type TransactionLookup,
  type TransferInput,
  type VoidPendingInput,
  validateBalanceLookup,
  validateCreateLedger,
  validateListEntries,
  validateListLedgers,
  validateListPending,
  validatePostPending,
  validateRecordEntry,
  validateReverseTransaction,
  validateTransactionLookup,
  validateTransfer,
  validateVoidPending,
} from "../domain/index.js";
import { callerOf } from "./access.js";
import {
  entryResultToProto,
  entryToProto,
  ledgerToProto,
  recordedEntryToProto,
  transactionToProto,
  transferResultToProto,
  writtenTransactionToProto,
} from "./convert.js";
import { dateFromTimestamp } from "./timestamp.js";
import { WatchHub, watchEntries } from "./watch.js";

/**
 * The LedgerService on top of a LedgerStore: every request is validated
 * (INVALID_ARGUMENT naming the proto field) before the store sees it, and the
 * caller's deadline travels with each store call. Failures are thrown as they
 * come (LedgerError, or a bug); the error interceptor maps them.
 */
export function createLedgerServiceImpl(
  store: LedgerStore,
  logger?: Logger,
  hub: WatchHub = new WatchHub(),
): ServiceImpl<typeof LedgerService> {
  return wakingWatchers(hub, {
    async createLedger(req, ctx) {
      const input: CreateLedgerInput = {
        app: req.app,
        ownerId: req.ownerId,
        unit: req.unit,
        description: req.description,
        reference: req.reference,
        metadata: { ...req.metadata },
        minBalanceMinor: req.minBalance,
        unbounded: req.unbounded,
        idempotencyKey: req.idempotencyKey,
        ...windowFields(req),
      };
      validateCreateLedger(input);
      const result = await store.createLedger(input, callOptions(ctx));
      return { ledger: ledgerToProto(result.value), replayed: result.replayed };
    },

    async getLedger(req, ctx) {
      checkId("ledger_id", req.ledgerId);
      const ledger = await store.getLedger(req.ledgerId, callOptions(ctx));
      return { ledger: ledgerToProto(ledger) };
    },

    async listLedgers(req, ctx) {
      const input: ListLedgersInput = {
        app: req.app,
        ownerId: req.ownerId,
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      };
      validateListLedgers(input);
      const page = await store.listLedgers(
        { ...input, pageSize: normalizePageSize(input.pageSize) },
        callOptions(ctx),
      );
      return { ledgers: page.items.map(ledgerToProto), nextPageToken: page.nextPageToken };
    },

    async recordEntry(req, ctx) {
      const input = recordEntryInput(req);
      validateRecordEntry(input);
      return recordedEntryToProto(
        input.hold === undefined
          ? await store.recordEntry(input, callOptions(ctx))
          : await store.holdEntry(input, callOptions(ctx)),
      );
    },

    async recordEntries(req, ctx) {
      const entries = bulkItems("entries", req.entries, recordEntryInput, validateRecordEntry);
      const results = await store.recordEntries({ entries, atomic: req.atomic }, callOptions(ctx));
      return { results: results.map(entryResultToProto) };
    },

    async transfer(req, ctx) {
      const input = transferInput(req);
      validateTransfer(input);
      return writtenTransactionToProto(await store.transfer(input, callOptions(ctx)));
    },

    async createTransfers(req, ctx) {
      const transfers = bulkItems("transfers", req.transfers, transferInput, validateTransfer);
      const results = await store.createTransfers(
        { transfers, atomic: req.atomic },
        callOptions(ctx),
      );
      return { results: results.map(transferResultToProto) };
    },

    async getTransaction(req, ctx) {
      const lookup = transactionLookup(req);
      validateTransactionLookup(lookup);
      const transaction = await store.getTransaction(lookup, callOptions(ctx));
      return { transaction: transactionToProto(transaction) };
    },

    async reverseTransaction(req, ctx) {
      const input: ReverseTransactionInput = {
        transactionId: req.transactionId,
        amountMinor: req.amount,
        idempotencyKey: req.idempotencyKey,
        description: req.description,
        metadata: { ...req.metadata },
      };
      validateReverseTransaction(input);
      return writtenTransactionToProto(await store.reverseTransaction(input, callOptions(ctx)));
    },

    async getBalance(req, ctx) {
      const lookup = balanceLookup(req);
      validateBalanceLookup(lookup);
      const balance = await store.getBalance(lookup, callOptions(ctx));
      return {
        ledgerId: balance.ledgerId,
        balance: balance.balanceMinor,
        unit: balance.unit,
        version: balance.version,
        pendingDebits: balance.pendingDebitsMinor,
        pendingCredits: balance.pendingCreditsMinor,
        available: balance.availableMinor,
      };
    },

    async listEntries(req, ctx) {
      const input: ListEntriesInput = {
        ledgerId: req.ledgerId,
        pageSize: req.pageSize,
        pageToken: req.pageToken,
        occurredAfter: dateFromTimestamp("occurred_after", req.occurredAfter),
        occurredBefore: dateFromTimestamp("occurred_before", req.occurredBefore),
        createdAfter: dateFromTimestamp("created_after", req.createdAfter),
        createdBefore: dateFromTimestamp("created_before", req.createdBefore),
        reference: req.reference,
        externalTransactionId: req.externalTransactionId,
      };
      validateListEntries(input);
      const page = await store.listEntries(
        { ...input, pageSize: normalizePageSize(input.pageSize) },
        callOptions(ctx),
      );
      return { entries: page.items.map(entryToProto), nextPageToken: page.nextPageToken };
    },

    async terminateLedger(req, ctx) {
      checkId("ledger_id", req.ledgerId);
      const sweepToLedgerId = req.sweepToLedgerId === "" ? undefined : req.sweepToLedgerId;
      if (sweepToLedgerId !== undefined) {
        checkId("sweep_to_ledger_id", sweepToLedgerId);
        if (sweepToLedgerId === req.ledgerId) {
          throw invalidArgument("sweep_to_ledger_id", "must differ from ledger_id");
        }
      }
      const closed = await store.terminateLedger(
        { ledgerId: req.ledgerId, voidPending: req.voidPending, sweepToLedgerId },
        callOptions(ctx),
      );
      if (closed.remainingMinor !== 0n) {
        logger?.warn(
          {
            ledger_id: closed.ledger.id,
            remaining_minor: closed.remainingMinor.toString(),
            unit: closed.ledger.unit,
          },
          "ledger terminated with a balance left on it",
        );
      }
      return {
        ledger: ledgerToProto(closed.ledger),
        remainingBalance: closed.remainingMinor,
        sweepTransaction: closed.sweep && transactionToProto(closed.sweep),
      };
    },

    async postPendingTransaction(req, ctx) {
      const input: PostPendingInput = {
        transactionId: req.transactionId,
        amountMinor: req.amount,
        idempotencyKey: req.idempotencyKey,
      };
      validatePostPending(input);
      return writtenTransactionToProto(await store.postPendingTransaction(input, callOptions(ctx)));
    },

    async voidPendingTransaction(req, ctx) {
      const input: VoidPendingInput = {
        transactionId: req.transactionId,
        idempotencyKey: req.idempotencyKey,
      };
      validateVoidPending(input);
      return writtenTransactionToProto(await store.voidPendingTransaction(input, callOptions(ctx)));
    },

    async listPendingTransactions(req, ctx) {
      const input: ListPendingInput = {
        ledgerId: req.ledgerId,
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      };
      validateListPending(input);
      const page = await store.listPendingTransactions(
        { ...input, pageSize: normalizePageSize(input.pageSize) },
        callOptions(ctx),
      );
      return {
        transactions: page.items.map(transactionToProto),
        nextPageToken: page.nextPageToken,
      };
    },
    watchEntries(req, ctx) {
      return watchEntries(store, hub, req, ctx, callOptions(ctx));
    },
  });
}

/**
 * The service whose writes wake the watchers of the ledgers their answers
 * name (WatchEntries), this process's writes being seen at once.
 */
function wakingWatchers(
  hub: WatchHub,
  impl: ServiceImpl<typeof LedgerService>,
): ServiceImpl<typeof LedgerService> {
  const handlers = impl as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of LedgerService.methods) {
    const handler = handlers[method.localName];
    if (
      handler !== undefined &&
      method.methodKind === "unary" &&
      method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS
    ) {
      handlers[method.localName] = async (...args: unknown[]) => {
        const answer = await handler(...args);
        hub.wakeFor(answer);
        return answer;
      };
    }
  }
  return impl;
}

/** The caller's deadline and app (access.ts): the store sees only that app's ledgers. */
function callOptions(ctx: HandlerContext): CallOptions {
  return { timeoutMs: ctx.timeoutMs(), signal: ctx.signal, app: callerOf(ctx).app };
}

/**
 * The one mapping of a RecordEntry request, alone or as item of a bulk call:
 * `prefix` (itemPrefix) names the item in the fields a failure names.
 */
function recordEntryInput(req: RecordEntryRequest, prefix = ""): RecordEntryInput {
  return {
    ledgerId: req.ledgerId,
    operation: req.operation,
    amountMinor: req.amount,
    idempotencyKey: req.idempotencyKey,
    ...postingFields(req, prefix),
    // Only when set: the requests of keys stored before backdating existed fingerprint the same.
    ...(req.createdAt === undefined
      ? {}
      : { createdAt: dateFromTimestamp(`${prefix}created_at`, req.createdAt) }),
  };
}

/** A CreateLedger request's validity window, each field only when set (as in recordEntryInput). */
function windowFields(req: CreateLedgerRequest): Partial<CreateLedgerInput> {
  const validFrom = dateFromTimestamp("valid_from", req.validFrom);
  const validUntil = dateFromTimestamp("valid_until", req.validUntil);
  return {
    ...(validFrom === undefined ? {} : { validFrom }),
    ...(validUntil === undefined ? {} : { validUntil }),
    ...(req.expireToLedgerId === "" ? {} : { expireToLedgerId: req.expireToLedgerId }),
  };
}

/** A Transfer request, alone or as item `prefix` of CreateTransfers. */
function transferInput(req: TransferRequest, prefix = ""): TransferInput {
  return {
    fromLedgerId: req.fromLedgerId,
    toLedgerId: req.toLedgerId,
    amountMinor: req.amount,
    idempotencyKey: req.idempotencyKey,
    operation: req.operation,
    ...postingFields(req, prefix),
  };
}

/** What every posting of a RecordEntry or a Transfer carries. */
function postingFields(req: RecordEntryRequest | TransferRequest, prefix: string) {
  return {
    occurredAt: dateFromTimestamp(`${prefix}occurred_at`, req.occurredAt),
    description: req.description,
    reference: req.reference,
    metadata: { ...req.metadata },
    externalTransactionId: req.externalTransactionId,
    hold: holdRequest(req, prefix),
  };
}

/** `pending` with its optional deadline; a deadline without `pending` is refused. */
function holdRequest(
  req: RecordEntryRequest | TransferRequest,
  prefix: string,
): HoldRequest | undefined {
  const field = `${prefix}pending_expires_at`;
  if (!req.pending) {
    if (req.pendingExpiresAt !== undefined) {
      throw invalidArgument(field, "is only allowed with pending: true");
    }
    return undefined;
  }
  return { expiresAt: dateFromTimestamp(field, req.pendingExpiresAt) };
}

/** `transaction_id`, or both `app` and `external_transaction_id`: never both, never neither. */
function transactionLookup(req: GetTransactionRequest): TransactionLookup {
  const byExternalId = req.app !== "" || req.externalTransactionId !== "";
  if (req.transactionId !== "") {
    if (byExternalId) {
      throw invalidArgument(
        "transaction_id",
        "must not be combined with app and external_transaction_id",
      );
    }
    return { transactionId: req.transactionId };
  }
  if (!byExternalId) {
    throw invalidArgument(
      "transaction_id",
      "is required (or both app and external_transaction_id)",
    );
  }
  return { app: req.app, externalTransactionId: req.externalTransactionId };
}

/** `ledger_id`, or all of `app`, `owner_id` and `unit`: never both, never neither. */
function balanceLookup(req: GetBalanceRequest): BalanceLookup {
  const byOwner = req.app !== "" || req.ownerId !== "" || req.unit !== "";
  const asOf = dateFromTimestamp("as_of", req.asOf);
  if (req.ledgerId !== "") {
    if (byOwner) {
      throw invalidArgument("ledger_id", "must not be combined with app, owner_id and unit");
    }
    return { ledgerId: req.ledgerId, asOf };
  }
  if (!byOwner) {
    throw invalidArgument("ledger_id", "is required (or all of app, owner_id and unit)");
  }
  return { app: req.app, ownerId: req.ownerId, unit: req.unit, asOf };
}
