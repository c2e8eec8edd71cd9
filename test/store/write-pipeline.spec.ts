/**
 * The write pipeline's group commit, on real PostgreSQL: concurrent calls
 * share one transaction, and each still gets the answer a serial execution
 * would give it. To make a batch deterministic, a store with one batch in
 * flight at a time is kept busy by a write stuck on a row lock held from
 * outside; the calls under test queue meanwhile and run as the next batch.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Entry, type ItemResult, LedgerError } from "../../src/domain/index.js";
import {
  openStore,
  type PostgresLedgerStore,
  type WriteBatchReport,
} from "../../src/store/index.js";
import { BATCH_STALL_MS } from "../../src/store/pipeline/group-commit.js";
import { createInput, entryInput, openLedger, uniqueKey, useStore } from "./store-fixtures.js";

const harness = useStore();
const batches: WriteBatchReport[] = [];
let store: PostgresLedgerStore;

beforeAll(async () => {
  store = await openStore({
    databaseUrl: harness.databaseUrl(),
    writeBatchesMax: 1,
    onWriteBatch: (batch) => batches.push(batch),
  });
});
afterAll(async () => {
  await store?.close();
});

/**
 * Runs `calls` as one batch: a write to a ledger whose row is locked from
 * outside holds the store's one batch slot until the lock is released, by
 * which time every call has queued. Returns their settled results and the
 * report of the batch that ran them.
 */
async function asOneBatch<T>(calls: ReadonlyArray<() => Promise<T>>) {
  const blocker = await openLedger(store, 1n);
  const client = new pg.Client({ connectionString: harness.databaseUrl() });
  await client.connect();
  await client.query("begin");
  await client.query("select id from ledgers where id = $1 for update", [blocker.id]);
  const stuck = store.recordEntry(entryInput(blocker.id, "CREDIT_ADD", 1n));
  await new Promise((resolve) => setTimeout(resolve, 100));
  const settled = Promise.allSettled(calls.map((call) => call()));
  await new Promise((resolve) => setTimeout(resolve, 100));
  batches.length = 0;
  await client.query("rollback");
  await client.end();
  await stuck;
  const results = await settled;
  const report = batches.find((batch) => batch.calls === calls.length);
  expect(
    report,
    `one batch ran all ${calls.length} calls: ${JSON.stringify(batches)}`,
  ).toBeDefined();
  return { results, report };
}

function reasonOf(result: PromiseSettledResult<unknown>): string {
  if (result.status === "fulfilled") {
    return "OK";
  }
  return result.reason instanceof LedgerError ? result.reason.reason : String(result.reason);
}

describe("group commit", () => {
  it("serves concurrent calls on many ledgers in one transaction, each with its own entry", async () => {
    const ledgers = await Promise.all(Array.from({ length: 20 }, () => openLedger(store, 5n)));
    const { results, report } = await asOneBatch(
      ledgers.map((ledger) => () => store.recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -2n))),
    );
    expect(results.map(reasonOf)).toEqual(ledgers.map(() => "OK"));
    expect(report).toMatchObject({ calls: 20, commands: 20, transactions: 1 });
    for (const ledger of ledgers) {
      expect(await store.getBalance({ ledgerId: ledger.id })).toMatchObject({
        balanceMinor: 3n,
        version: 2n,
      });
    }
    expect(await store.verifyInvariants()).toEqual([]);
  });

  it("applies calls on one ledger in arrival order, a refused one failing alone with its key left free", async () => {
    const ledger = await openLedger(store, 3n);
    const refusedKey = uniqueKey();
    const amounts = [-2n, -2n, 5n, -4n];
    const { results } = await asOneBatch(
      amounts.map(
        (amount, index) => () =>
          store.recordEntry(
            entryInput(ledger.id, amount < 0n ? "CREDIT_SPEND" : "CREDIT_ADD", amount, {
              ...(index === 1 ? { idempotencyKey: refusedKey } : {}),
            }),
          ),
      ),
    );
    // 3 - 2 = 1; -2 refused (floor 0); +5 = 6; -4 = 2.
    expect(results.map(reasonOf)).toEqual(["OK", "INSUFFICIENT_FUNDS", "OK", "OK"]);
    const balances = results.map((r) =>
      r.status === "fulfilled" ? (r.value as { value: Entry }).value.balanceAfterMinor : undefined,
    );
    expect(balances).toEqual([1n, undefined, 6n, 2n]);
    const retried = await store.recordEntry(
      entryInput(ledger.id, "CREDIT_SPEND", -2n, { idempotencyKey: refusedKey }),
    );
    expect(retried).toMatchObject({ replayed: false, value: { balanceAfterMinor: 0n } });
    expect(await store.verifyInvariants()).toEqual([]);
  });

  it("answers a key used twice in one batch as a serial order would: one effect and a replay, or a reuse", async () => {
    const ledger = await openLedger(store, 0n);
    const key = uniqueKey();
    const same = entryInput(ledger.id, "CREDIT_ADD", 3n, { idempotencyKey: key });
    const other = entryInput(ledger.id, "CREDIT_ADD", 4n, { idempotencyKey: key });
    const { results } = await asOneBatch([
      () => store.recordEntry(same),
      () => store.recordEntry(same),
      () => store.recordEntry(other),
    ]);
    expect(results.map(reasonOf)).toEqual(["OK", "OK", "IDEMPOTENCY_KEY_REUSED"]);
    const [first, second] = results.map((r) =>
      r.status === "fulfilled" ? (r.value as { value: Entry; replayed: boolean }) : undefined,
    );
    expect(first?.replayed).toBe(false);
    expect(second).toEqual({ value: first?.value, replayed: true });
    expect(await store.getBalance({ ledgerId: ledger.id })).toMatchObject({
      balanceMinor: 3n,
      version: 1n,
    });
  });

  it("rolls an atomic call back alone: its items fail with the index, later calls see none of it", async () => {
    const ledger = await openLedger(store, 5n);
    const key = uniqueKey();
    const { results } = await asOneBatch<unknown>([
      () =>
        store.recordEntries({
          atomic: true,
          entries: [
            entryInput(ledger.id, "CREDIT_SPEND", -1n, { idempotencyKey: key }),
            entryInput(ledger.id, "CREDIT_SPEND", -9n),
          ],
        }),
      // The same key after the atomic call: free again, so a new effect.
      () => store.recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -1n, { idempotencyKey: key })),
      () =>
        store.recordEntries({
          atomic: false,
          entries: [
            entryInput(ledger.id, "CREDIT_SPEND", -9n),
            entryInput(ledger.id, "CREDIT_SPEND", -1n),
          ],
        }),
    ]);
    expect(results.map(reasonOf)).toEqual(["INSUFFICIENT_FUNDS", "OK", "OK"]);
    const atomic = results[0];
    expect(atomic?.status === "rejected" && atomic.reason).toMatchObject({
      metadata: { index: "1", ledger_id: ledger.id },
      message: expect.stringMatching(/^entries\[1\]: /),
    });
    const single = results[1];
    expect(single?.status === "fulfilled" && single.value).toMatchObject({
      replayed: false,
      value: { balanceAfterMinor: 4n, sequence: 2n },
    });
    const bulk = results[2];
    const items = (bulk?.status === "fulfilled" ? bulk.value : []) as ItemResult<Entry>[];
    expect(
      items.map((item) => (item.ok ? item.value.balanceAfterMinor : item.error.reason)),
    ).toEqual(["INSUFFICIENT_FUNDS", 3n]);
    expect(await store.verifyInvariants()).toEqual([]);
  });

  it("keeps a call behind a blocked call on its ledger, and still serves the others (no empty batches)", async () => {
    // A holds a batch slot on a locked row; the bulk call on A and B waits
    // for A; the call on B waits behind it (arrival order per ledger); the
    // call on C runs at once. Once a pump started batches that took nothing
    // here, it spun without yielding and starved the process.
    const wide = harness.store(); // two batches in flight, the default
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => openLedger(wide, 1n)));
    if (a === undefined || b === undefined || c === undefined) throw new Error("no ledgers");
    const client = new pg.Client({ connectionString: harness.databaseUrl() });
    await client.connect();
    await client.query("begin");
    await client.query("select id from ledgers where id = $1 for update", [a.id]);
    try {
      const stuck = wide.recordEntry(entryInput(a.id, "CREDIT_ADD", 1n));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const bulk = wide.recordEntries({
        atomic: false,
        entries: [entryInput(a.id, "CREDIT_ADD", 1n), entryInput(b.id, "CREDIT_ADD", 1n)],
      });
      const behind = wide.recordEntry(entryInput(b.id, "CREDIT_SPEND", -2n));
      const free = await wide.recordEntry(entryInput(c.id, "CREDIT_ADD", 1n));
      expect(free.value.balanceAfterMinor).toBe(2n);
      await client.query("rollback");
      await stuck;
      expect((await bulk).map((item) => item.ok)).toEqual([true, true]);
      // After the bulk item credited B: 1 + 1 - 2 = 0, not refused.
      expect((await behind).value.balanceAfterMinor).toBe(0n);
    } finally {
      await client.end();
    }
  });

  it("starts a batch beside one stalled past BATCH_STALL_MS, so other ledgers are written meanwhile", async () => {
    const [locked, other] = await Promise.all([openLedger(store, 1n), openLedger(store, 1n)]);
    const client = new pg.Client({ connectionString: harness.databaseUrl() });
    await client.connect();
    await client.query("begin");
    await client.query("select id from ledgers where id = $1 for update", [locked.id]);
    try {
      const stuck = store.recordEntry(entryInput(locked.id, "CREDIT_ADD", 1n));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const started = Date.now();
      // The store's one batch slot is held by the stuck write (writeBatchesMax 1).
      const free = await store.recordEntry(entryInput(other.id, "CREDIT_ADD", 1n));
      expect(free.value.balanceAfterMinor).toBe(2n);
      expect(Date.now() - started).toBeGreaterThanOrEqual(BATCH_STALL_MS - 200);
      await client.query("rollback");
      expect((await stuck).value.balanceAfterMinor).toBe(2n);
    } finally {
      await client.end();
    }
  });

  it("splits a batch that a database error hits, so only the call that causes it fails", async () => {
    const ledgers = await Promise.all(Array.from({ length: 8 }, () => openLedger(store, 0n)));
    const client = new pg.Client({ connectionString: harness.databaseUrl() });
    await client.connect();
    await client.query(`
      create or replace function refuse_marked_entry() returns trigger language plpgsql as $$
      begin raise exception 'marked entry refused' using errcode = 'P0001'; end $$`);
    await client.query(`
      create trigger refuse_marked_entry before insert on entries for each row
        when (new.description = 'refuse me') execute function refuse_marked_entry()`);
    try {
      const { results, report } = await asOneBatch(
        ledgers.map(
          (ledger, index) => () =>
            store.recordEntry(
              entryInput(ledger.id, "CREDIT_ADD", 1n, {
                description: index === 5 ? "refuse me" : "",
              }),
            ),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(
        ledgers.map((_, i) => (i === 5 ? "rejected" : "fulfilled")),
      );
      expect(String((results[5] as PromiseRejectedResult).reason)).toContain(
        "marked entry refused",
      );
      // 1 batch, then halves [0-3] and [4-7], then [4-5] and [6-7], then [4] and [5].
      expect(report?.transactions).toBe(7);
      const versions = await Promise.all(ledgers.map((l) => store.getLedger(l.id)));
      expect(versions.map((l) => l.version)).toEqual(ledgers.map((_, i) => (i === 5 ? 0n : 1n)));
    } finally {
      await client.query("drop trigger refuse_marked_entry on entries");
      await client.end();
    }
  });
});

describe("a store that queues no calls (queuedCallsMax 0)", () => {
  it("still writes when a batch slot is free, and refuses a write that would wait", async () => {
    const strict = await openStore({ databaseUrl: harness.databaseUrl(), queuedCallsMax: 0 });
    try {
      const ledger = await openLedger(strict, 2n);
      const written = await strict.recordEntry(entryInput(ledger.id, "CREDIT_ADD", 1n));
      expect(written.value.balanceAfterMinor).toBe(3n);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 6 }, () =>
          strict.recordEntry(entryInput(ledger.id, "CREDIT_ADD", 1n)),
        ),
      );
      expect(outcomes.map(reasonOf)).toContain("OVERLOADED");
      expect(outcomes.map(reasonOf)).toContain("OK");
    } finally {
      await strict.close();
    }
  });
});

describe("two stores on one database (replicas)", () => {
  it("give one effect for one key raced from both, and the loser replays it", async () => {
    const other = await openStore({ databaseUrl: harness.databaseUrl() });
    try {
      for (let round = 0; round < 10; round += 1) {
        const ledger = await openLedger(store, 0n);
        const input = entryInput(ledger.id, "CREDIT_ADD", 2n);
        const results = await Promise.all([store.recordEntry(input), other.recordEntry(input)]);
        expect(results.map((r) => r.replayed).sort()).toEqual([false, true]);
        expect(results[0]?.value).toEqual(results[1]?.value);
        expect(await store.getBalance({ ledgerId: ledger.id })).toMatchObject({
          balanceMinor: 2n,
          version: 1n,
        });
      }
    } finally {
      await other.close();
    }
  });

  it("claim a key once when it races on two ledgers of one app: one effect, one IDEMPOTENCY_KEY_REUSED", async () => {
    const other = await openStore({ databaseUrl: harness.databaseUrl() });
    try {
      for (let round = 0; round < 10; round += 1) {
        const first = await openLedger(store, 0n);
        const second = await openLedger(store, 0n, { app: first.app });
        const key = uniqueKey();
        const outcomes = await Promise.allSettled([
          store.recordEntry(entryInput(first.id, "CREDIT_ADD", 1n, { idempotencyKey: key })),
          other.recordEntry(entryInput(second.id, "CREDIT_ADD", 1n, { idempotencyKey: key })),
        ]);
        expect(outcomes.map(reasonOf).sort()).toEqual(["IDEMPOTENCY_KEY_REUSED", "OK"]);
        const versions = await Promise.all([first, second].map((l) => store.getLedger(l.id)));
        expect(versions.map((l) => l.version).sort()).toEqual([0n, 1n]);
      }
    } finally {
      await other.close();
    }
  });

  it("refuses a racing second active ledger for one owner from either replica", async () => {
    const other = await openStore({ databaseUrl: harness.databaseUrl() });
    try {
      for (let round = 0; round < 10; round += 1) {
        const input = createInput({ ownerId: `racer-${round}` });
        const outcomes = await Promise.allSettled([
          store.createLedger(input),
          other.createLedger({ ...input, idempotencyKey: uniqueKey() }),
        ]);
        expect(outcomes.map(reasonOf).sort()).toEqual(["LEDGER_ALREADY_EXISTS", "OK"]);
      }
    } finally {
      await other.close();
    }
  });
});
