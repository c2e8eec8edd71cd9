import { LockMode } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { Ledger, LedgerStatus, Metadata } from "../domain/index.js";
import { TransactionEntity, type TransactionRow } from "./entities/index.js";

/** A ledgers row as selected by lockLedgers: int8 columns as text, so no precision is lost. */
interface LockedLedgerRow {
  readonly id: string;
  readonly app: string;
  readonly owner_id: string;
  readonly unit: string;
  readonly description: string;
  readonly reference: string;
  readonly metadata: Metadata;
  readonly status: LedgerStatus;
  readonly balance: string;
  readonly min_balance: string | null;
  readonly version: string;
  readonly created_at: Date;
  readonly terminated_at: Date | null;
}

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
  const rows = await em.execute<LockedLedgerRow[]>(
    `select id, app, owner_id, unit, description, reference, metadata, status,
            balance::text as balance, min_balance::text as min_balance, version::text as version,
            created_at, terminated_at
       from ledgers
      where id in (${ids.map(() => "?").join(", ")})
      order by id
        for update`,
    ids,
  );
  return new Map(rows.map((row) => [row.id, lockedLedger(row)]));
}

function lockedLedger(row: LockedLedgerRow): Ledger {
  return {
    id: row.id,
    app: row.app,
    ownerId: row.owner_id,
    unit: row.unit,
    description: row.description,
    reference: row.reference,
    metadata: row.metadata,
    status: row.status,
    balanceMinor: BigInt(row.balance),
    minBalanceMinor: row.min_balance === null ? undefined : BigInt(row.min_balance),
    version: BigInt(row.version),
    createdAt: new Date(row.created_at),
    terminatedAt: row.terminated_at === null ? undefined : new Date(row.terminated_at),
  };
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
