import { QueryOrder } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import {
  type Balance,
  type BalanceLookup,
  type Ledger,
  LedgerError,
  type ListLedgersInput,
  ledgerNotFound,
  ledgerTerminated,
  normalizePageSize,
  type Page,
} from "../../domain/index.js";
import { LedgerEntity } from "../entities/index.js";
import { LEDGER_COLUMNS, type LedgerSqlRow, ledgerFromSqlRow } from "../ledger-rows.js";
import { toLedger } from "../mappers.js";
import { decodePageToken, encodePageToken, idPosition } from "../page-token.js";

/** LEDGER_NOT_FOUND. Terminated ledgers included. Hand-written SQL: GetBalance's hot path. */
export async function getLedger(em: EntityManager, ledgerId: string): Promise<Ledger> {
  const [row] = await em.execute<LedgerSqlRow[]>(
    `select ${LEDGER_COLUMNS} from ledgers where id = ?`,
    [ledgerId],
  );
  if (row === undefined) {
    throw ledgerNotFound(ledgerId);
  }
  return ledgerFromSqlRow(row);
}

/** An app's ledgers, optionally one owner's, oldest (lowest v7 id) first. */
export async function listLedgers(
  em: EntityManager,
  input: ListLedgersInput,
): Promise<Page<Ledger>> {
  const pageSize = normalizePageSize(input.pageSize);
  const filters = { app: input.app, owner_id: input.ownerId };
  const after = decodePageToken(input.pageToken, filters, idPosition);
  const rows = await em.find(
    LedgerEntity,
    {
      app: input.app,
      ...(input.ownerId === "" ? {} : { ownerId: input.ownerId }),
      ...(after === undefined ? {} : { id: { $gt: after } }),
    },
    { orderBy: { id: QueryOrder.ASC }, limit: pageSize + 1 },
  );
  const items = rows.slice(0, pageSize).map(toLedger);
  const last = items.at(-1);
  return {
    items,
    nextPageToken:
      rows.length > pageSize && last !== undefined ? encodePageToken(filters, last.id) : "",
  };
}

/**
 * The balance of an active ledger. LEDGER_TERMINATED for a terminated one,
 * or when the key only names terminated ledgers; LEDGER_NOT_FOUND otherwise.
 */
export async function getBalance(em: EntityManager, lookup: BalanceLookup): Promise<Balance> {
  const ledger =
    "ledgerId" in lookup ? await getLedger(em, lookup.ledgerId) : await byKey(em, lookup);
  if (ledger.status === "TERMINATED") {
    throw ledgerTerminated(ledger.id);
  }
  return {
    ledgerId: ledger.id,
    balanceMinor: ledger.balanceMinor,
    unit: ledger.unit,
    version: ledger.version,
  };
}

/**
 * The active ledger of the key (there is at most one), else the latest
 * terminated one: one statement.
 */
async function byKey(
  em: EntityManager,
  key: { readonly app: string; readonly ownerId: string; readonly unit: string },
): Promise<Ledger> {
  const [row] = await em.execute<LedgerSqlRow[]>(
    `select ${LEDGER_COLUMNS}
       from ledgers
      where app = ? and owner_id = ? and unit = ?
      order by status = 'ACTIVE' desc, id desc
      limit 1`,
    [key.app, key.ownerId, key.unit],
  );
  if (row === undefined) {
    throw new LedgerError(
      "LEDGER_NOT_FOUND",
      `app ${key.app} has no ledger for owner ${key.ownerId} in ${key.unit}`,
      { app: key.app, owner_id: key.ownerId, unit: key.unit },
    );
  }
  return ledgerFromSqlRow(row);
}
