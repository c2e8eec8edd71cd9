import { QueryOrder } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import {
  externalIdNotFound,
  type Transaction,
  type TransactionLookup,
  type TransactionView,
  transactionNotFound,
} from "../../domain/index.js";
import { EntryEntity, TransactionEntity } from "../entities/index.js";
import { toEntry, toTransaction } from "../mappers.js";

/**
 * A transaction with its entries in posting order (their ids are v7 UUIDs
 * generated in that order), or undefined.
 */
export async function findTransaction(
  em: EntityManager,
  transactionId: string,
): Promise<Transaction | undefined> {
  const row = await em.findOne(TransactionEntity, { id: transactionId });
  if (row === null) {
    return undefined;
  }
  const entries = await em.find(
    EntryEntity,
    { transactionId },
    { orderBy: { id: QueryOrder.ASC } },
  );
  return toTransaction(row, entries.map(toEntry));
}

/**
 * GetTransaction: by id, or by the app's external id; with the ids of its
 * reversals, oldest first (v7 ids grow with time). TRANSACTION_NOT_FOUND.
 * Run it in one snapshot (UnitOfWork.snapshot), so the reversed amount and
 * the reversals agree.
 */
export async function getTransaction(
  em: EntityManager,
  lookup: TransactionLookup,
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
  return { ...transaction, reversalIds: reversals.map((row) => row.id) };
}
