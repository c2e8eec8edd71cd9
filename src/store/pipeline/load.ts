import { performance } from "node:perf_hooks";
import { LockMode, QueryOrder } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import {
  type Entry,
  type HistoryTail,
  holdAsCreated,
  invariant,
  type Ledger,
  ledgerAsCreated,
  type PendingEntry,
  requestFingerprint,
  type Transaction,
} from "../../domain/index.js";
import { LedgerEntity, TransactionEntity } from "../entities/index.js";
import { type LedgerSqlRow, ledgerColumns, ledgerFromSqlRow } from "../ledger-rows.js";
import { toTransaction } from "../mappers.js";
import { readEntriesOf } from "../queries/entries.js";
import { readHistoryTails } from "../queries/history.js";
import { openHoldsOn, readLegs } from "../queries/holds.js";
import { getLedger } from "../queries/ledgers.js";
import { findTransaction } from "../queries/transactions.js";
import { type Ask, asked, askedSql, askedWhere, inScope, type Scope, visible } from "../scope.js";
import {
  type Command,
  METHODS,
  namedLedgerIds,
  namedTransactionId,
  type StoredKey,
} from "./apply.js";
import { sqlRows } from "./sql.js";
import { BatchState, type CommandResult, ownerKey, scopeKey } from "./state.js";

/** A batch's locked rows as state to apply commands to, and the keys earlier batches stored. */
export interface LoadedBatch {
  readonly state: BatchState;
  storedKey(app: string, key: string): StoredKey | undefined;
}

/**
 * Reads and locks what a batch's commands need, in a fixed order so batches
 * cannot deadlock: the holds open on ledgers a termination voids them on,
 * and the entries and legs of the transactions commands name (immutable, so
 * no lock); then every ledger touched in ascending id order (one statement),
 * then those transactions in id order; then the active ledgers that creates
 * could collide with, and the idempotency keys already stored (one
 * statement), with the stored answer of every key a command would replay.
 * Each row is asked for under the scope of the command that needs it
 * (scope.ts): one no asking scope sees is neither read nor locked.
 */
export async function loadBatch(
  em: EntityManager,
  commands: readonly Command[],
  now: Date,
  signal: AbortSignal | undefined,
  onLocked?: (seconds: number) => void,
): Promise<LoadedBatch> {
  const openHolds = await openHoldsOn(em, asked(voidingTerminations(commands)), signal);
  const originals = await readOriginals(em, commands, openHolds, signal);
  const ledgerAsks = ledgerAsksOf(commands, originals, openHolds);
  const lockStartMs = performance.now();
  const ledgers = await lockLedgers(em, ledgerAsks, now, signal);
  onLocked?.((performance.now() - lockStartMs) / 1000);
  const transactions = await lockOriginals(em, transactionAsksOf(commands, openHolds), originals);
  const activeOwners = await findActiveOwners(em, commands);
  const externalIds = await findExternalIds(em, commands, ledgers, signal);
  const histories = await readHistories(em, commands, ledgers, signal);
  const state = BatchState.of({
    ledgers,
    transactions,
    activeOwners,
    externalIds,
    openHolds,
    histories,
  });
  const stored = await readStoredKeys(em, commands, state, now, signal);
  return { state, storedKey: (app, key) => stored.get(scopeKey(app, key)) };
}

/**
 * The history each backdated entry can reach, read after its ledger is
 * locked: from the earliest instant the batch backdates to on it. Only of
 * a ledger the command's scope sees.
 */
async function readHistories(
  em: EntityManager,
  commands: readonly Command[],
  ledgers: ReadonlyMap<string, Ledger>,
  signal: AbortSignal | undefined,
): Promise<Map<string, HistoryTail>> {
  const since = new Map<string, Date>();
  for (const command of commands) {
    if (
      command.kind === "record" &&
      command.input.createdAt !== undefined &&
      inScope(ledgers.get(command.input.ledgerId), command.scope) !== undefined
    ) {
      const { ledgerId, createdAt } = command.input;
      const earliest = since.get(ledgerId);
      since.set(ledgerId, earliest === undefined || createdAt < earliest ? createdAt : earliest);
    }
  }
  return readHistoryTails(em, since, signal);
}

/** A command that voids the open holds of the ledger it closes: a termination that asks to, an expiry. */
function voidsHolds(
  command: Command,
): command is Extract<Command, { kind: "terminate" | "expire-ledger" }> {
  return (command.kind === "terminate" && command.voidPending) || command.kind === "expire-ledger";
}

/** The ledgers whose open holds a command voids, asked under its scope. */
function voidingTerminations(commands: readonly Command[]): Ask[] {
  return commands.filter(voidsHolds).map((c): Ask => [c.ledgerId, c.scope]);
}

/**
 * The transactions a command needs: the one it names (reversed, posted,
 * voided, expired), or the holds open on the ledger it closes voiding them.
 */
function transactionsOf(
  command: Command,
  openHolds: ReadonlyMap<string, readonly string[]>,
): readonly string[] {
  const named = namedTransactionId(command);
  if (named !== undefined) {
    return [named];
  }
  return voidsHolds(command) ? (openHolds.get(command.ledgerId) ?? []) : [];
}

/** Every transaction the commands need, asked under the scope of the command that needs it. */
function transactionAsksOf(
  commands: readonly Command[],
  openHolds: ReadonlyMap<string, readonly string[]>,
): Ask[] {
  return commands.flatMap((c) => transactionsOf(c, openHolds).map((id): Ask => [id, c.scope]));
}

/** A named transaction's entries (posted) and legs (held). */
interface Original {
  readonly entries: readonly Entry[];
  readonly legs: readonly PendingEntry[];
}

/**
 * What the commands need of the transactions they name: the entries of
 * those reversed, the legs of the holds posted, voided or expired (and of
 * those a termination voids). Only those: a batch of posts reads no entries,
 * one of reversals no legs. Each only under a scope that sees it, so the
 * ledgers of another app's transaction are never locked.
 */
async function readOriginals(
  em: EntityManager,
  commands: readonly Command[],
  openHolds: ReadonlyMap<string, readonly string[]>,
  signal: AbortSignal | undefined,
): Promise<Map<string, Original>> {
  const reversed = transactionAsksOf(
    commands.filter((c) => c.kind === "reverse"),
    openHolds,
  );
  const held = transactionAsksOf(
    commands.filter((c) => c.kind !== "reverse"),
    openHolds,
  );
  const entries = await readEntriesOf(em, asked(reversed), signal);
  const legs = await readLegs(em, asked(held), signal);
  const originals = new Map<string, Original>();
  for (const id of unique([...reversed, ...held].map(([id]) => id))) {
    originals.set(id, {
      entries: entries.filter((entry) => entry.transactionId === id),
      legs: legs.get(id) ?? [],
    });
  }
  return originals;
}

/**
 * The ledgers each command touches, asked under its scope: those it names,
 * and those of the transactions it needs (read under its scope too).
 */
function ledgerAsksOf(
  commands: readonly Command[],
  originals: ReadonlyMap<string, Original>,
  openHolds: ReadonlyMap<string, readonly string[]>,
): Ask[] {
  return commands.flatMap((c) =>
    [
      ...namedLedgerIds(c),
      ...transactionsOf(c, openHolds).flatMap((id) => ledgersOf(originals.get(id))),
    ].map((id): Ask => [id, c.scope]),
  );
}

function ledgersOf(original: Original | undefined): string[] {
  return [
    ...(original?.entries ?? []).map((entry) => entry.ledgerId),
    ...(original?.legs ?? []).map((leg) => leg.ledgerId),
  ];
}

/**
 * Locks ledger rows FOR UPDATE in ascending id order: the one lock order of
 * every write, so writers touching several ledgers cannot deadlock. A row
 * is locked only when asked for under a scope that sees it: the filter is
 * the scan's, below the lock, so another app's ledger is neither locked
 * nor waited on (its lock holder is invisible), and reads as absent.
 */
export async function lockLedgers(
  em: EntityManager,
  asks: Iterable<Ask>,
  now: Date,
  signal: AbortSignal | undefined,
): Promise<Map<string, Ledger>> {
  const { ids, apps } = asked(asks);
  if (ids.length === 0) {
    return new Map();
  }
  const rows = await sqlRows<LedgerSqlRow>(
    em,
    `select ${ledgerColumns("$2")} from ledgers
      where id = any($1::uuid[]) and ${askedSql("ledgers", "$1", "$3")}
      order by id for update`,
    [ids, now, apps],
    signal,
  );
  return new Map(rows.map((row) => [row.id, ledgerFromSqlRow(row)]));
}

/**
 * The named transactions that exist for the scopes asking, locked after
 * their ledgers, so concurrent reversals, posts and voids of one
 * transaction serialise; another app's is neither locked nor waited on.
 */
async function lockOriginals(
  em: EntityManager,
  asks: readonly Ask[],
  originals: ReadonlyMap<string, Original>,
): Promise<Map<string, Transaction>> {
  if (asks.length === 0) {
    return new Map();
  }
  const rows = await em.find(TransactionEntity, askedWhere(asked(asks)), {
    lockMode: LockMode.PESSIMISTIC_WRITE,
    refresh: true,
    orderBy: { id: QueryOrder.ASC },
  });
  return new Map(
    rows.map((row) => {
      const original = originals.get(row.id);
      return [row.id, toTransaction(row, original?.entries ?? [], original?.legs ?? [])];
    }),
  );
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
    c.kind === "create" && visible(c.input.app, c.scope)
      ? [{ app: c.input.app, ownerId: c.input.ownerId, unit: c.input.unit }]
      : [],
  );
  if (owners.length === 0) {
    return new Map();
  }
  const rows = await em.find(LedgerEntity, { status: "ACTIVE", $or: owners });
  return new Map(rows.map((row) => [ownerKey(row.app, row.ownerId, row.unit), row.id]));
}

/** What the batch has read, as a command of a scope sees it (BatchState's lookups). */
interface ScopedLookup {
  ledger(id: string, scope: Scope): Ledger | undefined;
  transaction(id: string, scope: Scope): Transaction | undefined;
}

/**
 * The app of what a command writes; undefined when what it names does not
 * exist for its scope (nothing of another app is looked up for it).
 */
function appOf(command: Command, lookup: ScopedLookup): string | undefined {
  switch (command.kind) {
    case "record":
      return lookup.ledger(command.input.ledgerId, command.scope)?.app;
    case "transfer":
      return lookup.ledger(command.input.fromLedgerId, command.scope)?.app;
    case "reverse":
    case "post":
    case "void":
      return lookup.transaction(command.input.transactionId, command.scope)?.app;
    case "create":
      return visible(command.input.app, command.scope) ? command.input.app : undefined;
    case "terminate":
    case "expire":
    case "expire-ledger":
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
    const app = appOf(command, {
      ledger: (id, scope) => inScope(ledgers.get(id), scope),
      transaction: () => undefined,
    });
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
    const app = appOf(command, state);
    return command.kind === "terminate" ||
      command.kind === "expire" ||
      command.kind === "expire-ledger" ||
      app === undefined
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
  now: Date,
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
        : await storedAnswer(em, replaying.command, row.resource_id, now);
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
 * change; a created ledger, a transfer and a hold are answered as they were
 * made, before later writes (its balance, its reversals, its post) changed
 * them; a post or void, with the transaction it resolved.
 */
async function storedAnswer(
  em: EntityManager,
  command: Command,
  resourceId: string,
  now: Date,
): Promise<CommandResult> {
  if (command.kind === "create") {
    return ledgerAsCreated(await getLedger(em, resourceId, now, undefined));
  }
  // The key's app is the command's, in its scope: what it was stored for is too.
  const transaction = await findTransaction(em, resourceId, undefined);
  invariant(transaction !== undefined, `transaction ${resourceId} of a stored key is missing`);
  switch (command.kind) {
    case "reverse":
      invariant(
        transaction.reversesTransactionId === command.input.transactionId,
        `reversal ${resourceId} of a stored idempotency key does not reverse ${command.input.transactionId}`,
      );
      return transaction;
    case "post":
    case "void":
      invariant(
        transaction.state === (command.kind === "post" ? "POSTED" : "VOIDED"),
        `hold ${resourceId} of a stored ${command.kind} is ${transaction.state}`,
      );
      return { ...transaction, reversedAmountMinor: 0n };
    case "transfer":
      invariant(
        transaction.kind === "TRANSFER" &&
          legLedgers(transaction).join() ===
            [command.input.fromLedgerId, command.input.toLedgerId].join(),
        `transaction ${resourceId} of a stored idempotency key is not the transfer requested`,
      );
      return command.input.hold === undefined
        ? { ...transaction, reversedAmountMinor: 0n }
        : holdAsCreated(transaction);
    case "record":
      return recordedAnswer(transaction, command.input.ledgerId, command.input.hold !== undefined);
    default:
      invariant(false, `a ${command.kind} claims no idempotency key`);
  }
}

/** The ledgers a transaction posts to, or holds on, in posting order. */
function legLedgers(transaction: Transaction): string[] {
  return transaction.hold === undefined
    ? transaction.entries.map((entry) => entry.ledgerId)
    : transaction.hold.entries.map((leg) => leg.ledgerId);
}

function recordedAnswer(transaction: Transaction, ledgerId: string, held: boolean): CommandResult {
  invariant(
    legLedgers(transaction).join() === ledgerId && (transaction.hold !== undefined) === held,
    `transaction ${transaction.id} of a stored idempotency key is not one write on the ledger`,
  );
  const [entry] = transaction.entries;
  if (held) {
    return holdAsCreated(transaction);
  }
  invariant(entry !== undefined, `transaction ${transaction.id} recorded no entry`);
  return entry;
}

function unique(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}
