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
import { anyApp, type Scope, scopeWhere } from "../scope.js";
import { readLegs } from "./holds.js";

/**
 * A transaction with its entries in posting order (their ids are v7 UUIDs
 * generated in that order) and, for a hold, its legs; or undefined.
 */
export async function findTransaction(
  em: EntityManager,
  transactionId: string,
  scope: Scope,
): Promise<Transaction | undefined> {
  return (await findTransactions(em, [transactionId], scope))[0];
}

/**
 * The transactions of `ids` that exist for `scope`, in that order: at most
 * three statements whatever their number; one when none does.
 */
export async function findTransactions(
  em: EntityManager,
  ids: readonly string[],
  scope: Scope,
): Promise<Transaction[]> {
  if (ids.length === 0) {
    return [];
  }
  const rows = await em.find(TransactionEntity, { id: { $in: [...ids] }, ...scopeWhere(scope) });
  if (rows.length === 0) {
    return [];
  }
  const entries = await em.find(
    EntryEntity,
    { transactionId: { $in: rows.map((row) => row.id) } },
    { orderBy: { id: QueryOrder.ASC } },
  );
  const holdIds = rows.filter((row) => row.heldAmount != null).map((row) => row.id);
  const legs = await readLegs(em, anyApp(holdIds), undefined);
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
  scope: Scope,
): Promise<TransactionView> {
  const id =
    "transactionId" in lookup
      ? lookup.transactionId
      : (
          await em.findOne(
            TransactionEntity,
            {
              $and: [
                { app: lookup.app, externalTransactionId: lookup.externalTransactionId },
                scopeWhere(scope),
              ],
            },
            { fields: ["id"] },
          )
        )?.id;
  const transaction = id === undefined ? undefined : await findTransaction(em, id, scope);
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
