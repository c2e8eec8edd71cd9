import { QueryOrder } from "@mikro-orm/core";
import { type EntityManager, raw } from "@mikro-orm/postgresql";
import {
  type Entry,
  type ListEntriesInput,
  ledgerNotFound,
  type Metadata,
  normalizePageSize,
  type Page,
} from "../../domain/index.js";
import { EntryEntity } from "../entities/index.js";
import { toEntry } from "../mappers.js";
import {
  decodePageToken,
  encodePageToken,
  type HistoryPosition,
  historyPosition,
  historyPositionText,
} from "../page-token.js";
import { sqlRows } from "../pipeline/sql.js";
import { type Asked, askedSql, type Scope, scopeParam, scopeSql } from "../scope.js";

/**
 * A ledger's entries in history order, newest first: by created_at, then
 * sequence; with occurred_at in [occurredAfter, occurredBefore), created_at
 * in [createdAfter, createdBefore), and the reference and external id asked
 * for (when asked). LEDGER_NOT_FOUND, INVALID_ARGUMENT (page_token).
 */
export async function listEntries(
  em: EntityManager,
  input: ListEntriesInput,
  scope: Scope,
): Promise<Page<Entry>> {
  const pageSize = normalizePageSize(input.pageSize);
  const filters = {
    ledger_id: input.ledgerId,
    occurred_after: input.occurredAfter?.toISOString() ?? "",
    occurred_before: input.occurredBefore?.toISOString() ?? "",
    // Only when set: a token issued before these filters existed still continues its listing.
    ...(input.reference === "" ? {} : { reference: input.reference }),
    ...(input.externalTransactionId === ""
      ? {}
      : { external_transaction_id: input.externalTransactionId }),
    ...(input.createdAfter === undefined
      ? {}
      : { created_after: input.createdAfter.toISOString() }),
    ...(input.createdBefore === undefined
      ? {}
      : { created_before: input.createdBefore.toISOString() }),
  };
  const after = decodePageToken(input.pageToken, filters, historyPosition);
  const rows = await em.find(
    EntryEntity,
    {
      $and: [
        { ledgerId: input.ledgerId },
        ...ofLedgerInScope(input.ledgerId, scope),
        ...(await keysetAfter(em, input.ledgerId, after, scope)),
        ...range("occurredAt", input.occurredAfter, input.occurredBefore),
        ...range("createdAt", input.createdAfter, input.createdBefore),
        ...(input.reference === "" ? [] : [{ reference: input.reference }]),
        ...(input.externalTransactionId === ""
          ? []
          : [{ externalTransactionId: input.externalTransactionId }]),
      ],
    },
    {
      orderBy: [{ createdAt: QueryOrder.DESC }, { sequence: QueryOrder.DESC }],
      limit: pageSize + 1,
    },
  );
  if (rows.length === 0) {
    await assertLedgerExists(em, input.ledgerId, scope);
  }
  const items = rows.slice(0, pageSize).map(toEntry);
  const last = items.at(-1);
  return {
    items,
    nextPageToken:
      rows.length > pageSize && last !== undefined
        ? encodePageToken(filters, historyPositionText(last))
        : "",
  };
}

/** [after, before) on one timestamp column, as conditions (none when unbounded). */
function range(
  column: "occurredAt" | "createdAt",
  after: Date | undefined,
  before: Date | undefined,
) {
  return [
    ...(after === undefined ? [] : [{ [column]: { $gte: after } }]),
    ...(before === undefined ? [] : [{ [column]: { $lt: before } }]),
  ];
}

/**
 * The entries after a page's last one in newest-first history order: created
 * earlier, or at the same instant with a lower sequence. A token from before
 * history order names only the sequence: its entry's created_at is read.
 */
async function keysetAfter(
  em: EntityManager,
  ledgerId: string,
  position: HistoryPosition | undefined,
  scope: Scope,
) {
  if (position === undefined) {
    return [];
  }
  const createdAt =
    position.createdAt ??
    (
      await em.findOne(EntryEntity, {
        $and: [{ ledgerId, sequence: position.sequence }, ...ofLedgerInScope(ledgerId, scope)],
      })
    )?.createdAt;
  if (createdAt === undefined) {
    return [{ sequence: { $lt: position.sequence } }];
  }
  return [
    { createdAt: { $lte: createdAt } },
    { $or: [{ createdAt: { $lt: createdAt } }, { sequence: { $lt: position.sequence } }] },
  ];
}

/**
 * An entry has no app: it is its ledger's. The condition that the ledger
 * listed is one `scope` sees, in the statement that reads its entries (an
 * uncorrelated subquery, evaluated once), so entries of another app's
 * ledger are never read.
 */
function ofLedgerInScope(ledgerId: string, scope: Scope) {
  if (scope === undefined) {
    return [];
  }
  const visibleLedger = raw(
    `exists (select 1 from ledgers l where l.id = ?::uuid and ${scopeSql("l.app", "?")})`,
    [ledgerId, scope, scope],
  );
  return [{ [visibleLedger]: [] }];
}

/** Only checked for an empty page: a ledger with entries (in scope) exists. */
async function assertLedgerExists(
  em: EntityManager,
  ledgerId: string,
  scope: Scope,
): Promise<void> {
  const rows = await sqlRows(
    em,
    `select 1 from ledgers where id = $1 and ${scopeSql("app", "$2")}`,
    [ledgerId, scopeParam(scope)],
    undefined,
  );
  if (rows.length === 0) {
    throw ledgerNotFound(ledgerId);
  }
}

interface EntrySqlRow {
  readonly id: string;
  readonly transaction_id: string;
  readonly ledger_id: string;
  readonly sequence: string;
  readonly operation: string;
  readonly amount: string;
  readonly balance_after: string;
  readonly occurred_at: Date;
  readonly created_at: Date;
  readonly description: string;
  readonly reference: string;
  readonly metadata: Metadata;
  readonly external_transaction_id: string;
  readonly reverses_transaction_id: string | null;
}

/**
 * The entries of the transactions asked for, each only under a scope it is
 * visible to, in posting order (v7 ids): what a reversal compensates.
 */
export async function readEntriesOf(
  em: EntityManager,
  transactions: Asked,
  signal: AbortSignal | undefined,
): Promise<Entry[]> {
  if (transactions.ids.length === 0) {
    return [];
  }
  const rows = await sqlRows<EntrySqlRow>(
    em,
    `select e.id, e.transaction_id, e.ledger_id, e.sequence::text as sequence, e.operation,
            e.amount::text as amount, e.balance_after::text as balance_after, e.occurred_at,
            e.created_at, e.description, e.reference, e.metadata, e.external_transaction_id,
            e.reverses_transaction_id
       from entries e join transactions t on t.id = e.transaction_id
      where e.transaction_id = any($1::uuid[]) and ${askedSql("t", "$1", "$2")}
      order by e.id`,
    [transactions.ids, transactions.apps],
    signal,
  );
  return rows.map((row) => ({
    id: row.id,
    transactionId: row.transaction_id,
    ledgerId: row.ledger_id,
    sequence: BigInt(row.sequence),
    operation: row.operation,
    amountMinor: BigInt(row.amount),
    balanceAfterMinor: BigInt(row.balance_after),
    occurredAt: new Date(row.occurred_at),
    createdAt: new Date(row.created_at),
    description: row.description,
    reference: row.reference,
    metadata: row.metadata,
    externalTransactionId: row.external_transaction_id,
    reversesTransactionId: row.reverses_transaction_id ?? undefined,
  }));
}
