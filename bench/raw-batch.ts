/**
 * The batched-SQL raw baseline: the work of N RecordEntry calls as one
 * transaction of a fixed number of statements, the shape a group-committing
 * write pipeline would send (issue 9):
 *
 *   1. lock every ledger of the batch, in id order, in one statement;
 *   2. claim the N idempotency keys in one statement;
 *   3. insert the N transactions and N entries and update every touched
 *      ledger's balance and version in one statement;
 *   4. commit.
 *
 * Balances and sequences are computed in memory from the locked rows, in
 * arrival order, so a ledger that appears several times in the batch (the hot
 * ledger) gets consecutive sequences. Values travel as bind-parameter arrays
 * (unnest), so the statement text is the same for every batch.
 */
import { createHash, randomUUID } from "node:crypto";
import type pg from "pg";
import { v7 as uuidv7 } from "uuid";

/** A ledger row as a lock statement reads it; `min_balance` only where the statement selects it. */
export interface LockedRow {
  readonly id: string;
  readonly balance: string;
  readonly version: string;
  readonly status: string;
  readonly min_balance?: string | null;
}

/** A locked ledger as a raw write moves it on. */
export interface LedgerState {
  balance: bigint;
  version: bigint;
  readonly previousVersion: bigint;
  /** undefined: unbounded, or a floor the statement did not read. */
  readonly minBalance: bigint | undefined;
}

const LOCK = `select id, balance::text, version::text, status
                from ledgers where id = any($1::uuid[]) order by id for update`;

const CLAIM = `insert into idempotency_keys (app, key, method, request_hash, resource_id, created_at)
               select $1, k.key, 'RecordEntry', k.hash, k.resource_id, $2
                 from unnest($3::text[], $4::text[], $5::uuid[]) as k (key, hash, resource_id)
               on conflict (app, key) do nothing`;

const WRITE = `with new_transactions as (
                 insert into transactions (id, app, kind, amount, reversed_amount, reverses_transaction_id, created_at)
                 select t.id, $1, 'ENTRY', t.amount, 0, null, $2
                   from unnest($3::uuid[], $4::bigint[]) as t (id, amount)
               ), new_entries as (
                 insert into entries (id, transaction_id, ledger_id, sequence, operation, amount, balance_after,
                                      occurred_at, created_at)
                 select e.id, e.transaction_id, e.ledger_id, e.sequence, 'CREDIT_ADD', e.amount, e.balance_after, $2, $2
                   from unnest($5::uuid[], $3::uuid[], $6::uuid[], $7::bigint[], $4::bigint[], $8::bigint[])
                        as e (id, transaction_id, ledger_id, sequence, amount, balance_after)
               )
               update ledgers as l set balance = v.balance, version = v.version,
                                       history_at = greatest(l.history_at, $2)
                 from unnest($9::uuid[], $10::bigint[], $11::bigint[], $12::bigint[])
                      as v (id, balance, version, previous_version)
                where l.id = v.id and l.version = v.previous_version`;

/** Records one CREDIT_ADD of amountMinor per item of ledgerIds (repeats allowed), as one transaction. */
export async function recordBatch(
  client: pg.PoolClient,
  app: string,
  ledgerIds: readonly string[],
  amountMinor: bigint,
): Promise<void> {
  const distinct = [...new Set(ledgerIds)];
  const { rows } = await client.query<LockedRow>(LOCK, [distinct]);
  const ledgers = lockedState(rows, distinct.length, "the batch");
  const now = new Date();
  const transactionIds = ledgerIds.map(() => uuidv7());
  const keys = ledgerIds.map(() => randomUUID());
  const hashes = ledgerIds.map((id) =>
    createHash("sha256").update(`${id}:${amountMinor}`).digest("hex"),
  );
  const claimed = await client.query(CLAIM, [app, now, keys, hashes, transactionIds]);
  if (claimed.rowCount !== ledgerIds.length) {
    throw new Error("idempotency key collision");
  }
  const sequences: string[] = [];
  const balancesAfter: string[] = [];
  for (const id of ledgerIds) {
    const ledger = ledgers.get(id) as LedgerState;
    ledger.version += 1n;
    ledger.balance += amountMinor;
    sequences.push(ledger.version.toString());
    balancesAfter.push(ledger.balance.toString());
  }
  const touched = [...ledgers];
  const updated = await client.query(WRITE, [
    app,
    now,
    transactionIds,
    ledgerIds.map(() => amountMinor.toString()),
    ledgerIds.map(() => uuidv7()),
    ledgerIds,
    sequences,
    balancesAfter,
    touched.map(([id]) => id),
    touched.map(([, l]) => l.balance.toString()),
    touched.map(([, l]) => l.version.toString()),
    touched.map(([, l]) => l.previousVersion.toString()),
  ]);
  if (updated.rowCount !== touched.length) {
    throw new Error("a ledger changed while locked");
  }
}

/** The locked rows as state, by id; each of the `expected` ledgers of `what` must exist and be active. */
export function lockedState(
  rows: readonly LockedRow[],
  expected: number,
  what: string,
): Map<string, LedgerState> {
  if (rows.length !== expected || rows.some((row) => row.status !== "ACTIVE")) {
    throw new Error(`a ledger of ${what} is missing or not active`);
  }
  return new Map(
    rows.map((row) => [
      row.id,
      {
        balance: BigInt(row.balance),
        version: BigInt(row.version),
        previousVersion: BigInt(row.version),
        minBalance: row.min_balance == null ? undefined : BigInt(row.min_balance),
      },
    ]),
  );
}
