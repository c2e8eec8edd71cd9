import { invalidArgument } from "./errors.js";
import { BULK_ITEMS_MAX, LIMITS } from "./limits.js";
import { INT64_MIN } from "./money.js";
import type {
  BalanceLookup,
  CreateLedgerInput,
  ListEntriesInput,
  ListLedgersInput,
  ListPendingInput,
  Metadata,
  PostPendingInput,
  RecordEntryInput,
  ReverseTransactionInput,
  TransactionLookup,
  TransferInput,
  VoidPendingInput,
} from "./types.js";

const APP_PATTERN = /^[a-z][a-z0-9_-]*$/;
const UNIT_PATTERN = /^[A-Z][A-Z0-9_]*$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const OPERATION_PATTERN = /^[A-Z][A-Z0-9_]*$/;

// Checks of one field each; all throw INVALID_ARGUMENT naming the field.

function requireText(field: string, value: string, lengthMax: number): void {
  if (value.length === 0) {
    throw invalidArgument(field, "is required");
  }
  checkText(field, value, lengthMax);
}

function checkText(field: string, value: string, lengthMax: number): void {
  if (value.length > lengthMax) {
    throw invalidArgument(field, `is longer than ${lengthMax} characters`);
  }
  if (value.includes("\u0000")) {
    throw invalidArgument(field, "contains a NUL character");
  }
}

function checkPattern(field: string, value: string, pattern: RegExp, shape: string): void {
  if (!pattern.test(value)) {
    throw invalidArgument(field, `must be ${shape}, got "${value.slice(0, 64)}"`);
  }
}

export function checkApp(field: string, app: string): void {
  requireText(field, app, LIMITS.appLengthMax);
  checkPattern(
    field,
    app,
    APP_PATTERN,
    "lowercase letters, digits, '-' or '_', starting with a letter",
  );
}

export function checkOwnerId(field: string, ownerId: string): void {
  requireText(field, ownerId, LIMITS.ownerIdLengthMax);
}

export function checkUnit(field: string, unit: string): void {
  requireText(field, unit, LIMITS.unitLengthMax);
  checkPattern(field, unit, UNIT_PATTERN, "an upper-case code such as CREDITS or USD_CENTS");
}

export function checkId(field: string, id: string): void {
  requireText(field, id, 36);
  checkPattern(field, id, UUID_PATTERN, "a lowercase UUID");
}

function checkIdempotencyKey(key: string, prefix = ""): void {
  requireText(`${prefix}idempotency_key`, key, LIMITS.idempotencyKeyLengthMax);
}

function checkMetadata(metadata: Metadata, prefix: string): void {
  const keys = Object.keys(metadata);
  if (keys.length > LIMITS.metadataEntriesMax) {
    throw invalidArgument(
      `${prefix}metadata`,
      `has more than ${LIMITS.metadataEntriesMax} entries`,
    );
  }
  for (const key of keys) {
    requireText(`${prefix}metadata`, key, LIMITS.metadataKeyLengthMax);
    checkText(`${prefix}metadata.${key}`, metadata[key] ?? "", LIMITS.metadataValueLengthMax);
  }
}

/** `prefix` names the message the fields belong to, e.g. "entries[2]." (see itemPrefix). */
function checkAnnotations(
  input: { readonly description: string; readonly metadata: Metadata },
  prefix = "",
): void {
  checkText(`${prefix}description`, input.description, LIMITS.descriptionLengthMax);
  checkMetadata(input.metadata, prefix);
}

export function validateCreateLedger(input: CreateLedgerInput): void {
  checkApp("app", input.app);
  checkOwnerId("owner_id", input.ownerId);
  checkUnit("unit", input.unit);
  checkAnnotations(input);
  checkText("reference", input.reference, LIMITS.referenceLengthMax);
  if (input.unbounded && input.minBalanceMinor !== undefined) {
    throw invalidArgument("min_balance", "must be absent for an unbounded ledger");
  }
  if (input.minBalanceMinor !== undefined && input.minBalanceMinor > 0n) {
    throw invalidArgument("min_balance", "must be zero or negative (a credit limit)");
  }
  checkIdempotencyKey(input.idempotencyKey);
  checkWindow(input);
}

/** valid_from before valid_until; valid_until and expire_to_ledger_id together. */
function checkWindow(input: CreateLedgerInput): void {
  const { validFrom, validUntil, expireToLedgerId } = input;
  if (validFrom !== undefined && validUntil !== undefined && validFrom >= validUntil) {
    throw invalidArgument("valid_until", "must be later than valid_from");
  }
  if (validUntil !== undefined && expireToLedgerId === undefined) {
    throw invalidArgument(
      "expire_to_ledger_id",
      "is required with valid_until: the ledger the remainder goes to when it expires",
    );
  }
  if (expireToLedgerId !== undefined) {
    checkId("expire_to_ledger_id", expireToLedgerId);
    if (validUntil === undefined) {
      throw invalidArgument("expire_to_ledger_id", "is only allowed with valid_until");
    }
  }
}

/**
 * A RecordEntry request, or with `prefix` (itemPrefix) one item of a
 * RecordEntries request, every field named under it: `entries[2].amount`.
 */
export function validateRecordEntry(input: RecordEntryInput, prefix = ""): void {
  const field = (name: string) => `${prefix}${name}`;
  checkId(field("ledger_id"), input.ledgerId);
  checkOperation(field("operation"), input.operation);
  if (input.amountMinor === INT64_MIN) {
    // A transaction records its magnitude, and -(-2^63) is no int64.
    throw invalidArgument(
      field("amount"),
      "must be greater than -2^63 (its magnitude must be an int64)",
    );
  }
  checkIdempotencyKey(input.idempotencyKey, prefix);
  checkReferences(input, prefix);
  if (input.createdAt !== undefined && input.hold !== undefined) {
    throw invalidArgument(
      field("created_at"),
      "cannot be combined with pending: a hold is not backdated",
    );
  }
}

/** A post: a positive amount when one is named (zero posts nothing: void instead). */
export function validatePostPending(input: PostPendingInput): void {
  checkId("transaction_id", input.transactionId);
  if (input.amountMinor !== undefined && input.amountMinor <= 0n) {
    throw invalidArgument(
      "amount",
      "must be positive (the magnitude to post); to release the whole hold, void it",
    );
  }
  checkIdempotencyKey(input.idempotencyKey);
}

export function validateVoidPending(input: VoidPendingInput): void {
  checkId("transaction_id", input.transactionId);
  checkIdempotencyKey(input.idempotencyKey);
}

export function validateListPending(input: ListPendingInput): void {
  checkId("ledger_id", input.ledgerId);
  normalizePageSize(input.pageSize);
}

function checkOperation(field: string, operation: string): void {
  requireText(field, operation, 64);
  checkPattern(field, operation, OPERATION_PATTERN, "an upper-case operation name");
}

/** Description, metadata, reference and external_transaction_id of a posting request. */
function checkReferences(input: RecordEntryInput | TransferInput, prefix: string): void {
  checkAnnotations(input, prefix);
  checkText(`${prefix}reference`, input.reference, LIMITS.referenceLengthMax);
  checkText(
    `${prefix}external_transaction_id`,
    input.externalTransactionId,
    LIMITS.externalTransactionIdLengthMax,
  );
}

/** The repeated field of a bulk write: RecordEntries' `entries`, CreateTransfers' `transfers`. */
export type BulkList = "entries" | "transfers";

/** The prefix of the fields of item `index` of a bulk write: "entries[2].". */
export function itemPrefix(list: BulkList, index: number): string {
  return `${list}[${index}].`;
}

/**
 * The items of a bulk write: 1..BULK_ITEMS_MAX (checked before any is
 * read), each mapped by `toInput` and checked by `validate` under its
 * `list[i].` prefix, in
 * order; then no idempotency key twice (the second item would replay or
 * refuse the first within the same call). Any refusal refuses the call.
 */
export function bulkItems<R, T extends { readonly idempotencyKey: string }>(
  list: BulkList,
  requests: readonly R[],
  toInput: (request: R, prefix: string) => T,
  validate: (input: T, prefix: string) => void,
): T[] {
  if (requests.length < 1 || requests.length > BULK_ITEMS_MAX) {
    throw invalidArgument(list, `must hold 1 to ${BULK_ITEMS_MAX} items, got ${requests.length}`);
  }
  const items = requests.map((request, index) => {
    const input = toInput(request, itemPrefix(list, index));
    validate(input, itemPrefix(list, index));
    return input;
  });
  const firstIndex = new Map<string, number>();
  items.forEach(({ idempotencyKey }, index) => {
    const earlier = firstIndex.get(idempotencyKey);
    if (earlier !== undefined) {
      throw invalidArgument(
        `${itemPrefix(list, index)}idempotency_key`,
        `repeats ${itemPrefix(list, earlier)}idempotency_key: each item needs its own key`,
      );
    }
    firstIndex.set(idempotencyKey, index);
  });
  return items;
}

/**
 * A Transfer request, or with `prefix` one item of CreateTransfers: two
 * different ledgers, a positive amount, an optional operation name.
 */
export function validateTransfer(input: TransferInput, prefix = ""): void {
  const field = (name: string) => `${prefix}${name}`;
  checkId(field("from_ledger_id"), input.fromLedgerId);
  checkId(field("to_ledger_id"), input.toLedgerId);
  if (input.fromLedgerId === input.toLedgerId) {
    throw invalidArgument(field("to_ledger_id"), "must differ from from_ledger_id");
  }
  if (input.amountMinor <= 0n) {
    throw invalidArgument(field("amount"), "must be positive (the magnitude to move)");
  }
  if (input.operation !== "") {
    checkOperation(field("operation"), input.operation);
  }
  checkIdempotencyKey(input.idempotencyKey, prefix);
  checkReferences(input, prefix);
}

export function validateTransactionLookup(lookup: TransactionLookup): void {
  if ("transactionId" in lookup) {
    checkId("transaction_id", lookup.transactionId);
    return;
  }
  checkApp("app", lookup.app);
  requireText(
    "external_transaction_id",
    lookup.externalTransactionId,
    LIMITS.externalTransactionIdLengthMax,
  );
}

export function validateReverseTransaction(input: ReverseTransactionInput): void {
  checkId("transaction_id", input.transactionId);
  if (input.amountMinor !== undefined && input.amountMinor <= 0n) {
    throw invalidArgument("amount", "must be positive (the magnitude to reverse)");
  }
  checkIdempotencyKey(input.idempotencyKey);
  checkAnnotations(input);
}

export function validateBalanceLookup(lookup: BalanceLookup): void {
  if ("ledgerId" in lookup) {
    checkId("ledger_id", lookup.ledgerId);
    return;
  }
  checkApp("app", lookup.app);
  checkOwnerId("owner_id", lookup.ownerId);
  checkUnit("unit", lookup.unit);
}

/** 0 means the default; above the maximum is capped; negative is refused. */
export function normalizePageSize(pageSize: number): number {
  if (!Number.isInteger(pageSize) || pageSize < 0) {
    throw invalidArgument("page_size", "must be zero or positive");
  }
  if (pageSize === 0) {
    return LIMITS.pageSizeDefault;
  }
  return Math.min(pageSize, LIMITS.pageSizeMax);
}

export function validateListLedgers(input: ListLedgersInput): void {
  checkApp("app", input.app);
  if (input.ownerId !== "") {
    checkOwnerId("owner_id", input.ownerId);
  }
  normalizePageSize(input.pageSize);
}

export function validateListEntries(input: ListEntriesInput): void {
  checkId("ledger_id", input.ledgerId);
  normalizePageSize(input.pageSize);
  if (
    input.occurredAfter !== undefined &&
    input.occurredBefore !== undefined &&
    input.occurredAfter.getTime() >= input.occurredBefore.getTime()
  ) {
    throw invalidArgument("occurred_before", "must be later than occurred_after");
  }
  if (
    input.createdAfter !== undefined &&
    input.createdBefore !== undefined &&
    input.createdAfter.getTime() >= input.createdBefore.getTime()
  ) {
    throw invalidArgument("created_before", "must be later than created_after");
  }
  checkText("reference", input.reference, LIMITS.referenceLengthMax);
  checkText(
    "external_transaction_id",
    input.externalTransactionId,
    LIMITS.externalTransactionIdLengthMax,
  );
}
