/**
 * The raw baseline: the same database work as the service's write and read
 * paths, written by hand with the pg driver. A write is one transaction of
 * the statements the service sends (lock the ledger row, claim the
 * idempotency key, insert the transaction and its entry and update the
 * balance in one statement, commit), without the RPC layer, the ORM or the
 * service's checks. recordBatch is the batched baseline (raw-batch.ts).
 */
import { createHash, randomUUID } from "node:crypto";
import pg from "pg";
import { v7 as uuidv7 } from "uuid";
import { recordBatch } from "./raw-batch.js";
import { RAW_APP } from "./setup.js";

export interface RawClient {
  recordEntry(ledgerId: string, amountMinor: bigint): Promise<void>;
  /** One CREDIT_ADD per item (repeats allowed), all in one transaction. */
  recordBatch(ledgerIds: readonly string[], amountMinor: bigint): Promise<void>;
  getBalance(ledgerId: string): Promise<void>;
  close(): Promise<void>;
}

interface LockedLedger {
  readonly balance: string;
  readonly version: string;
  readonly status: string;
}

export function openRawClient(url: string, poolSize: number): RawClient {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // An idle connection's error (PostgreSQL stopping at the end) must not crash the run.
  pool.on("error", () => {});
  return {
    async recordEntry(ledgerId, amountMinor) {
      await inTransaction(pool, async (client) => {
        const { rows } = await client.query<LockedLedger>(
          "select balance::text, version::text, status from ledgers where id = $1 for update",
          [ledgerId],
        );
        const ledger = rows[0];
        if (ledger === undefined || ledger.status !== "ACTIVE") {
          throw new Error(`ledger ${ledgerId} is missing or not active`);
        }
        const transactionId = uuidv7();
        const key = randomUUID();
        const now = new Date();
        const hash = createHash("sha256").update(`${ledgerId}:${amountMinor}`).digest("hex");
        const claimed = await client.query(
          `insert into idempotency_keys (app, key, method, request_hash, resource_id, created_at)
           values ($1, $2, 'RecordEntry', $3, $4, $5)
           on conflict (app, key) do nothing returning app`,
          [RAW_APP, key, hash, transactionId, now],
        );
        if (claimed.rowCount !== 1) {
          throw new Error("idempotency key collision");
        }
        const version = BigInt(ledger.version) + 1n;
        const balance = BigInt(ledger.balance) + amountMinor;
        const updated = await client.query(
          `with new_transaction as (
             insert into transactions (id, app, kind, amount, reversed_amount, reverses_transaction_id, created_at)
             values ($1, $2, 'ENTRY', $3, 0, null, $4)
           ), new_entry as (
             insert into entries (id, transaction_id, ledger_id, sequence, operation, amount, balance_after,
                                  occurred_at, created_at)
             values ($5, $1, $6, $7, 'CREDIT_ADD', $3, $8, $4, $4)
           )
           update ledgers set balance = $8, version = $7 where id = $6 and version = $9 returning id`,
          [
            transactionId,
            RAW_APP,
            amountMinor,
            now,
            uuidv7(),
            ledgerId,
            version,
            balance,
            ledger.version,
          ],
        );
        if (updated.rowCount !== 1) {
          throw new Error(`ledger ${ledgerId} changed while locked`);
        }
      });
    },
    async recordBatch(ledgerIds, amountMinor) {
      await inTransaction(pool, (client) => recordBatch(client, RAW_APP, ledgerIds, amountMinor));
    },
    async getBalance(ledgerId) {
      const { rows } = await pool.query<LockedLedger>(
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
