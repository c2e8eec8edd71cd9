import { LockMode } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { Ledger } from "../domain/index.js";
import { TransactionEntity, type TransactionRow } from "./entities/index.js";
import { LEDGER_COLUMNS, type LedgerSqlRow, ledgerFromSqlRow } from "./ledger-rows.js";

/**
 * Locks ledger rows FOR UPDATE in ascending id order (the one lock order of
 * every write, so writers touching several ledgers cannot deadlock) and
 * returns the ones that exist, as they are once locked. Hand-written SQL:
 * this is on every write's path, and the ORM's query building and entity
 * hydration cost more than the statement.
 */
export async function lockLedgers(
  em: EntityManager,
  ledgerIds: readonly string[],
): Promise<ReadonlyMap<string, Ledger>> {
  const ids = [...new Set(ledgerIds)].sort();
  if (ids.length === 0) {
    return new Map();
  }
  const rows = await em.execute<LedgerSqlRow[]>(
    `select ${LEDGER_COLUMNS}
       from ledgers
      where id in (${ids.map(() => "?").join(", ")})
      order by id
        for update`,
    ids,
  );
  return new Map(rows.map((row) => [row.id, ledgerFromSqlRow(row)]));
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
