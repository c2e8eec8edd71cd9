import type { Ledger, LedgerStatus, Metadata } from "../domain/index.js";

/**
 * The columns of a ledgers row as hand-written SQL on a hot path selects
 * them (`from ledgers` unaliased): int8 columns as text, so no precision is
 * lost whatever the driver's type parsers.
 */
export const LEDGER_COLUMNS = `id, app, owner_id, unit, description, reference, metadata, status,
  balance::text as balance, min_balance::text as min_balance, version::text as version,
  created_at, terminated_at`;

/** A row selected with LEDGER_COLUMNS. */
export interface LedgerSqlRow {
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

export function ledgerFromSqlRow(row: LedgerSqlRow): Ledger {
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
