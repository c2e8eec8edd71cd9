/**
 * Per-app isolation in the store (CallOptions.app): to a caller scoped to
 * app B, every ledger and transaction of app A is exactly one that does
 * not exist. Each call on A's data fails as it fails on a random absent id
 * (reason, message, metadata), leaves A's data as it was (balances,
 * versions, entries, holds, idempotency keys), and never locks nor waits
 * on A's rows; within one batch too, where A's own calls lock them.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  CallOptions,
  Ledger,
  LedgerError,
  ListEntriesInput,
  Transaction,
} from "../../src/domain/index.js";
import {
  openStore,
  type PostgresLedgerStore,
  type WriteBatchReport,
} from "../../src/store/index.js";
import {
  createInput,
  entryInput,
  openLedger,
  rejection,
  reversalInput,
  transferInput,
  uniqueApp,
  uniqueKey,
  useStore,
} from "./store-fixtures.js";

const harness = useStore();
const store = () => harness.store();

/** Two apps: A owns the data under test, B is the caller that must not see it. */
interface World {
  readonly asA: CallOptions;
  readonly asB: CallOptions;
  readonly appA: string;
  readonly appB: string;
  /** A's ledger, as set up: funded 10, spent 1 (`posted`, of `externalId`), 2 held (`hold`). */
  readonly a: Ledger;
  readonly posted: { readonly id: string };
  readonly hold: Transaction;
  readonly externalId: string;
  /** B's own ledger, funded 10. */
  readonly b: Ledger;
}

async function world(): Promise<World> {
  const appA = uniqueApp();
  const appB = uniqueApp();
  const opened = await openLedger(store(), 10n, { app: appA });
  const b = await openLedger(store(), 10n, { app: appB });
  const externalId = `ext-${randomUUID()}`;
  const { value: entry } = await store().recordEntry(
    entryInput(opened.id, "CREDIT_SPEND", -1n, { externalTransactionId: externalId }),
  );
  const { value: hold } = await store().holdEntry(
    entryInput(opened.id, "CREDIT_SPEND", -2n, { hold: { expiresAt: undefined } }),
  );
  return {
    asA: { app: appA },
    asB: { app: appB },
    appA,
    appB,
    a: await store().getLedger(opened.id),
    posted: { id: entry.transactionId },
    hold,
    externalId,
    b: await store().getLedger(b.id),
  };
}

function entriesOf(ledgerId: string): ListEntriesInput {
  return {
    ledgerId,
    pageSize: 100,
    pageToken: "",
    occurredAfter: undefined,
    occurredBefore: undefined,
    reference: "",
    externalTransactionId: "",
  };
}

/** Everything of A's a scoped call could have changed. */
async function snapshot(w: World) {
  return {
    ledger: await store().getLedger(w.a.id),
    entries: (await store().listEntries(entriesOf(w.a.id))).items,
    posted: await store().getTransaction({ transactionId: w.posted.id }),
    hold: await store().getTransaction({ transactionId: w.hold.id }),
  };
}

/** An error with `name` (an id, an owner...) replaced, to compare errors about different names. */
function shape(error: LedgerError, name: string) {
  const anonymous = (text: string) => text.replaceAll(name, "<name>");
  return {
    reason: error.reason,
    message: anonymous(error.message),
    metadata: Object.fromEntries(
      Object.entries(error.metadata).map(([key, value]) => [key, anonymous(value)]),
    ),
  };
}

/**
 * `call` on the foreign name fails exactly as on an absent one; returns the
 * foreign error, which names `foreign` (not the absent one).
 */
async function failsAsAbsent(
  reason: LedgerError["reason"],
  call: (name: string) => Promise<unknown>,
  foreign: string,
): Promise<LedgerError> {
  const absent = randomUUID();
  const onForeign = await rejection(call(foreign), reason);
  const onAbsent = await rejection(call(absent), reason);
  expect(shape(onForeign, foreign)).toEqual(shape(onAbsent, absent));
  expect(onForeign.message).toContain(foreign);
  return onForeign;
}

/** Runs `check` and then asserts that A's data is exactly as before it. */
async function leavesAUnchanged(w: World, check: () => Promise<void>): Promise<void> {
  const before = await snapshot(w);
  await check();
  expect(await snapshot(w)).toEqual(before);
}

describe("reads scoped to another app", () => {
  it("answer A's ledger, balance, entries and holds as absent", async () => {
    const w = await world();
    const { asB } = w;
    await failsAsAbsent("LEDGER_NOT_FOUND", (id) => store().getLedger(id, asB), w.a.id);
    await failsAsAbsent(
      "LEDGER_NOT_FOUND",
      (id) => store().getBalance({ ledgerId: id }, asB),
      w.a.id,
    );
    await failsAsAbsent(
      "LEDGER_NOT_FOUND",
      (id) => store().getBalance({ ledgerId: id, asOf: new Date() }, asB),
      w.a.id,
    );
    await failsAsAbsent(
      "LEDGER_NOT_FOUND",
      (owner) => store().getBalance({ app: w.appA, ownerId: owner, unit: w.a.unit }, asB),
      w.a.ownerId,
    );
    await failsAsAbsent(
      "LEDGER_NOT_FOUND",
      (id) => store().listEntries(entriesOf(id), asB),
      w.a.id,
    );
    await failsAsAbsent(
      "LEDGER_NOT_FOUND",
      (id) => store().listPendingTransactions({ ledgerId: id, pageSize: 10, pageToken: "" }, asB),
      w.a.id,
    );
    // Each caller still sees its own.
    expect(await store().getLedger(w.a.id, w.asA)).toEqual(await store().getLedger(w.a.id));
    expect((await store().listEntries(entriesOf(w.b.id), asB)).items).toHaveLength(1);
  });

  it("answer A's transactions, by id and by external id, as absent", async () => {
    const w = await world();
    for (const transaction of [w.posted, w.hold]) {
      await failsAsAbsent(
        "TRANSACTION_NOT_FOUND",
        (id) => store().getTransaction({ transactionId: id }, w.asB),
        transaction.id,
      );
    }
    await failsAsAbsent(
      "TRANSACTION_NOT_FOUND",
      (ext) => store().getTransaction({ app: w.appA, externalTransactionId: ext }, w.asB),
      w.externalId,
    );
    expect(
      (await store().getTransaction({ app: w.appA, externalTransactionId: w.externalId }, w.asA))
        .id,
    ).toBe(w.posted.id);
  });

  it("list no ledger of A, and refuse a page token of A's listing replayed for another app", async () => {
    const w = await world();
    await openLedger(store(), 0n, { app: w.appA });
    const listing = { app: w.appA, ownerId: "", pageSize: 1, pageToken: "" };
    expect(await store().listLedgers(listing, w.asB)).toEqual({ items: [], nextPageToken: "" });
    const first = await store().listLedgers(listing, w.asA);
    expect(first.items.map((l) => l.id)).toEqual([w.a.id]);
    expect(first.nextPageToken).not.toBe("");
    const replayed = await rejection(
      store().listLedgers({ ...listing, app: w.appB, pageToken: first.nextPageToken }, w.asB),
      "INVALID_ARGUMENT",
    );
    expect(replayed.metadata).toEqual({ field: "page_token" });
  });

  it("refuse a ListEntries or ListPendingTransactions page token replayed on another ledger", async () => {
    const w = await world();
    await store().holdEntry(
      entryInput(w.a.id, "CREDIT_SPEND", -1n, { hold: { expiresAt: undefined } }),
    );
    const entries = await store().listEntries({ ...entriesOf(w.a.id), pageSize: 1 }, w.asA);
    const pending = await store().listPendingTransactions(
      { ledgerId: w.a.id, pageSize: 1, pageToken: "" },
      w.asA,
    );
    expect([entries.nextPageToken, pending.nextPageToken]).not.toContain("");
    for (const options of [w.asB, undefined]) {
      const onEntries = await rejection(
        store().listEntries(
          { ...entriesOf(w.b.id), pageSize: 1, pageToken: entries.nextPageToken },
          options,
        ),
        "INVALID_ARGUMENT",
      );
      const onPending = await rejection(
        store().listPendingTransactions(
          { ledgerId: w.b.id, pageSize: 1, pageToken: pending.nextPageToken },
          options,
        ),
        "INVALID_ARGUMENT",
      );
      expect([onEntries.metadata, onPending.metadata]).toEqual([
        { field: "page_token" },
        { field: "page_token" },
      ]);
    }
  });
});

describe("writes scoped to another app", () => {
  it("record, hold and batch entries on A's ledger as on an absent one, using no key of A", async () => {
    const w = await world();
    const key = uniqueKey();
    await leavesAUnchanged(w, async () => {
      await failsAsAbsent(
        "LEDGER_NOT_FOUND",
        (id) =>
          store().recordEntry(entryInput(id, "CREDIT_ADD", 5n, { idempotencyKey: key }), w.asB),
        w.a.id,
      );
      await failsAsAbsent(
        "LEDGER_NOT_FOUND",
        (id) =>
          store().holdEntry(
            entryInput(id, "CREDIT_SPEND", -1n, { hold: { expiresAt: undefined } }),
            w.asB,
          ),
        w.a.id,
      );
      await failsAsAbsent(
        "LEDGER_NOT_FOUND",
        (id) =>
          store().recordEntries(
            {
              entries: [entryInput(w.b.id, "CREDIT_ADD", 1n), entryInput(id, "CREDIT_ADD", 1n)],
              atomic: true,
            },
            w.asB,
          ),
        w.a.id,
      );
      const mixed = await store().recordEntries(
        {
          entries: [entryInput(w.b.id, "CREDIT_ADD", 1n), entryInput(w.a.id, "CREDIT_ADD", 1n)],
          atomic: false,
        },
        w.asB,
      );
      expect(mixed[0]).toMatchObject({ ok: true, replayed: false });
      const [, refused] = mixed;
      expect(refused?.ok).toBe(false);
      if (refused !== undefined && !refused.ok) {
        expect(shape(refused.error, w.a.id)).toEqual({
          reason: "LEDGER_NOT_FOUND",
          message: "ledger <name> does not exist",
          metadata: { ledger_id: "<name>" },
        });
      }
    });
    expect((await store().getBalance({ ledgerId: w.b.id })).balanceMinor).toBe(11n);
    // The key B tried on A's ledger is A's to use.
    const mine = await store().recordEntry(
      entryInput(w.a.id, "CREDIT_ADD", 5n, { idempotencyKey: key }),
      w.asA,
    );
    expect(mine).toMatchObject({ replayed: false, value: { balanceAfterMinor: 14n } });
    expect(await store().verifyInvariants()).toEqual([]);
  });

  it("refuse a transfer with either side A's as LEDGER_NOT_FOUND naming that side, writing nothing", async () => {
    const w = await world();
    await leavesAUnchanged(w, async () => {
      const into = await failsAsAbsent(
        "LEDGER_NOT_FOUND",
        (id) => store().transfer(transferInput(w.b.id, id, 1n), w.asB),
        w.a.id,
      );
      expect(into.metadata).toEqual({ ledger_id: w.a.id });
      const from = await failsAsAbsent(
        "LEDGER_NOT_FOUND",
        (id) => store().transfer(transferInput(id, w.b.id, 1n), w.asB),
        w.a.id,
      );
      expect(from.metadata).toEqual({ ledger_id: w.a.id });
      await failsAsAbsent(
        "LEDGER_NOT_FOUND",
        (id) =>
          store().createTransfers(
            {
              transfers: [transferInput(w.b.id, id, 1n, { hold: { expiresAt: undefined } })],
              atomic: true,
            },
            w.asB,
          ),
        w.a.id,
      );
    });
    expect(await store().getLedger(w.b.id)).toEqual(await store().getLedger(w.b.id, w.asB));
    expect((await store().getBalance({ ledgerId: w.b.id })).version).toBe(w.b.version);
  });

  it("refuse to reverse, post or void A's transactions as absent ones", async () => {
    const w = await world();
    const key = uniqueKey();
    await leavesAUnchanged(w, async () => {
      await failsAsAbsent(
        "TRANSACTION_NOT_FOUND",
        (id) =>
          store().reverseTransaction(reversalInput(id, undefined, { idempotencyKey: key }), w.asB),
        w.posted.id,
      );
      await failsAsAbsent(
        "TRANSACTION_NOT_FOUND",
        (id) =>
          store().postPendingTransaction(
            { transactionId: id, amountMinor: undefined, idempotencyKey: uniqueKey() },
            w.asB,
          ),
        w.hold.id,
      );
      await failsAsAbsent(
        "TRANSACTION_NOT_FOUND",
        (id) =>
          store().voidPendingTransaction({ transactionId: id, idempotencyKey: uniqueKey() }, w.asB),
        w.hold.id,
      );
    });
    const reversal = await store().reverseTransaction(
      reversalInput(w.posted.id, undefined, { idempotencyKey: key }),
      w.asA,
    );
    expect(reversal).toMatchObject({ replayed: false, value: { amountMinor: 1n } });
    await store().voidPendingTransaction(
      { transactionId: w.hold.id, idempotencyKey: uniqueKey() },
      w.asA,
    );
    expect(await store().verifyInvariants()).toEqual([]);
  });

  it("refuse to terminate A's ledger, or to sweep into it, as absent ones", async () => {
    const w = await world();
    await leavesAUnchanged(w, async () => {
      await failsAsAbsent(
        "LEDGER_NOT_FOUND",
        (id) => store().terminateLedger({ ledgerId: id, voidPending: true }, w.asB),
        w.a.id,
      );
      await failsAsAbsent(
        "LEDGER_NOT_FOUND",
        (id) =>
          store().terminateLedger(
            { ledgerId: w.b.id, voidPending: true, sweepToLedgerId: id },
            w.asB,
          ),
        w.a.id,
      );
    });
    expect(await store().getLedger(w.b.id)).toMatchObject({
      status: "ACTIVE",
      balanceMinor: 10n,
      version: w.b.version,
    });
  });

  it("refuse a ledger expiring into A's as one expiring into an absent ledger, or one of app A", async () => {
    const w = await world();
    const validUntil = new Date(Date.now() + 3_600_000);
    await leavesAUnchanged(w, async () => {
      await failsAsAbsent(
        "LEDGER_NOT_FOUND",
        (id) =>
          store().createLedger(
            createInput({ app: w.appB, unit: w.a.unit, validUntil, expireToLedgerId: id }),
            w.asB,
          ),
        w.a.id,
      );
      // Naming app A: refused before anything of A is read (its owner's ledger, its keys).
      const asA = await rejection(
        store().createLedger(createInput({ app: w.appA, ownerId: w.a.ownerId }), w.asB),
        "APP_NOT_PERMITTED",
      );
      expect(asA.metadata).toEqual({ app: w.appA });
    });
    expect(
      await store().listLedgers({ app: w.appB, ownerId: "", pageSize: 10, pageToken: "" }),
    ).toMatchObject({
      items: [{ id: w.b.id }],
    });
  });
});

describe("scoped calls sharing a batch with the owner's", () => {
  const batches: WriteBatchReport[] = [];
  let batching: PostgresLedgerStore;
  beforeAll(async () => {
    batching = await openStore({
      databaseUrl: harness.databaseUrl(),
      writeBatchesMax: 1,
      onWriteBatch: (batch) => batches.push(batch),
    });
  });
  afterAll(async () => {
    await batching?.close();
  });

  it("answer absent for what A's calls of the same batch locked", async () => {
    const w = await world();
    const blocker = await openLedger(batching, 1n);
    const lock = await lockRow("ledgers", blocker.id);
    const stuck = batching.recordEntry(entryInput(blocker.id, "CREDIT_ADD", 1n));
    await pause(100);
    const settled = Promise.allSettled([
      batching.recordEntry(entryInput(w.a.id, "CREDIT_ADD", 1n), w.asA),
      batching.recordEntry(entryInput(w.a.id, "CREDIT_ADD", 1n), w.asB),
      batching.reverseTransaction(reversalInput(w.posted.id), w.asA),
      batching.reverseTransaction(reversalInput(w.posted.id), w.asB),
      batching.voidPendingTransaction(
        { transactionId: w.hold.id, idempotencyKey: uniqueKey() },
        w.asB,
      ),
    ]);
    await pause(100);
    batches.length = 0;
    await lock.release();
    await stuck;
    const results = await settled;
    expect(batches, JSON.stringify(batches)).toContainEqual(expect.objectContaining({ calls: 5 }));
    expect(
      results.map((r) => (r.status === "fulfilled" ? "OK" : (r.reason as LedgerError).reason)),
    ).toEqual(["OK", "LEDGER_NOT_FOUND", "OK", "TRANSACTION_NOT_FOUND", "TRANSACTION_NOT_FOUND"]);
    // 9, +1 recorded, +1 reversed; the hold still open.
    expect(await store().getLedger(w.a.id)).toMatchObject({
      balanceMinor: 11n,
      pendingDebitsMinor: 2n,
    });
    expect(await store().verifyInvariants()).toEqual([]);
  });
});

describe("another app's locked rows", () => {
  const LOCK_TIMEOUT_MS = 10_000;
  let patient: PostgresLedgerStore;
  beforeAll(async () => {
    patient = await openStore({
      databaseUrl: harness.databaseUrl(),
      lockTimeoutMs: LOCK_TIMEOUT_MS,
    });
  });
  afterAll(async () => {
    await patient?.close();
  });

  /** `call` fails with `reason` well before the lock timeout: it never waited on a lock. */
  async function promptly(reason: LedgerError["reason"], call: () => Promise<unknown>) {
    const started = Date.now();
    await rejection(call(), reason);
    expect(Date.now() - started).toBeLessThan(LOCK_TIMEOUT_MS / 5);
  }

  it("are neither locked nor waited on: a scoped write on them answers absent at once", async () => {
    const w = await world();
    const ledgerLock = await lockRow("ledgers", w.a.id);
    let releasedAt = Number.POSITIVE_INFINITY;
    // The owner's own write waits for that lock, its batch in flight meanwhile.
    const owners = patient
      .recordEntry(entryInput(w.a.id, "CREDIT_ADD", 1n), w.asA)
      .then((result) => ({ result, at: Date.now() }));
    await pause(100);
    try {
      await promptly("LEDGER_NOT_FOUND", () =>
        patient.recordEntry(entryInput(w.a.id, "CREDIT_ADD", 1n), w.asB),
      );
      await promptly("LEDGER_NOT_FOUND", () =>
        patient.transfer(transferInput(w.b.id, w.a.id, 1n), w.asB),
      );
      await promptly("LEDGER_NOT_FOUND", () =>
        patient.terminateLedger({ ledgerId: w.a.id, voidPending: true }, w.asB),
      );
      await promptly("LEDGER_NOT_FOUND", () =>
        patient.terminateLedger(
          { ledgerId: w.b.id, voidPending: false, sweepToLedgerId: w.a.id },
          w.asB,
        ),
      );
      // A's transactions' ledgers are not locked for B either.
      await promptly("TRANSACTION_NOT_FOUND", () =>
        patient.reverseTransaction(reversalInput(w.posted.id), w.asB),
      );
      await promptly("TRANSACTION_NOT_FOUND", () =>
        patient.voidPendingTransaction(
          { transactionId: w.hold.id, idempotencyKey: uniqueKey() },
          w.asB,
        ),
      );
    } finally {
      releasedAt = Date.now();
      await ledgerLock.release();
    }
    const owned = await owners;
    expect(owned.at).toBeGreaterThanOrEqual(releasedAt);
    expect(owned.result.value.balanceAfterMinor).toBe(w.a.balanceMinor + 1n);
    const transactionLock = await lockRow("transactions", w.hold.id);
    try {
      await promptly("TRANSACTION_NOT_FOUND", () =>
        patient.postPendingTransaction(
          { transactionId: w.hold.id, amountMinor: undefined, idempotencyKey: uniqueKey() },
          w.asB,
        ),
      );
    } finally {
      await transactionLock.release();
    }
    expect(await store().getLedger(w.a.id)).toEqual(await store().getLedger(w.a.id, w.asA));
    expect(await store().getLedger(w.a.id)).toMatchObject({
      balanceMinor: w.a.balanceMinor + 1n,
      version: w.a.version + 1n,
      pendingDebitsMinor: 2n,
    });
  });
});

/** Holds a row's lock (FOR UPDATE) from a transaction outside the store until released. */
async function lockRow(table: "ledgers" | "transactions", id: string) {
  const client = new pg.Client({ connectionString: harness.databaseUrl() });
  await client.connect();
  await client.query("begin");
  const { rowCount } = await client.query(`select id from ${table} where id = $1 for update`, [id]);
  expect(rowCount).toBe(1);
  return {
    async release() {
      await client.query("rollback");
      await client.end();
    },
  };
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
