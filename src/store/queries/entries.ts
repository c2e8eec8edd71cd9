import { QueryOrder } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import {
  type Entry,
  type ListEntriesInput,
  ledgerNotFound,
  normalizePageSize,
  type Page,
} from "../../domain/index.js";
import { EntryEntity, LedgerEntity } from "../entities/index.js";
import { toEntry } from "../mappers.js";
import { decodePageToken, encodePageToken, sequencePosition } from "../page-token.js";

/**
 * A ledger's entries, newest (highest sequence) first, with occurred_at in
 * [occurredAfter, occurredBefore), and the reference and external id asked
 * for (when asked). LEDGER_NOT_FOUND, INVALID_ARGUMENT (page_token).
 */
export async function listEntries(
  em: EntityManager,
  input: ListEntriesInput,
): Promise<Page<Entry>> {
  const pageSize = normalizePageSize(input.pageSize);
  const filters = {
    ledger_id: input.ledgerId,
    occurred_after: input.occurredAfter?.toISOString() ?? "",
    occurred_before: input.occurredBefore?.toISOString() ?? "",
    // Only when set: a token issued before these filters existed still continues its listing.
    ...(input.reference === "" ? {} : { reference: input.reference }),
    ...(input.externalTransactionId === ""
      ? {}
      : { external_transaction_id: input.externalTransactionId }),
  };
  const before = decodePageToken(input.pageToken, filters, sequencePosition);
  const occurredAt = {
    ...(input.occurredAfter === undefined ? {} : { $gte: input.occurredAfter }),
    ...(input.occurredBefore === undefined ? {} : { $lt: input.occurredBefore }),
  };
  const rows = await em.find(
    EntryEntity,
    {
      ledgerId: input.ledgerId,
      ...(before === undefined ? {} : { sequence: { $lt: before } }),
      ...(Object.keys(occurredAt).length === 0 ? {} : { occurredAt }),
      ...(input.reference === "" ? {} : { reference: input.reference }),
      ...(input.externalTransactionId === ""
        ? {}
        : { externalTransactionId: input.externalTransactionId }),
    },
    { orderBy: { sequence: QueryOrder.DESC }, limit: pageSize + 1 },
  );
  if (rows.length === 0) {
    await assertLedgerExists(em, input.ledgerId);
  }
  const items = rows.slice(0, pageSize).map(toEntry);
  const last = items.at(-1);
  return {
    items,
    nextPageToken:
      rows.length > pageSize && last !== undefined
        ? encodePageToken(filters, last.sequence.toString())
        : "",
  };
}

/** Only checked for an empty page: a ledger with entries exists. */
async function assertLedgerExists(em: EntityManager, ledgerId: string): Promise<void> {
  const count = await em.count(LedgerEntity, { id: ledgerId });
  if (count === 0) {
    throw ledgerNotFound(ledgerId);
  }
}
