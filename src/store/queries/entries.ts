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
import {
  decodePageToken,
  encodePageToken,
  type HistoryPosition,
  historyPosition,
  historyPositionText,
} from "../page-token.js";

/**
 * A ledger's entries in history order, newest first: by created_at, then
 * sequence; with occurred_at in [occurredAfter, occurredBefore), created_at
 * in [createdAfter, createdBefore), and the reference and external id asked
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
    ...(input.createdAfter === undefined
      ? {}
      : { created_after: input.createdAfter.toISOString() }),
    ...(input.createdBefore === undefined
      ? {}
      : { created_before: input.createdBefore.toISOString() }),
  };
  const after = decodePageToken(input.pageToken, filters, historyPosition);
  const rows = await em.find(
    EntryEntity,
    {
      $and: [
        { ledgerId: input.ledgerId },
        ...(await keysetAfter(em, input.ledgerId, after)),
        ...range("occurredAt", input.occurredAfter, input.occurredBefore),
        ...range("createdAt", input.createdAfter, input.createdBefore),
        ...(input.reference === "" ? [] : [{ reference: input.reference }]),
        ...(input.externalTransactionId === ""
          ? []
          : [{ externalTransactionId: input.externalTransactionId }]),
      ],
    },
    {
      orderBy: [{ createdAt: QueryOrder.DESC }, { sequence: QueryOrder.DESC }],
      limit: pageSize + 1,
    },
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
        ? encodePageToken(filters, historyPositionText(last))
        : "",
  };
}

/** [after, before) on one timestamp column, as conditions (none when unbounded). */
function range(
  column: "occurredAt" | "createdAt",
  after: Date | undefined,
  before: Date | undefined,
) {
  return [
    ...(after === undefined ? [] : [{ [column]: { $gte: after } }]),
    ...(before === undefined ? [] : [{ [column]: { $lt: before } }]),
  ];
}

/**
 * The entries after a page's last one in newest-first history order: created
 * earlier, or at the same instant with a lower sequence. A token from before
 * history order names only the sequence: its entry's created_at is read.
 */
async function keysetAfter(
  em: EntityManager,
  ledgerId: string,
  position: HistoryPosition | undefined,
) {
  if (position === undefined) {
    return [];
  }
  const createdAt =
    position.createdAt ??
    (await em.findOne(EntryEntity, { ledgerId, sequence: position.sequence }))?.createdAt;
  if (createdAt === undefined) {
    return [{ sequence: { $lt: position.sequence } }];
  }
  return [
    { createdAt: { $lte: createdAt } },
    { $or: [{ createdAt: { $lt: createdAt } }, { sequence: { $lt: position.sequence } }] },
  ];
}

/** Only checked for an empty page: a ledger with entries exists. */
async function assertLedgerExists(em: EntityManager, ledgerId: string): Promise<void> {
  const count = await em.count(LedgerEntity, { id: ledgerId });
  if (count === 0) {
    throw ledgerNotFound(ledgerId);
  }
}
