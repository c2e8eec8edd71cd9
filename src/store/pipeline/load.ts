import { LockMode, QueryOrder } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import {
  type Entry,
  invariant,
  type Ledger,
  ledgerAsCreated,
  requestFingerprint,
  type Transaction,
} from "../../domain/index.js";
import { EntryEntity, LedgerEntity, TransactionEntity } from "../entities/index.js";
import { LEDGER_COLUMNS, type LedgerSqlRow, ledgerFromSqlRow } from "../ledger-rows.js";
import { toEntry, toLedger, toTransaction } from "../mappers.js";
import { findTransaction } from "../queries/transactions.js";
import { type Command, METHODS, namedLedgerIds, type StoredKey } from "./apply.js";
import { sqlRows } from "./sql.js";
import { BatchState, type CommandResult, ownerKey, scopeKey } from "./state.js";

/** A batch's locked rows as state to apply commands to, and the keys earlier batches stored. */
export interface LoadedBatch {
  readonly state: BatchState;
  storedKey(app: string, key: string): StoredKey | undefined;
}

/**
 * Reads and locks what a batch's commands need, in a fixed order so batches
 * cannot deadlock: the originals' entries (immutable, so no lock), then
 * every ledger touched in ascending id order (one statement), then the
 * originals in id order; then the active ledgers that creates could collide
 * with, and the idempotency keys already stored (one statement), with the
 * stored answer of every key a command would replay.
 */
export async function loadBatch(
  em: EntityManager,
  commands: readonly Command[],
  signal: AbortSignal | undefined,
): Promise<LoadedBatch> {
  const originals = await readOriginals(em, commands);
  const ledgers = await lockLedgers(em, ledgerIdsOf(commands, originals), signal);
  const transactions = await lockOriginals(em, originals);
  const activeOwners = await findActiveOwners(em, commands);
  const externalIds = await findExternalIds(em, commands, ledgers, signal);
  const state = BatchState.of({ ledgers, transactions, activeOwners, externalIds });
  const stored = await readStoredKeys(em, commands, state, signal);
  return { state, storedKey: (app, key) => stored.get(scopeKey(app, key)) };
}

/** The entries of every transaction a reversal names, by transaction. */
async function readOriginals(
  em: EntityManager,
  commands: readonly Command[],
): Promise<Map<string, Entry[]>> {
  const ids = unique(
    commands.flatMap((c) => (c.kind === "reverse" ? [c.input.transactionId] : [])),
  );
  const byTransaction = new Map<string, Entry[]>();
  if (ids.length === 0) {
    return byTransaction;
  }
  const rows = await em.find(
    EntryEntity,
    { transactionId: { $in: ids } },
    { orderBy: { id: QueryOrder.ASC } },
  );
  for (const row of rows.map(toEntry)) {
    byTransaction.set(row.transactionId, [...(byTransaction.get(row.transactionId) ?? []), row]);
  }
  return byTransaction;
}

function ledgerIdsOf(
  commands: readonly Command[],
  originals: ReadonlyMap<string, readonly { ledgerId: string }[]>,
): string[] {
  const direct = commands.flatMap(namedLedgerIds);
  const reversed = [...originals.values()].flatMap((entries) => entries.map((e) => e.ledgerId));
  return unique([...direct, ...reversed]).sort();
}

/**
 * Locks ledger rows FOR UPDATE in ascending id order: the one lock order of
 * every write, so writers touching several ledgers cannot deadlock.
 */
export async function lockLedgers(
  em: EntityManager,
  ids: readonly string[],
  signal: AbortSignal | undefined,
): Promise<Map<string, Ledger>> {
  if (ids.length === 0) {
    return new Map();
  }
  const rows = await sqlRows<LedgerSqlRow>(
    em,
    `select ${LEDGER_COLUMNS} from ledgers where id = any($1::uuid[]) order by id for update`,
    [ids],
    signal,
  );
  return new Map(rows.map((row) => [row.id, ledgerFromSqlRow(row)]));
}

/** The reversed transactions, locked after their ledgers, so concurrent partial reversals serialise. */
async function lockOriginals(
  em: EntityManager,
  originals: ReadonlyMap<string, Entry[]>,
): Promise<Map<string, Transaction>> {
  if (originals.size === 0) {
    return new Map();
  }
  const rows = await em.find(
    TransactionEntity,
    { id: { $in: [...originals.keys()] } },
    { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true, orderBy: { id: QueryOrder.ASC } },
  );
  invariant(rows.length === originals.size, "a transaction has entries but no row");
  return new Map(rows.map((row) => [row.id, toTransaction(row, originals.get(row.id) ?? [])]));
}

/**
 * The active ledgers creates would collide with. Not locked: a concurrent
 * create of the same owner makes this batch's insert find it, and the batch
 * runs again (write.ts).
 */
async function findActiveOwners(
  em: EntityManager,
  commands: readonly Command[],
): Promise<Map<string, string>> {
  const owners = commands.flatMap((c) =>
    c.kind === "create" ? [{ app: c.input.app, ownerId: c.input.ownerId, unit: c.input.unit }] : [],
  );
  if (owners.length === 0) {
    return new Map();
  }
  const rows = await em.find(LedgerEntity, { status: "ACTIVE", $or: owners });
  return new Map(rows.map((row) => [ownerKey(row.app, row.ownerId, row.unit), row.id]));
}

/** The app of what a command writes; undefined when what it names does not exist. */
function appOf(
  command: Command,
  ledger: (id: string) => Ledger | undefined,
  transaction: (id: string) => Transaction | undefined,
): string | undefined {
  switch (command.kind) {
    case "record":
      return ledger(command.input.ledgerId)?.app;
    case "transfer":
      return ledger(command.input.fromLedgerId)?.app;
    case "reverse":
      return transaction(command.input.transactionId)?.app;
    case "create":
      return command.input.app;
    case "terminate":
      return undefined;
  }
}

/**
 * The transactions that already have an external id a record or transfer
 * names, in the app of its ledger: the unique index makes it one each.
 * Not locked: an insert racing this batch's hits the index, and the batch
 * runs again (write.ts). The WHERE clause lets the planner use that partial
 * index; the join alone (an unnest it cannot size) scans every transaction.
 */
async function findExternalIds(
  em: EntityManager,
  commands: readonly Command[],
  ledgers: ReadonlyMap<string, Ledger>,
  signal: AbortSignal | undefined,
): Promise<Map<string, string>> {
  const named = commands.flatMap((command) => {
    const app = appOf(
      command,
      (id) => ledgers.get(id),
      () => undefined,
    );
    return (command.kind === "record" || command.kind === "transfer") &&
      command.input.externalTransactionId !== "" &&
      app !== undefined
      ? [{ app, externalId: command.input.externalTransactionId }]
      : [];
  });
  if (named.length === 0) {
    return new Map();
  }
  const rows = await sqlRows<{ app: string; external_transaction_id: string; id: string }>(
    em,
    `select t.app, t.external_transaction_id, t.id
       from transactions t
       join unnest($1::text[], $2::text[]) as n (app, external_id)
         on t.app = n.app and t.external_transaction_id = n.external_id
      where t.external_transaction_id <> '' and t.external_transaction_id = any($2::text[])`,
    [named.map((n) => n.app), named.map((n) => n.externalId)],
    signal,
  );
  return new Map(rows.map((row) => [scopeKey(row.app, row.external_transaction_id), row.id]));
}

/** The key each keyed command would claim, scoped to the app of what it writes (unknown: no claim). */
function claimsOf(commands: readonly Command[], state: BatchState) {
  return commands.flatMap((command) => {
    const app = appOf(
      command,
      (id) => state.ledger(id),
      (id) => state.transaction(id),
    );
    return command.kind === "terminate" || app === undefined
      ? []
      : [{ app, key: command.input.idempotencyKey, method: METHODS[command.kind], command }];
  });
}

interface StoredKeyRow {
  readonly app: string;
  readonly key: string;
  readonly method: string;
  readonly request_hash: string;
  readonly resource_id: string;
}

/** One statement for the batch's keys; the answer of a replay is read only for keys that replay. */
async function readStoredKeys(
  em: EntityManager,
  commands: readonly Command[],
  state: BatchState,
  signal: AbortSignal | undefined,
): Promise<Map<string, StoredKey>> {
  const claims = claimsOf(commands, state);
  const stored = new Map<string, StoredKey>();
  if (claims.length === 0) {
    return stored;
  }
  const rows = await sqlRows<StoredKeyRow>(
    em,
    `select k.app, k.key, k.method, k.request_hash, k.resource_id
       from idempotency_keys k
       join unnest($1::text[], $2::text[]) as c (app, key) on k.app = c.app and k.key = c.key`,
    [claims.map((c) => c.app), claims.map((c) => c.key)],
    signal,
  );
  for (const row of rows) {
    const replaying = claims.find(
      (c) =>
        c.app === row.app &&
        c.key === row.key &&
        c.method === row.method &&
        requestFingerprint(c.method, c.command.input) === row.request_hash,
    );
    const result =
      replaying === undefined
        ? undefined
        : await storedAnswer(em, replaying.command, row.resource_id);
    stored.set(scopeKey(row.app, row.key), {
      method: row.method,
      requestHash: row.request_hash,
      result,
    });
  }
  return stored;
}

/**
 * What the write that claimed a key answered: entries and reversals never
 * change; a created ledger and a transfer are answered as they were made,
 * before later writes (its balance, its reversals) changed them.
 */
async function storedAnswer(
  em: EntityManager,
  command: Command,
  resourceId: string,
): Promise<CommandResult> {
  if (command.kind === "create") {
    const row = await em.findOne(LedgerEntity, { id: resourceId });
    invariant(row !== null, `ledger ${resourceId} of a stored idempotency key is missing`);
    return ledgerAsCreated(toLedger(row));
  }
  const transaction = await findTransaction(em, resourceId);
  invariant(transaction !== undefined, `transaction ${resourceId} of a stored key is missing`);
  if (command.kind === "reverse") {
    invariant(
      transaction.reversesTransactionId === command.input.transactionId,
      `reversal ${resourceId} of a stored idempotency key does not reverse ${command.input.transactionId}`,
    );
    return transaction;
  }
  if (command.kind === "transfer") {
    const [debit, credit] = transaction.entries;
    invariant(
      transaction.kind === "TRANSFER" &&
        debit?.ledgerId === command.input.fromLedgerId &&
        credit?.ledgerId === command.input.toLedgerId,
      `transaction ${resourceId} of a stored idempotency key is not the transfer requested`,
    );
    return { ...transaction, reversedAmountMinor: 0n };
  }
  const [entry] = transaction.entries;
  invariant(
    command.kind === "record" &&
      transaction.entries.length === 1 &&
      entry?.ledgerId === command.input.ledgerId,
    `transaction ${resourceId} of a stored idempotency key is not one entry on the ledger`,
  );
  return entry;
}

function unique(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}
