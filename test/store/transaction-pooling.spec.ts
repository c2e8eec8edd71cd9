/**
 * The store through PgBouncer in transaction pooling mode
 * (StoreConfig.transactionPooling): no session settings at connect, so every
 * transaction, reads included, carries the store's lock and statement
 * timeouts itself, and an aborted call leaves its statement to end at them.
 * Without PgBouncer these tests skip locally and fail in CI (CI=true).
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, type PostgresLedgerStore, type StoreConfig } from "../../src/store/index.js";
import { IN_CI } from "../support/ci.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import {
  PGBOUNCER_AVAILABLE,
  PGBOUNCER_MISSING,
  type PgBouncer,
  startPgBouncer,
} from "../support/pgbouncer.js";
import { entryInput, openLedger, rejection } from "./store-fixtures.js";

const LOCK_TIMEOUT_MS = 200;
/** Far below the 2 s it would take without the timeouts, far above a slow CI's noise. */
const BOUNDED_MS = 1500;

describe.runIf(!PGBOUNCER_AVAILABLE && IN_CI)("the store through PgBouncer in CI", () => {
  it("has PgBouncer to run through", () => {
    throw new Error(`${PGBOUNCER_MISSING}: CI requires the PgBouncer run`);
  });
});

describe.skipIf(!PGBOUNCER_AVAILABLE)(
  `the store through PgBouncer in transaction mode${PGBOUNCER_AVAILABLE ? "" : ` (skipped: ${PGBOUNCER_MISSING})`}`,
  () => {
    let database: TestDatabase;
    let pgbouncer: PgBouncer;
    const opened: PostgresLedgerStore[] = [];
    const pooledStore = async (config: Omit<StoreConfig, "databaseUrl"> = {}) => {
      const store = await openStore({
        lockTimeoutMs: LOCK_TIMEOUT_MS,
        ...config,
        databaseUrl: pgbouncer.url,
        transactionPooling: true,
      });
      opened.push(store);
      return store;
    };

    beforeAll(async () => {
      database = await createTestDatabase();
      pgbouncer = await startPgBouncer(database.url);
    });

    afterAll(async () => {
      await Promise.all(opened.map((store) => store.close()));
      await pgbouncer?.stop();
      await database?.drop();
    });

    it("is refused at connect without transactionPooling: its session defaults are startup parameters", async () => {
      await rejection(openStore({ databaseUrl: pgbouncer.url }), "STORE_UNAVAILABLE");
    });

    it("bounds a write's lock wait by lockTimeoutMs (CONCURRENCY_CONFLICT)", async () => {
      const store = await pooledStore();
      const ledger = await openLedger(store, 5n);
      const lock = await holdLock(database.url, "select id from ledgers where id = $1 for update", [
        ledger.id,
      ]);
      try {
        const started = Date.now();
        await rejection(
          store.recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -1n)),
          "CONCURRENCY_CONFLICT",
        );
        expect(Date.now() - started).toBeLessThan(BOUNDED_MS);
      } finally {
        await lock.release();
      }
    });

    it("bounds a read's lock wait too: reads run in a transaction that sets the timeouts", async () => {
      const store = await pooledStore();
      const ledger = await openLedger(store);
      const lock = await holdLock(database.url, "lock table ledgers in access exclusive mode");
      try {
        const started = Date.now();
        await rejection(store.getLedger(ledger.id), "CONCURRENCY_CONFLICT");
        expect(Date.now() - started).toBeLessThan(BOUNDED_MS);
      } finally {
        await lock.release();
      }
      expect((await store.getLedger(ledger.id)).id).toBe(ledger.id);
    });

    it("bounds a statement by statementTimeoutMs (STORE_UNAVAILABLE, nothing written)", async () => {
      const store = await pooledStore({ statementTimeoutMs: 300 });
      const ledger = await openLedger(store, 5n);
      await asAdmin(
        database.url,
        `create function slow_entries() returns trigger language plpgsql as
           $$ begin perform pg_sleep(2); return new; end $$;
         create trigger slow_entries before insert on entries
           for each row execute function slow_entries();`,
      );
      try {
        await rejection(
          store.recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -1n)),
          "STORE_UNAVAILABLE",
        );
      } finally {
        await asAdmin(
          database.url,
          "drop trigger slow_entries on entries; drop function slow_entries();",
        );
      }
      expect((await store.getBalance({ ledgerId: ledger.id })).balanceMinor).toBe(5n);
    });

    // pg_cancel_backend would need the backend's pid; through PgBouncer pg only knows the pooler's key.
    it("leaves an aborted call's statement to end at its timeouts, then answers and serves the next call", async () => {
      const store = await pooledStore();
      const ledger = await openLedger(store);
      const lock = await holdLock(database.url, "lock table ledgers in access exclusive mode");
      try {
        const started = Date.now();
        const reading = store.getLedger(ledger.id, { signal: AbortSignal.timeout(50) });
        await expect(reading).rejects.toThrow();
        expect(Date.now() - started).toBeLessThan(BOUNDED_MS);
      } finally {
        await lock.release();
      }
      expect((await store.getLedger(ledger.id)).id).toBe(ledger.id);
    });
  },
);

/** A transaction on a direct connection holding what `sql` locks until released. */
async function holdLock(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query("begin");
  await client.query(sql, params);
  return {
    async release() {
      await client.query("rollback");
      await client.end();
    },
  };
}

async function asAdmin(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
