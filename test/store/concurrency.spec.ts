/**
 * Contention on PostgreSQL: row locks serialise writers to a ledger so funds
 * are never overspent, deadlocks are retried a bounded number of times, and
 * lock waits are bounded by the lock timeout and the caller's deadline.
 */
import { randomUUID } from "node:crypto";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Ledger, LedgerError } from "../../src/domain/index.js";
import { resolveStoreConfig } from "../../src/store/config.js";
import { openStore, type PostgresLedgerStore } from "../../src/store/index.js";
import { initOrm } from "../../src/store/orm.js";
import { GroupCommit } from "../../src/store/pipeline/group-commit.js";
import { createUnitOfWork } from "../../src/store/unit-of-work.js";
import { entryInput, openLedger, rejection, useStore } from "./store-fixtures.js";

const harness = useStore();

describe("concurrent spends", () => {
  it("lets exactly 50 of 200 concurrent CREDIT_SPEND -1 through against a balance of 50", async () => {
    const ledger = await openLedger(harness.store(), 50n);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 200 }, () =>
        harness.store().recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -1n)),
      ),
    );
    const reasons = outcomes.map((outcome) =>
      outcome.status === "fulfilled" ? "OK" : (outcome.reason as LedgerError).reason,
    );
    expect(reasons.filter((reason) => reason === "OK")).toHaveLength(50);
    expect(reasons.filter((reason) => reason === "INSUFFICIENT_FUNDS")).toHaveLength(150);
    expect(await harness.store().getBalance({ ledgerId: ledger.id })).toMatchObject({
      balanceMinor: 0n,
      version: 51n,
    });
    expect(await harness.store().verifyInvariants()).toEqual([]);
  });

  it("keeps every ledger consistent when writes to several ledgers interleave", async () => {
    const ledgers = await Promise.all(
      Array.from({ length: 4 }, () => openLedger(harness.store(), 20n)),
    );
    await Promise.allSettled(
      Array.from({ length: 120 }, (_, i) => {
        const ledger = ledgers[i % ledgers.length];
        if (ledger === undefined) {
          throw new Error("no ledger");
        }
        return i % 3 === 0
          ? harness.store().recordEntry(entryInput(ledger.id, "CREDIT_ADD", 2n))
          : harness.store().recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -1n));
      }),
    );
    expect(await harness.store().verifyInvariants()).toEqual([]);
  });
});

describe("the group committer's retries", () => {
  let orm: MikroORM;
  beforeAll(async () => {
    orm = await initOrm(harness.databaseUrl(), { poolSizeMax: 4, connectTimeoutMs: 2000 });
  });
  afterAll(async () => {
    await orm?.close(true);
  });

  /** A pipeline whose batches run `work` instead of the real batch, one caller per batch. */
  function pipelineRunning(
    retryAttemptsMax: number,
    work: (em: EntityManager, ledgerId: string) => Promise<void>,
  ) {
    const config = resolveStoreConfig({ databaseUrl: harness.databaseUrl(), retryAttemptsMax });
    const unit = createUnitOfWork(orm, config);
    const pipeline = new GroupCommit({
      config,
      admission: unit.admission,
      transaction: unit.transaction,
      runBatch: async (em, units) => {
        const [command] = units[0]?.commands ?? [];
        await work(em, command?.kind === "terminate" ? command.ledgerId : "");
        return units.map((u) =>
          u.commands.map(() => ({ ok: true, value: {} as Ledger, replayed: false })),
        );
      },
    });
    // A deadline tighter than the statement timeout: each call is a batch of its own.
    return async (ledgerId: string) => {
      const [outcome] = await pipeline.submit(
        [{ kind: "terminate", ledgerId, voidPending: false, scope: undefined }],
        false,
        {
          timeoutMs: 4000,
        },
      );
      if (!outcome?.ok) {
        throw outcome?.error;
      }
      return "committed";
    };
  }

  /** Two batches lock two ledgers in opposite orders, meeting in the middle: a real deadlock. */
  async function deadlock(retryAttemptsMax: number) {
    const [a, b] = await Promise.all([openLedger(harness.store()), openLedger(harness.store())]);
    let attempts = 0;
    let arrived = 0;
    let release: () => void = () => {};
    const bothHoldOneLock = new Promise<void>((resolve) => {
      release = resolve;
    });
    const run = pipelineRunning(retryAttemptsMax, async (em, first) => {
      attempts += 1;
      await em.execute("select id from ledgers where id = ? for update", [first]);
      arrived += 1;
      if (arrived === 2) {
        release();
      }
      await bothHoldOneLock;
      const second = first === a.id ? b.id : a.id;
      await em.execute("select id from ledgers where id = ? for update", [second]);
    });
    const outcomes = await Promise.allSettled([run(a.id), run(b.id)]);
    return { outcomes, attempts };
  }

  it("runs a batch again that PostgreSQL aborted as a deadlock victim, and both commit", async () => {
    const { outcomes, attempts } = await deadlock(3);
    expect(outcomes).toEqual([
      { status: "fulfilled", value: "committed" },
      { status: "fulfilled", value: "committed" },
    ]);
    expect(attempts).toBe(3);
  });

  it("reports CONCURRENCY_CONFLICT once the retries are used up", async () => {
    const { outcomes, attempts } = await deadlock(0);
    const rejected = outcomes.filter((outcome) => outcome.status === "rejected");
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.reason).toBeInstanceOf(LedgerError);
    expect(rejected[0]?.reason).toMatchObject({ reason: "CONCURRENCY_CONFLICT" });
    expect(attempts).toBe(2);
  });

  it("passes other failures through unchanged, without retrying", async () => {
    let attempts = 0;
    const failure = new Error("a bug");
    const run = pipelineRunning(3, async () => {
      attempts += 1;
      throw failure;
    });
    await expect(run(randomUUID())).rejects.toBe(failure);
    expect(attempts).toBe(1);
  });
});

describe("lock waits", () => {
  /** Holds a ledger's row lock from outside the store until released. */
  async function holdLock(ledgerId: string): Promise<{ release(): Promise<void> }> {
    const client = new pg.Client({ connectionString: harness.databaseUrl() });
    await client.connect();
    await client.query("begin");
    await client.query("select id from ledgers where id = $1 for update", [ledgerId]);
    return {
      async release() {
        await client.query("rollback");
        await client.end();
      },
    };
  }

  it("gives up after lockTimeoutMs with CONCURRENCY_CONFLICT instead of waiting indefinitely", async () => {
    const store: PostgresLedgerStore = await openStore({
      databaseUrl: harness.databaseUrl(),
      lockTimeoutMs: 200,
    });
    const ledger = await openLedger(store, 5n);
    const lock = await holdLock(ledger.id);
    try {
      const started = Date.now();
      await rejection(
        store.recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -1n)),
        "CONCURRENCY_CONFLICT",
      );
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      await lock.release();
      await store.close();
    }
    expect((await harness.store().getLedger(ledger.id)).balanceMinor).toBe(5n);
  });

  it("never waits past the caller's deadline (CallOptions.timeoutMs caps the timeouts)", async () => {
    const ledger = await openLedger(harness.store(), 5n);
    const lock = await holdLock(ledger.id);
    try {
      const started = Date.now();
      await rejection(
        harness.store().recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -1n), { timeoutMs: 250 }),
        "CONCURRENCY_CONFLICT",
      );
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      await lock.release();
    }
  });

  it("stops a write whose caller aborts while it waits for a lock, with the caller's reason and no effect", async () => {
    const ledger = await openLedger(harness.store(), 5n);
    const lock = await holdLock(ledger.id);
    const controller = new AbortController();
    const reason = new Error("the caller's deadline passed");
    try {
      const write = harness
        .store()
        .recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -1n), { signal: controller.signal });
      const started = Date.now();
      setTimeout(() => controller.abort(reason), 100);
      await expect(write).rejects.toBe(reason);
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      await lock.release();
    }
    expect(await harness.store().getLedger(ledger.id)).toMatchObject({
      balanceMinor: 5n,
      version: 1n,
    });
  });

  it("completes a write once the lock is released within the timeout", async () => {
    const ledger = await openLedger(harness.store(), 5n);
    const lock = await holdLock(ledger.id);
    const write = harness.store().recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -1n));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await lock.release();
    expect((await write).value.balanceAfterMinor).toBe(4n);
  });
});

describe("a burst larger than the pool", () => {
  it("queues for connections instead of failing as an unreachable database", async () => {
    // One connection, and a connect timeout far shorter than the burst takes:
    // had callers waited inside the pool, most would fail STORE_UNAVAILABLE.
    const store = await openStore({
      databaseUrl: harness.databaseUrl(),
      poolSizeMax: 1,
      connectTimeoutMs: 50,
    });
    try {
      const ledger = await openLedger(store);
      const results = await Promise.allSettled(
        Array.from({ length: 60 }, () => store.recordEntry(entryInput(ledger.id, "DAILY_REWARD"))),
      );
      expect(results.filter((r) => r.status === "rejected")).toEqual([]);
      const balance = await store.getBalance({ ledgerId: ledger.id });
      expect(balance.balanceMinor).toBe(60n);
      expect(await store.verifyInvariants()).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
