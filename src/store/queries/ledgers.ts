import type { EntityManager } from "@mikro-orm/postgresql";
import {
  availableMinor,
  type Balance,
  type BalanceLookup,
  invalidArgument,
  type Ledger,
  LedgerError,
  type ListLedgersInput,
  ledgerNotFound,
  ledgerTerminated,
  normalizePageSize,
  type Page,
} from "../../domain/index.js";
import { type LedgerSqlRow, ledgerColumns, ledgerFromSqlRow } from "../ledger-rows.js";
import { decodePageToken, encodePageToken, idPosition } from "../page-token.js";
import { sqlRows } from "../pipeline/sql.js";
import { type Scope, scopeParam, scopeSql } from "../scope.js";
import { balanceAt, pendingAt } from "./history.js";

/**
 * LEDGER_NOT_FOUND. Terminated ledgers included; holds past their deadline
 * at `now` no longer count as pending. Hand-written SQL: GetBalance's hot path.
 */
export async function getLedger(
  em: EntityManager,
  ledgerId: string,
  now: Date,
  scope: Scope,
): Promise<Ledger> {
  const [row] = await sqlRows<LedgerSqlRow>(
    em,
    `select ${ledgerColumns("$1")} from ledgers where id = $2 and ${scopeSql("app", "$3")}`,
    [now, ledgerId, scopeParam(scope)],
    undefined,
  );
  if (row === undefined) {
    throw ledgerNotFound(ledgerId);
  }
  return ledgerFromSqlRow(row);
}

/** An app's ledgers, optionally one owner's, oldest (lowest v7 id) first; none of another scope. */
export async function listLedgers(
  em: EntityManager,
  input: ListLedgersInput,
  now: Date,
  scope: Scope,
): Promise<Page<Ledger>> {
  const pageSize = normalizePageSize(input.pageSize);
  const filters = { app: input.app, owner_id: input.ownerId };
  const after = decodePageToken(input.pageToken, filters, idPosition);
  const rows = await sqlRows<LedgerSqlRow>(
    em,
    `select ${ledgerColumns("$1")} from ledgers
      where app = $2 and ($3 = '' or owner_id = $3) and ($4::uuid is null or id > $4::uuid)
        and ${scopeSql("app", "$6")}
      order by id limit $5`,
    [now, input.app, input.ownerId, after ?? null, pageSize + 1, scopeParam(scope)],
    undefined,
  );
  const items = rows.slice(0, pageSize).map(ledgerFromSqlRow);
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
 * With asOf, of any ledger at that past instant of its history
 * (INVALID_ARGUMENT in the future).
 */
export async function getBalance(
  em: EntityManager,
  lookup: BalanceLookup,
  now: Date,
  scope: Scope,
): Promise<Balance> {
  const ledger =
    "ledgerId" in lookup
      ? await getLedger(em, lookup.ledgerId, now, scope)
      : await byKey(em, lookup, now, scope);
  if (lookup.asOf !== undefined) {
    return balanceAsOf(em, ledger, lookup.asOf, now);
  }
  if (ledger.status === "TERMINATED") {
    throw ledgerTerminated(ledger.id);
  }
  return {
    ledgerId: ledger.id,
    balanceMinor: ledger.balanceMinor,
    unit: ledger.unit,
    version: ledger.version,
    pendingDebitsMinor: ledger.pendingDebitsMinor,
    pendingCreditsMinor: ledger.pendingCreditsMinor,
    availableMinor: availableMinor(ledger),
  };
}

/**
 * Active ledgers past their valid_until at `now`, the soonest due first,
 * with where their remainder goes.
 */
export async function dueLedgers(
  em: EntityManager,
  now: Date,
  limit: number,
): Promise<{ ledgerId: string; expireToLedgerId: string }[]> {
  const rows = await sqlRows<{ id: string; expire_to_ledger_id: string }>(
    em,
    `select id, expire_to_ledger_id from ledgers
      where status = 'ACTIVE' and valid_until is not null and valid_until <= $1::timestamptz
      order by valid_until limit $2`,
    [now, limit],
    undefined,
  );
  return rows.map((row) => ({ ledgerId: row.id, expireToLedgerId: row.expire_to_ledger_id }));
}

/**
 * A ledger's balance at `asOf` in history order, and what the holds open
 * then reserved; version is the sequence of the entry that set it (0: none).
 */
async function balanceAsOf(
  em: EntityManager,
  ledger: Ledger,
  asOf: Date,
  now: Date,
): Promise<Balance> {
  if (asOf.getTime() > now.getTime()) {
    throw invalidArgument("as_of", "must not be in the future");
  }
  const at = await balanceAt(em, ledger.id, asOf, undefined);
  const pending = await pendingAt(em, ledger.id, asOf, undefined);
  const balanceMinor = at?.balanceMinor ?? 0n;
  return {
    ledgerId: ledger.id,
    balanceMinor,
    unit: ledger.unit,
    version: at?.sequence ?? 0n,
    pendingDebitsMinor: pending.debitsMinor,
    pendingCreditsMinor: pending.creditsMinor,
    availableMinor: balanceMinor - pending.debitsMinor,
  };
}

/**
 * The active ledger of the key (there is at most one), else the latest
 * terminated one: one statement.
 */
async function byKey(
  em: EntityManager,
  key: { readonly app: string; readonly ownerId: string; readonly unit: string },
  now: Date,
  scope: Scope,
): Promise<Ledger> {
  const [row] = await sqlRows<LedgerSqlRow>(
    em,
    `select ${ledgerColumns("$1")}
       from ledgers
      where app = $2 and owner_id = $3 and unit = $4 and ${scopeSql("app", "$5")}
      order by status = 'ACTIVE' desc, id desc
      limit 1`,
    [now, key.app, key.ownerId, key.unit, scopeParam(scope)],
    undefined,
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
