import type { EntityManager } from "@mikro-orm/postgresql";
import {
  invalidArgument,
  ledgerNotFound,
  type StreamEvent,
  type StreamPage,
  type StreamScope,
  type Transaction,
  type TransactionState,
} from "../../domain/index.js";
import { EntryEntity } from "../entities/index.js";
import { toEntry } from "../mappers.js";
import { sqlRows } from "../pipeline/sql.js";
import { type Scope, scopeParam, scopeSql } from "../scope.js";
import { findTransactions } from "./transactions.js";

/**
 * The stream's order. Every entry and every step of a hold has a position
 * from ledger_stream_seq, drawn by the write statement after its
 * transaction locked its ledgers (pipeline/write.ts): a ledger's positions
 * grow with its commits. Positions are not committed in order, though: a
 * writer may hold position 7 uncommitted while 8 is visible. A position is
 * final once no transaction that could still commit it is running, which
 * the horizon below tells from transaction snapshots; a stream reads only
 * up to it, so a cursor (a position) never skips one committed later.
 */

/** The sequence's latest position handed out (0 before the first). */
export async function lastStreamPosition(em: EntityManager): Promise<bigint> {
  const [row] = await sqlRows<{ last_value: string; is_called: boolean }>(
    em,
    "select last_value::text as last_value, is_called from ledger_stream_seq",
    [],
    undefined,
  );
  return row?.is_called === true ? BigInt(row.last_value) : 0n;
}

/**
 * The transaction ids of this database's writers running now (other than
 * this session), as text: those whose sessions this role may see.
 */
export async function runningWriters(em: EntityManager): Promise<string[]> {
  const [row] = await sqlRows<{ running: string[] }>(
    em,
    `select coalesce(array_agg(backend_xid::text), '{}') as running from pg_stat_activity
      where datname = current_database() and backend_xid is not null and pid <> pg_backend_pid()`,
    [],
    undefined,
  );
  return row?.running ?? [];
}

/** Those of `writers` still running. */
async function stillRunning(em: EntityManager, writers: readonly string[]): Promise<string[]> {
  const [row] = await sqlRows<{ running: string[] }>(
    em,
    `select coalesce(array_agg(backend_xid::text), '{}') as running from pg_stat_activity
      where backend_xid::text = any($1::text[])`,
    [writers],
    undefined,
  );
  return row?.running ?? [];
}

interface EventRow {
  readonly kind: "entry" | "created" | "resolved";
  /** bigint, as the driver returns it: a decimal string. */
  readonly position: string;
  readonly id: string;
}

/**
 * The events of a stream in (after, upTo] by position, `limit` at most:
 * entries, then the steps of holds (created, resolved), each found through
 * its position index. $1 names the stream: a ledger (its entries, and the
 * holds with a leg on it) or an app (its ledgers' entries and its holds).
 */
function eventsSql(owner: "ledger" | "app"): string {
  const entries =
    owner === "ledger"
      ? "select 'entry' as kind, stream_position as position, id from entries where ledger_id = $1"
      : `select 'entry' as kind, e.stream_position as position, e.id from entries e
           join ledgers l on l.id = e.ledger_id where l.app = $1`;
  const holds =
    owner === "ledger"
      ? "id in (select transaction_id from pending_entries where ledger_id = $1)"
      : "app = $1";
  const range = (column: string) => `${column} > $2 and ${column} <= $3`;
  return `
(${entries} and ${range(owner === "ledger" ? "stream_position" : "e.stream_position")})
union all
(select 'created', created_position, id from transactions
  where ${range("created_position")} and ${holds})
union all
(select 'resolved', resolved_position, id from transactions
  where ${range("resolved_position")} and ${holds})
order by position limit $4`;
}

const LEDGER_EVENTS = eventsSql("ledger");
const APP_EVENTS = eventsSql("app");

/** One page of a stream: at most `limit` events in (after, upTo]. LEDGER_NOT_FOUND. */
export async function streamPage(
  em: EntityManager,
  stream: StreamScope,
  after: bigint,
  upTo: bigint,
  limit: number,
  scope: Scope,
): Promise<StreamPage> {
  const terminated = "ledgerId" in stream && (await ledgerStatus(em, stream.ledgerId, scope));
  const rows = await sqlRows<EventRow>(
    em,
    "ledgerId" in stream ? LEDGER_EVENTS : APP_EVENTS,
    ["ledgerId" in stream ? stream.ledgerId : stream.app, after, upTo, limit],
    undefined,
  );
  return { events: await readEvents(em, rows), terminated };
}

/** Whether the ledger is TERMINATED; LEDGER_NOT_FOUND when `scope` does not see it. */
async function ledgerStatus(em: EntityManager, ledgerId: string, scope: Scope): Promise<boolean> {
  const [ledger] = await sqlRows<{ status: string }>(
    em,
    `select status from ledgers where id = $1 and ${scopeSql("app", "$2")}`,
    [ledgerId, scopeParam(scope)],
    undefined,
  );
  if (ledger === undefined) {
    throw ledgerNotFound(ledgerId);
  }
  return ledger.status === "TERMINATED";
}

async function readEvents(em: EntityManager, rows: readonly EventRow[]): Promise<StreamEvent[]> {
  const entryIds = rows.filter((row) => row.kind === "entry").map((row) => row.id);
  const holdIds = [...new Set(rows.filter((row) => row.kind !== "entry").map((row) => row.id))];
  const entries = new Map(
    entryIds.length === 0
      ? []
      : (await em.find(EntryEntity, { id: { $in: entryIds } })).map((row) => [row.id, row]),
  );
  const holds = new Map(
    (await findTransactions(em, holdIds, undefined)).map((hold) => [hold.id, hold]),
  );
  return rows.map((row): StreamEvent => {
    const position = BigInt(String(row.position));
    if (row.kind === "entry") {
      return { position, kind: "entry", entry: toEntry(found(entries.get(row.id), row)) };
    }
    const hold = found(holds.get(row.id), row);
    return { position, kind: "hold", step: stepOf(row.kind, hold), hold };
  });
}

function stepOf(kind: "created" | "resolved", hold: Transaction): TransactionState {
  return kind === "created" ? "PENDING" : hold.state;
}

function found<T>(value: T | undefined, row: EventRow): T {
  if (value === undefined) {
    throw new Error(`the stream's ${row.kind} ${row.id} vanished between two reads`);
  }
  return value;
}

/**
 * The position of a ledger's entry at `sequence`; 0 for sequence 0.
 * LEDGER_NOT_FOUND; INVALID_ARGUMENT (after_sequence) beyond its latest entry.
 */
export async function streamPositionOf(
  em: EntityManager,
  ledgerId: string,
  sequence: bigint,
  scope: Scope,
): Promise<bigint> {
  const [row] = await sqlRows<{ version: string; position: string | null }>(
    em,
    `select l.version::text as version,
            (select e.stream_position::text from entries e
              where e.ledger_id = l.id and e.sequence = $2) as position
       from ledgers l where l.id = $1 and ${scopeSql("l.app", "$3")}`,
    [ledgerId, sequence, scopeParam(scope)],
    undefined,
  );
  if (row === undefined) {
    throw ledgerNotFound(ledgerId);
  }
  if (sequence > BigInt(row.version)) {
    throw invalidArgument(
      "after_sequence",
      `is ${sequence}, beyond the ledger's latest entry (sequence ${row.version})`,
    );
  }
  return row.position === null ? 0n : BigInt(row.position);
}

/** How long streamHorizon waits for the writes in progress to end, at most. */
export const HORIZON_WAIT_MS = 2000;
const HORIZON_POLL_MS = [2, 5, 10, 20, 50, 100] as const;

/**
 * The highest final position, or `previous` when the writes in progress
 * outlast HORIZON_WAIT_MS (a long lock wait). The sequence is read first,
 * then the writers running in this database: one that drew a position up
 * to it had its transaction id by then (it locked its ledgers first), so it
 * is among them unless it has ended. Once each of them has ended
 * (committed, visible to any later statement, or rolled back), every
 * position up to it is final. Only this database's writers count: a long
 * transaction elsewhere on the server holds nothing up. Each call of `read`
 * must run on a statement of its own (a snapshot of its own).
 */
export async function streamHorizon(
  read: <T>(work: (em: EntityManager) => Promise<T>) => Promise<T>,
  previous: bigint,
  signal: AbortSignal | undefined,
): Promise<bigint> {
  const last = await read(lastStreamPosition);
  let writers = await read(runningWriters);
  const started = Date.now();
  for (let attempt = 0; writers.length > 0; attempt += 1) {
    if (Date.now() - started > HORIZON_WAIT_MS || signal?.aborted) {
      return previous;
    }
    const pauseMs = HORIZON_POLL_MS[Math.min(attempt, HORIZON_POLL_MS.length - 1)];
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    const waitingFor = writers;
    writers = await read((em) => stillRunning(em, waitingFor));
  }
  return last > previous ? last : previous;
}
