/**
 * A statement that outlasts statement_timeout (here: a real trigger that
 * sleeps) fails as STORE_UNAVAILABLE, retryable with the same key, and leaves
 * nothing behind; it is never an unexplained internal error.
 */
import pg from "pg";
import { describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.js";
import { entryInput, openLedger, rejection, useStore } from "./store-fixtures.js";

const harness = useStore();

async function asAdmin(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describe("statement timeout", () => {
  it("maps a statement cancelled by statement_timeout to STORE_UNAVAILABLE, with no partial write", async () => {
    const store = await openStore({ databaseUrl: harness.databaseUrl(), statementTimeoutMs: 300 });
    try {
      const ledger = await openLedger(store, 5n);
      await asAdmin(
        harness.databaseUrl(),
        `create function slow_entries() returns trigger language plpgsql as
           $$ begin perform pg_sleep(2); return new; end $$;
         create trigger slow_entries before insert on entries
           for each row execute function slow_entries();`,
      );
      const input = entryInput(ledger.id, "CREDIT_SPEND", -1n);
      try {
        await rejection(store.recordEntry(input), "STORE_UNAVAILABLE");
      } finally {
        await asAdmin(
          harness.databaseUrl(),
          "drop trigger slow_entries on entries; drop function slow_entries();",
        );
      }
      const balance = await store.getBalance({ ledgerId: ledger.id });
      expect(balance.balanceMinor).toBe(5n);
      expect(balance.version).toBe(1n);
      const retried = await store.recordEntry(input);
      expect(retried.replayed).toBe(false);
      expect(retried.value.balanceAfterMinor).toBe(4n);
    } finally {
      await store.close();
    }
  });
});
