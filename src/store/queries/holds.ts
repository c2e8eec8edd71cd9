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

/** The legs of the holds among `transactionIds`, by transaction, in the order they were held. */
export async function readLegs(
  em: EntityManager,
  transactionIds: readonly string[],
  signal: AbortSignal | undefined,
): Promise<Map<string, PendingEntry[]>> {
  const byTransaction = new Map<string, PendingEntry[]>();
  if (transactionIds.length === 0) {
    return byTransaction;
  }
  const rows = await sqlRows<LegRow>(
    em,
    `select transaction_id, ledger_id, operation, amount::text as amount, occurred_at,
            description, reference, metadata
       from pending_entries where transaction_id = any($1::uuid[])
      order by transaction_id, position`,
    [transactionIds],
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

/** The holds still open on each of `ledgerIds` (lapsed ones included): ledger id to hold ids. */
export async function openHoldsOn(
  em: EntityManager,
  ledgerIds: readonly string[],
  signal: AbortSignal | undefined,
): Promise<Map<string, string[]>> {
  const byLedger = new Map<string, string[]>();
  if (ledgerIds.length === 0) {
    return byLedger;
  }
  const rows = await sqlRows<{ ledger_id: string; transaction_id: string }>(
    em,
    `select distinct ledger_id, transaction_id from pending_entries
      where ledger_id = any($1::uuid[]) and open order by ledger_id, transaction_id`,
    [ledgerIds],
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
      where l.id = $1`,
    [input.ledgerId, now, after ?? null, pageSize + 1],
    undefined,
  );
  if (rows.length === 0) {
    throw ledgerNotFound(input.ledgerId);
  }
  const ids = rows.flatMap((row) => (row.transaction_id === null ? [] : [row.transaction_id]));
  const items = await findTransactions(em, ids.slice(0, pageSize));
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
