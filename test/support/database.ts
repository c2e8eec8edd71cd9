/**
 * A fresh, migrated database per spec file on the server that
 * test/global-setup.ts provides, so spec files run in parallel in isolation.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { migrate } from "../../src/store/index.js";

export interface TestDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

/** `migrated: false`: an empty database, for a spec that runs the migrations itself. */
export async function createTestDatabase({ migrated = true } = {}): Promise<TestDatabase> {
  const adminUrl = inject("adminDatabaseUrl");
  const name = `ledger_test_${randomBytes(6).toString("hex")}`;
  await asAdmin(adminUrl, `create database ${name}`);
  const url = withDatabase(adminUrl, name);
  if (migrated) {
    await migrate(url);
  }
  return {
    url,
    drop: () => asAdmin(adminUrl, `drop database if exists ${name} with (force)`),
  };
}

async function asAdmin(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/**
 * `count` credits of 1 stored straight into a ledger's tables, 1 ms apart
 * from `from` on, as its whole history (balance, version and history_at set
 * to match): a long history without a call per entry.
 */
export async function insertEntries(
  databaseUrl: string,
  ledgerId: string,
  count: number,
  from: Date,
): Promise<void> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await db.query("begin");
    const { rows } = await db.query<{ app: string }>(
      "select app from ledgers where id = $1 for update",
      [ledgerId],
    );
    await db.query(
      `with t as (
         insert into transactions (id, app, kind, amount, reversed_amount, external_transaction_id, created_at)
         select gen_random_uuid(), $2, 'ENTRY', 1, 0, '', $3::timestamptz + n * interval '1 millisecond'
           from generate_series(1, $4::int) n
         returning id, created_at
       )
       insert into entries (id, transaction_id, ledger_id, sequence, operation, amount, balance_after,
                            occurred_at, created_at)
       select gen_random_uuid(), t.id, $1, row_number() over (order by t.created_at),
              'CREDIT_ADD', 1, row_number() over (order by t.created_at), t.created_at, t.created_at
         from t`,
      [ledgerId, rows[0]?.app, from, count],
    );
    await db.query(
      `update ledgers set balance = $2, version = $2,
              history_at = (select max(created_at) from entries where ledger_id = $1)
        where id = $1`,
      [ledgerId, count],
    );
    await db.query("commit");
  } finally {
    await db.end();
  }
}
