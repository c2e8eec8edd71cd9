/**
 * The raw baseline: the same database work as the service's write and read
 * paths, written by hand with the pg driver. A write (RecordEntry's one
 * entry, or Transfer's debit and credit) is one transaction of the
 * statements the service sends: lock the ledger rows in id order, claim the
 * idempotency key, insert the transaction and its entries and update the
 * balances in one statement, commit; without the RPC layer, the ORM or the
 * service's checks beyond the ledger's status and floor. recordBatch is the
 * batched baseline (raw-batch.ts).
 */
import { createHash, randomUUID } from "node:crypto";
import pg from "pg";
import { v7 as uuidv7 } from "uuid";
import { type LedgerState, type LockedRow, lockedState, recordBatch } from "./raw-batch.js";
import { RAW_APP, type TransferPair } from "./setup.js";

export interface RawClient {
  recordEntry(ledgerId: string, amountMinor: bigint): Promise<void>;
  /** One TRANSFER transaction: the debit of `from`, then the credit of `to`. */
  transfer(pair: TransferPair, amountMinor: bigint): Promise<void>;
  /** One CREDIT_ADD per item (repeats allowed), all in one transaction. */
  recordBatch(ledgerIds: readonly string[], amountMinor: bigint): Promise<void>;
  /** A CREDIT_ADD at `createdAt` in the ledger's history, the later balances recomputed. */
  recordBackdated(ledgerId: string, amountMinor: bigint, createdAt: Date): Promise<void>;
  getBalance(ledgerId: string): Promise<void>;
  close(): Promise<void>;
}

/** One entry of a write: a signed amount on a ledger. */
interface Posting {
  readonly ledgerId: string;
  readonly amountMinor: bigint;
}

/** What one call writes: a transaction of `kind` with an entry per posting, claimed under one key. */
interface Write {
  readonly method: "RecordEntry" | "Transfer";
  readonly kind: "ENTRY" | "TRANSFER";
  readonly operation: string;
  /** The transaction's (positive) amount. */
  readonly amountMinor: bigint;
  readonly postings: readonly Posting[];
}

export function openRawClient(url: string, poolSize: number): RawClient {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // An idle connection's error (PostgreSQL stopping at the end) must not crash the run.
  pool.on("error", () => {});
  return {
    recordEntry: (ledgerId, amountMinor) =>
      inTransaction(pool, (client) =>
        write(client, {
          method: "RecordEntry",
          kind: "ENTRY",
          operation: "CREDIT_ADD",
          amountMinor,
          postings: [{ ledgerId, amountMinor }],
        }),
      ),
    transfer: ({ from, to }, amountMinor) =>
      inTransaction(pool, (client) =>
        write(client, {
          method: "Transfer",
          kind: "TRANSFER",
          operation: "TRANSFER",
          amountMinor,
          postings: [
            { ledgerId: from, amountMinor: -amountMinor },
            { ledgerId: to, amountMinor },
          ],
        }),
      ),
    recordBackdated: (ledgerId, amountMinor, createdAt) =>
      inTransaction(pool, (client) => backdate(client, ledgerId, amountMinor, createdAt)),
    async recordBatch(ledgerIds, amountMinor) {
      await inTransaction(pool, (client) => recordBatch(client, RAW_APP, ledgerIds, amountMinor));
    },
    async getBalance(ledgerId) {
      const { rows } = await pool.query<LockedRow>(
        "select id, balance::text, unit, version::text, status from ledgers where id = $1",
        [ledgerId],
      );
      if (rows[0]?.status !== "ACTIVE") {
        throw new Error(`ledger ${ledgerId} is missing or not active`);
      }
    },
    close: () => pool.end(),
  };
}

/**
 * Lock (every ledger, in id order, one statement), claim the key, then the
 * transaction, its entries and the balances in one statement.
 */
async function write(client: pg.PoolClient, request: Write): Promise<void> {
  const ledgers = await lockLedgers(client, request.postings);
  const entries = request.postings.map((posting) => post(ledgers, posting));
  const transactionId = uuidv7();
  const now = new Date();
  await claimKey(client, request, transactionId, now);
  const touched = [...ledgers];
  const statement = writeStatement(entries.length, touched.length);
  const updated = await client.query(statement, [
    transactionId,
    RAW_APP,
    request.kind,
    request.amountMinor,
    now,
    request.operation,
    ...entries.flatMap((e) => [uuidv7(), e.ledgerId, e.sequence, e.amountMinor, e.balanceAfter]),
    ...touched.flatMap(([id, l]) => [id, l.balance, l.version, l.previousVersion]),
  ]);
  if (updated.rowCount !== touched.length) {
    throw new Error("a ledger changed while locked");
  }
}

/**
 * A backdated credit as the service writes it: lock, claim, the running
 * balance at `createdAt`, then in one statement the later balances moved,
 * the transaction, its entry and the ledger.
 */
async function backdate(
  client: pg.PoolClient,
  ledgerId: string,
  amountMinor: bigint,
  createdAt: Date,
): Promise<void> {
  const posting = { ledgerId, amountMinor };
  const ledger = (await lockLedgers(client, [posting])).get(ledgerId) as LedgerState;
  const transactionId = uuidv7();
  const request = {
    method: "RecordEntry",
    kind: "ENTRY",
    operation: "CREDIT_ADD",
    amountMinor,
    postings: [posting],
  } as const;
  await claimKey(client, request, transactionId, new Date());
  const { rows } = await client.query<{ balance_after: string }>(
    `select balance_after::text from entries where ledger_id = $1 and created_at <= $2
      order by created_at desc, sequence desc limit 1`,
    [ledgerId, createdAt],
  );
  const balanceAfter = BigInt(rows[0]?.balance_after ?? "0") + amountMinor;
  await client.query(
    `with moved as (
       update entries set balance_after = balance_after + $4
        where ledger_id = $2 and created_at > $6
     ), new_transaction as (
       insert into transactions (id, app, kind, amount, reversed_amount, created_at)
       values ($1, $3, 'ENTRY', $4, 0, now())
     ), new_entry as (
       insert into entries (id, transaction_id, ledger_id, sequence, operation, amount, balance_after,
                            occurred_at, created_at)
       values ($7, $1, $2, $5, 'CREDIT_ADD', $4, $8, $6, $6)
     )
     update ledgers set balance = balance + $4, version = $5,
                        history_at = greatest(history_at, $6)
      where id = $2 and version = $5 - 1`,
    [
      transactionId,
      ledgerId,
      RAW_APP,
      amountMinor,
      ledger.version + 1n,
      createdAt,
      uuidv7(),
      balanceAfter,
    ],
  );
}

/** The ledgers of the postings, locked FOR UPDATE in id order; each must exist and be active. */
async function lockLedgers(
  client: pg.PoolClient,
  postings: readonly Posting[],
): Promise<Map<string, LedgerState>> {
  const ids = [...new Set(postings.map((p) => p.ledgerId))];
  const { rows } = await client.query<LockedRow>(lockStatement(ids.length), ids);
  return lockedState(rows, ids.length, ids.join(", "));
}

/** Applies a posting to its locked ledger: the next sequence and balance, within the floor. */
function post(ledgers: ReadonlyMap<string, LedgerState>, posting: Posting) {
  const ledger = ledgers.get(posting.ledgerId) as LedgerState;
  const balance = ledger.balance + posting.amountMinor;
  if (posting.amountMinor < 0n && ledger.minBalance !== undefined && balance < ledger.minBalance) {
    throw new Error(`ledger ${posting.ledgerId} would go below its floor`);
  }
  ledger.balance = balance;
  ledger.version += 1n;
  return { ...posting, sequence: ledger.version, balanceAfter: balance };
}

async function claimKey(
  client: pg.PoolClient,
  request: Write,
  transactionId: string,
  now: Date,
): Promise<void> {
  const hash = createHash("sha256")
    .update(request.postings.map((p) => `${p.ledgerId}:${p.amountMinor}`).join(";"))
    .digest("hex");
  const claimed = await client.query(
    `insert into idempotency_keys (app, key, method, request_hash, resource_id, created_at)
     values ($1, $2, $3, $4, $5, $6)
     on conflict (app, key) do nothing returning app`,
    [RAW_APP, randomUUID(), request.method, hash, transactionId, now],
  );
  if (claimed.rowCount !== 1) {
    throw new Error("idempotency key collision");
  }
}

const statements = new Map<string, string>();

/** A statement's text, built once per shape. */
function memo(key: string, build: () => string): string {
  let text = statements.get(key);
  if (text === undefined) {
    text = build();
    statements.set(key, text);
  }
  return text;
}

/** `$from, ..., $(from + count - 1)`, each with `cast`. */
function params(from: number, count: number, cast = ""): string {
  return Array.from({ length: count }, (_, i) => `$${from + i}${cast}`).join(", ");
}

/** For one ledger the plan of `where id = $1`: `in` of one value is `=`, and the order is moot. */
function lockStatement(ledgers: number): string {
  return memo(
    `lock:${ledgers}`,
    () => `select id, balance::text, version::text, status, min_balance::text
             from ledgers where id in (${params(1, ledgers)}) order by id for update`,
  );
}

/**
 * $1 transaction id, $2 app, $3 kind, $4 amount, $5 now, $6 operation, then
 * per entry (id, ledger, sequence, amount, balance after) and per ledger
 * (id, balance, version, previous version). A one-row VALUES is pulled up
 * into the update: for one ledger the plan of `where id = ... and version = ...`.
 */
function writeStatement(entries: number, ledgers: number): string {
  const entryRow = (i: number) => {
    const p = 7 + i * 5;
    return `($${p}::uuid, $1::uuid, $${p + 1}::uuid, $${p + 2}::bigint, $6, $${p + 3}::bigint, $${p + 4}::bigint, $5, $5)`;
  };
  const ledgerRow = (i: number) => {
    const p = 7 + entries * 5 + i * 4;
    return `($${p}::uuid, ${params(p + 1, 3, "::bigint")})`;
  };
  return memo(
    `write:${entries}:${ledgers}`,
    () => `with new_transaction as (
             insert into transactions (id, app, kind, amount, reversed_amount, reverses_transaction_id, created_at)
             values ($1, $2, $3, $4, 0, null, $5)
           ), new_entries as (
             insert into entries (id, transaction_id, ledger_id, sequence, operation, amount, balance_after,
                                  occurred_at, created_at)
             values ${Array.from({ length: entries }, (_, i) => entryRow(i)).join(", ")}
           )
           update ledgers as l set balance = v.balance, version = v.version,
                                   history_at = greatest(l.history_at, $5)
             from (values ${Array.from({ length: ledgers }, (_, i) => ledgerRow(i)).join(", ")})
                  as v (id, balance, version, previous_version)
            where l.id = v.id and l.version = v.previous_version`,
  );
}

/** BEGIN, `work`, COMMIT on one pooled connection; ROLLBACK when `work` throws. */
async function inTransaction(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<unknown>,
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    await work(client);
    await client.query("commit");
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
