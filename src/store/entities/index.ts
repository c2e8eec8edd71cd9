import { EntryEntity } from "./entry.entity.js";
import { IdempotencyKeyEntity } from "./idempotency-key.entity.js";
import { LedgerEntity } from "./ledger.entity.js";
import { TransactionEntity } from "./transaction.entity.js";

export { EntryEntity, type EntryRow } from "./entry.entity.js";
export { IdempotencyKeyEntity, type IdempotencyKeyRow } from "./idempotency-key.entity.js";
export { LedgerEntity, type LedgerRow } from "./ledger.entity.js";
export { TransactionEntity, type TransactionRow } from "./transaction.entity.js";

export const ENTITIES = [LedgerEntity, TransactionEntity, EntryEntity, IdempotencyKeyEntity];
