/**
 * The transfers migration on a database that already holds data written
 * before it: the external id of the oldest of duplicate transactions is kept
 * on its transaction row, and a reversal's entries learn what they reverse.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initOrm } from "../../src/store/orm.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase({ migrated: false });
});
afterAll(async () => {
  await database?.drop();
});

const LEDGER = "0190a000-0000-7000-8000-000000000001";
const FIRST = "0190a000-0000-7000-8000-0000000000a1";
const SECOND = "0190a000-0000-7000-8000-0000000000a2";
const REVERSAL = "0190a000-0000-7000-8000-0000000000a3";

/** Two entries with the same external id and a reversal, as the initial schema allowed. */
const INITIAL_DATA = `
insert into ledgers (id, app, owner_id, unit, status, balance, min_balance, version, created_at)
  values ('${LEDGER}', 'shop', 'u1', 'CREDITS', 'ACTIVE', 15, 0, 3, now());
insert into transactions (id, app, kind, amount, reversed_amount, reverses_transaction_id, created_at)
  values ('${FIRST}', 'shop', 'ENTRY', 10, 5, null, now()),
         ('${SECOND}', 'shop', 'ENTRY', 10, 0, null, now()),
         ('${REVERSAL}', 'shop', 'REVERSAL', 5, 0, '${FIRST}', now());
insert into entries (id, transaction_id, ledger_id, sequence, operation, amount, balance_after,
                     occurred_at, created_at, external_transaction_id)
  values (gen_random_uuid(), '${FIRST}', '${LEDGER}', 1, 'CREDIT_ADD', 10, 10, now(), now(), 'psp-1'),
         (gen_random_uuid(), '${SECOND}', '${LEDGER}', 2, 'CREDIT_ADD', 10, 20, now(), now(), 'psp-1'),
         (gen_random_uuid(), '${REVERSAL}', '${LEDGER}', 3, 'REVERSAL', -5, 15, now(), now(), '');`;

describe("the transfers migration", () => {
  it("keeps the oldest transaction's external id and links reversal entries to their original", async () => {
    const orm = await initOrm(database.url, { poolSizeMax: 1, connectTimeoutMs: 5000 });
    try {
      await orm.migrator.up({ to: "Migration20250601000000_initial" });
      await orm.em.getConnection().execute(INITIAL_DATA);
      await orm.migrator.up();
    } finally {
      await orm.close(true);
    }
    const sql = new pg.Client({ connectionString: database.url });
    await sql.connect();
    try {
      const transactions = await sql.query(
        "select id, external_transaction_id from transactions order by id",
      );
      expect(transactions.rows).toEqual([
        { id: FIRST, external_transaction_id: "psp-1" },
        { id: SECOND, external_transaction_id: "" },
        { id: REVERSAL, external_transaction_id: "" },
      ]);
      const entries = await sql.query(
        "select transaction_id, external_transaction_id, reverses_transaction_id from entries order by sequence",
      );
      expect(entries.rows).toEqual([
        { transaction_id: FIRST, external_transaction_id: "psp-1", reverses_transaction_id: null },
        { transaction_id: SECOND, external_transaction_id: "psp-1", reverses_transaction_id: null },
        { transaction_id: REVERSAL, external_transaction_id: "", reverses_transaction_id: FIRST },
      ]);
      const duplicate = await sql
        .query("update transactions set external_transaction_id = 'psp-1' where id = $1", [SECOND])
        .catch((error: { code?: string }) => error.code);
      expect(duplicate).toBe("23505");
    } finally {
      await sql.end();
    }
  });
});
