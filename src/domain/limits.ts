/** Every string, map and page the service accepts is bounded. */
export const LIMITS = {
  appLengthMax: 64,
  ownerIdLengthMax: 256,
  unitLengthMax: 32,
  descriptionLengthMax: 1024,
  referenceLengthMax: 256,
  externalTransactionIdLengthMax: 256,
  idempotencyKeyLengthMax: 256,
  metadataEntriesMax: 64,
  metadataKeyLengthMax: 64,
  metadataValueLengthMax: 1024,
  pageSizeDefault: 50,
  pageSizeMax: 500,
  /** How far in the future occurred_at may lie, for clock skew. */
  occurredAtFutureSkewMs: 5 * 60 * 1000,
} as const;

/** The most items one RecordEntries call takes. */
export const BULK_ITEMS_MAX = 1000;
