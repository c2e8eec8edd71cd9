/**
 * An unreachable database fails calls fast with STORE_UNAVAILABLE (safe to
 * retry with the same key) instead of hanging: refused connections and a
 * backend killed mid-call. A pool with no free connection is not an outage:
 * it is OVERLOADED (test/server/overload.spec.ts over the wire).
 */
import pg from "pg";
import { describe, expect, it } from "vitest";
import { type LedgerStore, openStore } from "../../src/store/index.js";
import { unreachableDatabaseUrl } from "../support/ports.js";
import { entryInput, openLedger, rejection, useStore } from "./store-fixtures.js";

const harness = useStore();

describe("STORE_UNAVAILABLE", () => {
  it("refuses to open a store on a database that does not answer, within the connect timeout", async () => {
    const databaseUrl = await unreachableDatabaseUrl("ledger");
    const started = Date.now();
    await rejection(openStore({ databaseUrl }), "STORE_UNAVAILABLE");
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("reports a write whose connection the server terminated mid-call, and keeps working on a fresh connection", async () => {
    // One pooled connection: had the broken one not been returned, nothing would work after.
    const store = await openStore({
      databaseUrl: harness.databaseUrl(),
      poolSizeMax: 1,
      lockTimeoutMs: 10_000,
    });
    const ledger = await openLedger(store, 5n);
    const blocker = new pg.Client({ connectionString: harness.databaseUrl() });
    await blocker.connect();
    try {
      await blocker.query("begin");
      await blocker.query("select id from ledgers where id = $1 for update", [ledger.id]);
      const refused = rejection(
        store.recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -1n)),
        "STORE_UNAVAILABLE",
      );
      await waitFor(async () => {
        const { rows } = await blocker.query(
          "select pid from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()",
        );
        return rows.length > 0;
      });
      await blocker.query(
        `select pg_terminate_backend(pid) from pg_stat_activity
          where wait_event_type = 'Lock' and datname = current_database()`,
      );
      await refused;
    } finally {
      await blocker.query("rollback");
      await blocker.end();
    }
    expect((await store.getLedger(ledger.id)).balanceMinor).toBe(5n);
    await store.close();
  });

  /**
   * A store with one connection, held by a spend waiting for a row lock that
   * another session holds; `whileBusy` runs, then the lock is released and
   * the spend must complete.
   */
  async function withBusyPool(
    config: { queueWaitMsMax?: number },
    whileBusy: (store: LedgerStore, ledgerId: string) => Promise<void>,
  ): Promise<void> {
    const store = await openStore({
      databaseUrl: harness.databaseUrl(),
      poolSizeMax: 1,
      lockTimeoutMs: 5000,
      ...config,
    });
    const ledger = await openLedger(store, 5n);
    const blocker = new pg.Client({ connectionString: harness.databaseUrl() });
    await blocker.connect();
    await blocker.query("begin");
    await blocker.query("select id from ledgers where id = $1 for update", [ledger.id]);
    try {
      const stuck = store.recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -1n));
      await new Promise((resolve) => setTimeout(resolve, 100));
      await whileBusy(store, ledger.id);
      await blocker.query("rollback");
      expect((await stuck).value.balanceAfterMinor).toBe(4n);
    } finally {
      await blocker.end();
      await store.close();
    }
  }

  it("fails as OVERLOADED, not STORE_UNAVAILABLE, when every pooled connection stays busy beyond the queue wait", async () => {
    await withBusyPool({ queueWaitMsMax: 300 }, async (store, ledgerId) => {
      const started = Date.now();
      const refused = await rejection(store.getLedger(ledgerId), "OVERLOADED");
      expect(refused.metadata).toEqual({ cause: "queue_wait" });
      expect(Date.now() - started).toBeLessThan(2000);
    });
  });

  it("bounds the wait for a connection by a call's deadline (timeoutMs without a signal) before queueWaitMsMax", async () => {
    await withBusyPool({}, async (store, ledgerId) => {
      const started = Date.now();
      await rejection(store.getLedger(ledgerId, { timeoutMs: 300 }), "OVERLOADED");
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(Date.now() - started).toBeLessThan(3000);
    });
  });

  it("resolves ping() while the database answers, and refuses every call once the store is closed", async () => {
    await expect(harness.store().ping()).resolves.toBeUndefined();
    const store = await openStore({ databaseUrl: harness.databaseUrl() });
    const ledger = await openLedger(store);
    await store.close();
    await rejection(store.ping(), "STORE_UNAVAILABLE");
    await rejection(store.getLedger(ledger.id), "STORE_UNAVAILABLE");
    await rejection(
      store.recordEntry(entryInput(ledger.id, "CREDIT_ADD", 1n)),
      "STORE_UNAVAILABLE",
    );
  });
});

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    if (await condition()) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error("condition not met in time");
}
