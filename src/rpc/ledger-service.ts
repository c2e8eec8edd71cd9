import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type {
  GetBalanceRequest,
  LedgerService,
  RecordEntriesRequest,
  RecordEntryRequest,
} from "../../gen/ledger/v1/ledger_pb.js";
import {
  type BalanceLookup,
  type CallOptions,
  type CreateLedgerInput,
  checkDistinctIdempotencyKeys,
  checkId,
  checkRecordEntriesCount,
  invalidArgument,
  itemPrefix,
  type LedgerStore,
  type ListEntriesInput,
  type ListLedgersInput,
  normalizePageSize,
  type RecordEntriesInput,
  type RecordEntryInput,
  type ReverseTransactionInput,
  validateBalanceLookup,
  validateCreateLedger,
  validateListEntries,
  validateListLedgers,
  validateRecordEntry,
  validateReverseTransaction,
} from "../domain/index.js";
import {
  entryResultToProto,
  entryToProto,
  ledgerToProto,
  recordedEntryToProto,
  transactionToProto,
} from "./convert.js";
import { dateFromTimestamp } from "./timestamp.js";

/**
 * The LedgerService on top of a LedgerStore: every request is validated
 * (INVALID_ARGUMENT naming the proto field) before the store sees it, and the
 * caller's deadline travels with each store call. Failures are thrown as they
 * come (LedgerError, or a bug); the error interceptor maps them.
 */
export function createLedgerServiceImpl(store: LedgerStore): ServiceImpl<typeof LedgerService> {
  return {
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
      const result = await store.recordEntry(input, callOptions(ctx));
      return recordedEntryToProto(result);
    },

    async recordEntries(req, ctx) {
      const input = recordEntriesInput(req);
      const results = await store.recordEntries(input, callOptions(ctx));
      return { results: results.map(entryResultToProto) };
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
      const result = await store.reverseTransaction(input, callOptions(ctx));
      return { transaction: transactionToProto(result.value), replayed: result.replayed };
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
      };
    },

    async listEntries(req, ctx) {
      const input: ListEntriesInput = {
        ledgerId: req.ledgerId,
        pageSize: req.pageSize,
        pageToken: req.pageToken,
        occurredAfter: dateFromTimestamp("occurred_after", req.occurredAfter),
        occurredBefore: dateFromTimestamp("occurred_before", req.occurredBefore),
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
      const ledger = await store.terminateLedger(req.ledgerId, callOptions(ctx));
      return { ledger: ledgerToProto(ledger) };
    },
  };
}

function callOptions(ctx: HandlerContext): CallOptions {
  return { timeoutMs: ctx.timeoutMs(), signal: ctx.signal };
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
    occurredAt: dateFromTimestamp(`${prefix}occurred_at`, req.occurredAt),
    description: req.description,
    reference: req.reference,
    metadata: { ...req.metadata },
    externalTransactionId: req.externalTransactionId,
  };
}

/**
 * Every item mapped and validated as RecordEntry's, in order, under its
 * `entries[i].` prefix; then no key twice. Any refusal refuses the call.
 */
function recordEntriesInput(req: RecordEntriesRequest): RecordEntriesInput {
  checkRecordEntriesCount(req.entries.length);
  const entries = req.entries.map((item, index) => {
    const input = recordEntryInput(item, itemPrefix(index));
    validateRecordEntry(input, itemPrefix(index));
    return input;
  });
  checkDistinctIdempotencyKeys(entries);
  return { entries, atomic: req.atomic };
}

/** `ledger_id`, or all of `app`, `owner_id` and `unit`: never both, never neither. */
function balanceLookup(req: GetBalanceRequest): BalanceLookup {
  const byOwner = req.app !== "" || req.ownerId !== "" || req.unit !== "";
  if (req.ledgerId !== "") {
    if (byOwner) {
      throw invalidArgument("ledger_id", "must not be combined with app, owner_id and unit");
    }
    return { ledgerId: req.ledgerId };
  }
  if (!byOwner) {
    throw invalidArgument("ledger_id", "is required (or all of app, owner_id and unit)");
  }
  return { app: req.app, ownerId: req.ownerId, unit: req.unit };
}
