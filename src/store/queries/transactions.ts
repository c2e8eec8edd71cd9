import { QueryOrder } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import {
  externalIdNotFound,
  type Transaction,
  type TransactionLookup,
  type TransactionView,
  transactionAt,
  transactionNotFound,
} from "../../domain/index.js";
import { EntryEntity, TransactionEntity } from "../entities/index.js";
import { toEntry, toTransaction } from "../mappers.js";
import { readLegs } from "./holds.js";

/**
 * A transaction with its entries in posting order (their ids are v7 UUIDs
 * generated in that order) and, for a hold, its legs; or undefined.
 */
export async function findTransaction(
  em: EntityManager,
  transactionId: string,
): Promise<Transaction | undefined> {
  return (await findTransactions(em, [transactionId]))[0];
}

/** The transactions of `ids` that exist, in that order: three statements whatever their number. */
export async function findTransactions(
  em: EntityManager,
  ids: readonly string[],
): Promise<Transaction[]> {
  if (ids.length === 0) {
    return [];
  }
  const rows = await em.find(TransactionEntity, { id: { $in: [...ids] } });
  const entries = await em.find(
    EntryEntity,
    { transactionId: { $in: [...ids] } },
    { orderBy: { id: QueryOrder.ASC } },
  );
  const holdIds = rows.filter((row) => row.heldAmount != null).map((row) => row.id);
  const legs = await readLegs(em, holdIds, undefined);
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.flatMap((id) => {
    const row = byId.get(id);
    return row === undefined
      ? []
      : [
          toTransaction(
            row,
            entries.filter((entry) => entry.transactionId === id).map(toEntry),
            legs.get(id) ?? [],
          ),
        ];
  });
}

/**
 * GetTransaction: by id, or by the app's external id; with the ids of its
 * reversals, oldest first (v7 ids grow with time). TRANSACTION_NOT_FOUND.
 * Run it in one snapshot (UnitOfWork.snapshot), so the reversed amount and
 * the reversals agree. A hold past its deadline at `now` reads as EXPIRED.
 */
export async function getTransaction(
  em: EntityManager,
  lookup: TransactionLookup,
  now: Date,
): Promise<TransactionView> {
  const id =
    "transactionId" in lookup
      ? lookup.transactionId
      : (
          await em.findOne(
            TransactionEntity,
            { app: lookup.app, externalTransactionId: lookup.externalTransactionId },
            { fields: ["id"] },
          )
        )?.id;
  const transaction = id === undefined ? undefined : await findTransaction(em, id);
  if (transaction === undefined) {
    throw "transactionId" in lookup
      ? transactionNotFound(lookup.transactionId)
      : externalIdNotFound(lookup.app, lookup.externalTransactionId);
  }
  const reversals = await em.find(
    TransactionEntity,
    { reversesTransactionId: transaction.id },
    { fields: ["id"], orderBy: { id: QueryOrder.ASC } },
  );
  return transactionAt({ ...transaction, reversalIds: reversals.map((row) => row.id) }, now);
}
