import { QueryOrder } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { Transaction } from "../../domain/index.js";
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
