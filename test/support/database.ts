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
