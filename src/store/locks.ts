import { LockMode, QueryOrder } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { Ledger } from "../domain/index.js";
import { LedgerEntity, TransactionEntity, type TransactionRow } from "./entities/index.js";
import { toLedger } from "./mappers.js";

/**
 * Locks ledger rows FOR UPDATE in ascending id order (the one lock order of
 * every write, so writers touching several ledgers cannot deadlock) and
 * returns the ones that exist, as they are once locked.
 */
export async function lockLedgers(
  em: EntityManager,
  ledgerIds: readonly string[],
): Promise<ReadonlyMap<string, Ledger>> {
  const ids = [...new Set(ledgerIds)].sort();
  const rows = await em.find(
    LedgerEntity,
    { id: { $in: ids } },
    { lockMode: LockMode.PESSIMISTIC_WRITE, orderBy: { id: QueryOrder.ASC } },
  );
  return new Map(rows.map((row) => [row.id, toLedger(row)]));
}

/** Locks a transaction row FOR UPDATE; taken after the ledgers it touches. */
export async function lockTransaction(
  em: EntityManager,
  transactionId: string,
): Promise<TransactionRow | null> {
  return em.findOne(
    TransactionEntity,
    { id: transactionId },
    { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
  );
}
