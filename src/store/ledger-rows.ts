import type { Ledger, LedgerStatus, Metadata } from "../domain/index.js";

/**
 * The one mapping of a ledgers row: the columns hand-written SQL selects
 * (`from ledgers` unaliased), int8 columns as text so no precision is lost
 * whatever the driver's type parsers, and the part of the pending totals
 * that belongs to holds past their deadline at `now` (a bind parameter such
 * as `$2` or `?`): unswept, they reserve nothing. The sums run only for a
 * ledger that holds something, through the index of open legs.
 */
export function ledgerColumns(now: string): string {
  return `id, app, owner_id, unit, description, reference, metadata, status,
  balance::text as balance, min_balance::text as min_balance, version::text as version,
  created_at, terminated_at, history_at, valid_from, valid_until, expire_to_ledger_id,
  pending_debits::text as pending_debits, pending_credits::text as pending_credits,
  case when pending_debits = 0 then '0' else (
    select coalesce(sum(-p.amount), 0)::text from pending_entries p
     where p.ledger_id = ledgers.id and p.open and p.amount < 0 and p.expires_at <= ${now}::timestamptz
  ) end as lapsed_debits,
  case when pending_credits = 0 then '0' else (
    select coalesce(sum(p.amount), 0)::text from pending_entries p
     where p.ledger_id = ledgers.id and p.open and p.amount > 0 and p.expires_at <= ${now}::timestamptz
  ) end as lapsed_credits`;
}

/** A row selected with ledgerColumns. */
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
  readonly history_at: Date | null;
  readonly valid_from: Date | null;
  readonly valid_until: Date | null;
  readonly expire_to_ledger_id: string | null;
  readonly pending_debits: string;
  readonly pending_credits: string;
  readonly lapsed_debits: string;
  readonly lapsed_credits: string;
}

export function ledgerFromSqlRow(row: LedgerSqlRow): Ledger {
  const lapsedDebitsMinor = BigInt(row.lapsed_debits);
  const lapsedCreditsMinor = BigInt(row.lapsed_credits);
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
    terminatedAt: optionalDate(row.terminated_at),
    pendingDebitsMinor: BigInt(row.pending_debits) - lapsedDebitsMinor,
    pendingCreditsMinor: BigInt(row.pending_credits) - lapsedCreditsMinor,
    lapsedDebitsMinor,
    lapsedCreditsMinor,
    historyAt: optionalDate(row.history_at),
    validFrom: optionalDate(row.valid_from),
    validUntil: optionalDate(row.valid_until),
    expireToLedgerId: row.expire_to_ledger_id ?? undefined,
  };
}

function optionalDate(value: Date | null): Date | undefined {
  return value === null ? undefined : new Date(value);
}
