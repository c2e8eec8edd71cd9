import type { EntityManager } from "@mikro-orm/postgresql";
import {
  type ListPendingInput,
  ledgerNotFound,
  normalizePageSize,
  type Page,
  type PendingEntry,
  type Transaction,
} from "../../domain/index.js";
import { decodePageToken, encodePageToken, idPosition } from "../page-token.js";
import { sqlRows } from "../pipeline/sql.js";
import { type Asked, askedSql, type Scope, scopeParam, scopeSql } from "../scope.js";
import { findTransactions } from "./transactions.js";

interface LegRow {
  readonly transaction_id: string;
  readonly ledger_id: string;
  readonly operation: string;
  readonly amount: string;
  readonly occurred_at: Date;
  readonly description: string;
  readonly reference: string;
  readonly metadata: Record<string, string>;
}

/**
 * The legs of the holds among the transactions asked for, each only under
 * a scope it is visible to, by transaction, in the order they were held.
 */
export async function readLegs(
  em: EntityManager,
  transactions: Asked,
  signal: AbortSignal | undefined,
): Promise<Map<string, PendingEntry[]>> {
  const byTransaction = new Map<string, PendingEntry[]>();
  if (transactions.ids.length === 0) {
    return byTransaction;
  }
  const rows = await sqlRows<LegRow>(
    em,
    `select p.transaction_id, p.ledger_id, p.operation, p.amount::text as amount, p.occurred_at,
            p.description, p.reference, p.metadata
       from pending_entries p join transactions t on t.id = p.transaction_id
      where p.transaction_id = any($1::uuid[]) and ${askedSql("t", "$1", "$2")}
      order by p.transaction_id, p.position`,
    [transactions.ids, transactions.apps],
    signal,
  );
  for (const row of rows) {
    const legs = byTransaction.get(row.transaction_id) ?? [];
    legs.push({
      ledgerId: row.ledger_id,
      operation: row.operation,
      amountMinor: BigInt(row.amount),
      occurredAt: new Date(row.occurred_at),
      description: row.description,
      reference: row.reference,
      metadata: row.metadata,
    });
    byTransaction.set(row.transaction_id, legs);
  }
  return byTransaction;
}

/**
 * The holds still open (lapsed ones included) on each of the ledgers asked
 * for, each only under a scope it is visible to: ledger id to hold ids.
 */
export async function openHoldsOn(
  em: EntityManager,
  ledgers: Asked,
  signal: AbortSignal | undefined,
): Promise<Map<string, string[]>> {
  const byLedger = new Map<string, string[]>();
  if (ledgers.ids.length === 0) {
    return byLedger;
  }
  const rows = await sqlRows<{ ledger_id: string; transaction_id: string }>(
    em,
    `select distinct p.ledger_id, p.transaction_id
       from pending_entries p join ledgers l on l.id = p.ledger_id
      where p.ledger_id = any($1::uuid[]) and p.open and ${askedSql("l", "$1", "$2")}
      order by p.ledger_id, p.transaction_id`,
    [ledgers.ids, ledgers.apps],
    signal,
  );
  for (const row of rows) {
    byLedger.set(row.ledger_id, [...(byLedger.get(row.ledger_id) ?? []), row.transaction_id]);
  }
  return byLedger;
}

/**
 * The holds open at `now` with a leg on the ledger, oldest (lowest v7 id)
 * first. LEDGER_NOT_FOUND, INVALID_ARGUMENT (page_token).
 */
export async function listPendingTransactions(
  em: EntityManager,
  input: ListPendingInput,
  now: Date,
  scope: Scope,
): Promise<Page<Transaction>> {
  const pageSize = normalizePageSize(input.pageSize);
  const filters = { ledger_id: input.ledgerId, pending: "open" };
  const after = decodePageToken(input.pageToken, filters, idPosition);
  const rows = await sqlRows<{ transaction_id: string | null }>(
    em,
    `select p.transaction_id
       from ledgers l
       left join lateral (
         select distinct transaction_id from pending_entries
          where ledger_id = l.id and open and expires_at > $2::timestamptz
            and ($3::uuid is null or transaction_id > $3::uuid)
          order by transaction_id limit $4
       ) p on true
      where l.id = $1 and ${scopeSql("l.app", "$5")}`,
    [input.ledgerId, now, after ?? null, pageSize + 1, scopeParam(scope)],
    undefined,
  );
  if (rows.length === 0) {
    throw ledgerNotFound(input.ledgerId);
  }
  const ids = rows.flatMap((row) => (row.transaction_id === null ? [] : [row.transaction_id]));
  const items = await findTransactions(em, ids.slice(0, pageSize), scope);
  const last = items.at(-1);
  return {
    items,
    nextPageToken:
      ids.length > pageSize && last !== undefined ? encodePageToken(filters, last.id) : "",
  };
}

/** Up to `limit` holds still PENDING past their deadline at `now`, the longest overdue first. */
export async function dueHoldIds(em: EntityManager, now: Date, limit: number): Promise<string[]> {
  const rows = await sqlRows<{ id: string }>(
    em,
    `select id from transactions
      where state = 'PENDING' and pending_expires_at <= $1::timestamptz
      order by pending_expires_at limit $2`,
    [now, limit],
    undefined,
  );
  return rows.map((row) => row.id);
}
