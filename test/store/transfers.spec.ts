/**
 * Transfers through the store: one TRANSFER transaction with the debit of
 * the source and the credit of the destination, locked and written by the
 * write pipeline; their reversals; external ids unique per app, also
 * against a second store (another process) racing on the same database;
 * GetTransaction; and the double-entry invariants of the audit.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, type PostgresLedgerStore } from "../../src/store/index.js";
import {
  entryInput,
  openLedger,
  rejection,
  reversalInput,
  transferInput,
  uniqueApp,
  useStore,
} from "./store-fixtures.js";

const harness = useStore();
/** A second store on the same database: another service process. */
let other: PostgresLedgerStore;

beforeAll(async () => {
  other = await openStore({ databaseUrl: harness.databaseUrl() });
});
afterAll(async () => {
  await other?.close();
});

/** Two ledgers of one fresh app: `from` funded with `fundsMinor`. */
async function pair(fundsMinor: bigint, from: { unbounded?: boolean } = {}) {
  const app = uniqueApp();
  const source = await openLedger(harness.store(), fundsMinor, { app, ...from });
  const destination = await openLedger(harness.store(), 0n, { app });
  return { app, from: source, to: destination };
}

async function balances(...ids: string[]): Promise<bigint[]> {
  return Promise.all(ids.map(async (id) => (await harness.store().getLedger(id)).balanceMinor));
}

describe("a transfer", () => {
  it("is one TRANSFER transaction: the debit of the source, then the credit", async () => {
    const { from, to } = await pair(10n);
    const { value } = await harness.store().transfer(transferInput(from.id, to.id, 4n));
    expect(value).toMatchObject({ kind: "TRANSFER", amountMinor: 4n, reversedAmountMinor: 0n });
    expect(value.entries.map((e) => [e.ledgerId, e.sequence, e.amountMinor, e.operation])).toEqual([
      [from.id, 2n, -4n, "TRANSFER"],
      [to.id, 1n, 4n, "TRANSFER"],
    ]);
    expect(await balances(from.id, to.id)).toEqual([6n, 4n]);
  });

  it("records the app's operation and the request's annotations on both legs", async () => {
    const { from, to } = await pair(10n);
    const { value } = await harness.store().transfer(
      transferInput(from.id, to.id, 1n, {
        operation: "CREDIT_SPEND",
        description: "gift",
        reference: "order-7",
        metadata: { k: "v" },
        externalTransactionId: "psp-1",
      }),
    );
    for (const entry of value.entries) {
      expect(entry).toMatchObject({
        operation: "CREDIT_SPEND",
        description: "gift",
        reference: "order-7",
        metadata: { k: "v" },
        externalTransactionId: "psp-1",
      });
    }
    expect(value.externalTransactionId).toBe("psp-1");
  });

  it("holds the source's floor, and lets an unbounded source go negative", async () => {
    const { from, to } = await pair(3n);
    const refused = await rejection(
      harness.store().transfer(transferInput(from.id, to.id, 4n)),
      "INSUFFICIENT_FUNDS",
    );
    expect(refused.metadata.ledger_id).toBe(from.id);
    expect(await balances(from.id, to.id)).toEqual([3n, 0n]);

    const unbounded = await pair(0n, { unbounded: true });
    await harness.store().transfer(transferInput(unbounded.from.id, unbounded.to.id, 1000n));
    expect(await balances(unbounded.from.id, unbounded.to.id)).toEqual([-1000n, 1000n]);
  });

  it("refuses ledgers of two apps or two units, naming the mismatch", async () => {
    const { from } = await pair(10n);
    const elsewhere = await openLedger(harness.store());
    const apps = await rejection(
      harness.store().transfer(transferInput(from.id, elsewhere.id, 1n)),
      "APP_MISMATCH",
    );
    expect(apps.metadata).toMatchObject({ from_app: from.app, to_app: elsewhere.app });
    const seats = await openLedger(harness.store(), 0n, { app: from.app, unit: "SEATS" });
    const units = await rejection(
      harness.store().transfer(transferInput(from.id, seats.id, 1n)),
      "UNIT_MISMATCH",
    );
    expect(units.metadata).toMatchObject({ from_unit: "CREDITS", to_unit: "SEATS" });
    expect(await balances(from.id, elsewhere.id, seats.id)).toEqual([10n, 0n, 0n]);
  });

  it("refuses an operation the app does not know, a missing and a terminated ledger", async () => {
    const { from, to } = await pair(10n);
    await rejection(
      harness.store().transfer(transferInput(from.id, to.id, 1n, { operation: "NOPE" })),
      "UNKNOWN_OPERATION",
    );
    const missing = "0190a000-0000-7000-8000-00000000dead";
    await rejection(
      harness.store().transfer(transferInput(from.id, missing, 1n)),
      "LEDGER_NOT_FOUND",
    );
    await harness.store().terminateLedger({ ledgerId: to.id, voidPending: false });
    await rejection(
      harness.store().transfer(transferInput(from.id, to.id, 1n)),
      "LEDGER_TERMINATED",
    );
    expect(await balances(from.id)).toEqual([10n]);
  });

  it("is not a RecordEntry operation: TRANSFER is built in", async () => {
    const { from } = await pair(10n);
    await rejection(
      harness.store().recordEntry(entryInput(from.id, "TRANSFER", -1n)),
      "UNKNOWN_OPERATION",
    );
  });

  it("replays under its key, and a CreateTransfers item replays a Transfer's key", async () => {
    const { from, to } = await pair(10n);
    const input = transferInput(from.id, to.id, 2n);
    const first = await harness.store().transfer(input);
    const again = await harness.store().transfer(input);
    expect(again).toEqual({ value: first.value, replayed: true });
    const [item] = await harness.store().createTransfers({ transfers: [input], atomic: false });
    expect(item).toEqual({ ok: true, value: first.value, replayed: true });
    await rejection(
      harness.store().transfer({ ...input, amountMinor: 3n }),
      "IDEMPOTENCY_KEY_REUSED",
    );
    expect(await balances(from.id, to.id)).toEqual([8n, 2n]);
  });

  it("replays its first answer even after it was partly reversed", async () => {
    const { from, to } = await pair(10n);
    const input = transferInput(from.id, to.id, 4n);
    const first = await harness.store().transfer(input);
    await harness.store().reverseTransaction(reversalInput(first.value.id, 1n));
    const again = await harness.store().transfer(input);
    expect(again).toEqual({ value: first.value, replayed: true });
    expect(again.value.reversedAmountMinor).toBe(0n);
  });

  it("takes TRANSFER named explicitly as the default it is", async () => {
    const { from, to } = await pair(10n);
    const { value } = await harness
      .store()
      .transfer(transferInput(from.id, to.id, 1n, { operation: "TRANSFER" }));
    expect(value.entries.map((entry) => entry.operation)).toEqual(["TRANSFER", "TRANSFER"]);
  });
});

describe("CreateTransfers", () => {
  it("atomic: all or nothing, the failure naming its item", async () => {
    const { app, from, to } = await pair(10n);
    const fee = await openLedger(harness.store(), 0n, { app });
    const refused = await rejection(
      harness.store().createTransfers({
        transfers: [transferInput(from.id, to.id, 8n), transferInput(from.id, fee.id, 3n)],
        atomic: true,
      }),
      "INSUFFICIENT_FUNDS",
    );
    expect(refused.message).toMatch(/^transfers\[1\]: /);
    expect(refused.metadata.index).toBe("1");
    expect(await balances(from.id, to.id, fee.id)).toEqual([10n, 0n, 0n]);

    const paid = await harness.store().createTransfers({
      transfers: [transferInput(from.id, to.id, 8n), transferInput(from.id, fee.id, 2n)],
      atomic: true,
    });
    expect(paid.every((item) => item.ok)).toBe(true);
    expect(await balances(from.id, to.id, fee.id)).toEqual([0n, 8n, 2n]);
  });

  it("not atomic: each item alone, in order", async () => {
    const { from, to } = await pair(5n);
    const results = await harness.store().createTransfers({
      transfers: [
        transferInput(from.id, to.id, 4n),
        transferInput(from.id, to.id, 4n),
        transferInput(from.id, to.id, 1n),
      ],
      atomic: false,
    });
    expect(results.map((r) => (r.ok ? "ok" : r.error.reason))).toEqual([
      "ok",
      "INSUFFICIENT_FUNDS",
      "ok",
    ]);
    expect(await balances(from.id, to.id)).toEqual([0n, 5n]);
  });
});

describe("a transfer's reversal", () => {
  it("compensates both legs, partly then fully, and links back to the transfer", async () => {
    const { from, to } = await pair(10n);
    const { value: moved } = await harness.store().transfer(transferInput(from.id, to.id, 5n));
    const { value: partial } = await harness
      .store()
      .reverseTransaction(reversalInput(moved.id, 2n));
    expect(
      partial.entries.map((e) => [e.ledgerId, e.amountMinor, e.reversesTransactionId]),
    ).toEqual([
      [from.id, 2n, moved.id],
      [to.id, -2n, moved.id],
    ]);
    const { value: rest } = await harness.store().reverseTransaction(reversalInput(moved.id));
    expect(rest.amountMinor).toBe(3n);
    expect(await balances(from.id, to.id)).toEqual([10n, 0n]);

    const view = await harness.store().getTransaction({ transactionId: moved.id });
    expect(view).toMatchObject({
      kind: "TRANSFER",
      reversedAmountMinor: 5n,
      reversalIds: [partial.id, rest.id],
    });
    const reversal = await harness.store().getTransaction({ transactionId: partial.id });
    expect(reversal).toMatchObject({ kind: "REVERSAL", reversesTransactionId: moved.id });
    expect(reversal.reversalIds).toEqual([]);
  });

  it("is refused, naming the destination, once the destination spent the money", async () => {
    const { from, to } = await pair(10n);
    const { value: moved } = await harness.store().transfer(transferInput(from.id, to.id, 5n));
    await harness.store().recordEntry(entryInput(to.id, "CREDIT_SPEND", -4n));
    const refused = await rejection(
      harness.store().reverseTransaction(reversalInput(moved.id)),
      "INSUFFICIENT_FUNDS",
    );
    expect(refused.metadata.ledger_id).toBe(to.id);
    expect(await balances(from.id, to.id)).toEqual([5n, 1n]);
    await harness.store().reverseTransaction(reversalInput(moved.id, 1n));
    expect(await balances(from.id, to.id)).toEqual([6n, 0n]);
  });

  it("never deadlocks when transfers in opposite directions race (ledgers lock in id order)", async () => {
    const { from: a, to: b } = await pair(1000n);
    await harness.store().transfer(transferInput(a.id, b.id, 500n));
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const store = i % 4 < 2 ? harness.store() : other;
        return i % 2 === 0
          ? store.transfer(transferInput(a.id, b.id, 1n))
          : store.transfer(transferInput(b.id, a.id, 1n));
      }),
    );
    expect(await balances(a.id, b.id)).toEqual([500n, 500n]);
    expect((await harness.store().getLedger(b.id)).version).toBe(41n);
  });
});

describe("external transaction ids", () => {
  it("are unique per app among transactions; a replay is no conflict; another app may reuse one", async () => {
    const { app, from, to } = await pair(10n);
    const first = entryInput(from.id, "CREDIT_ADD", 1n, { externalTransactionId: "psp-9" });
    const recorded = await harness.store().recordEntry(first);
    const used = await rejection(
      harness
        .store()
        .transfer(transferInput(from.id, to.id, 1n, { externalTransactionId: "psp-9" })),
      "EXTERNAL_ID_ALREADY_USED",
    );
    expect(used.metadata).toEqual({
      app,
      external_transaction_id: "psp-9",
      transaction_id: recorded.value.transactionId,
    });
    await rejection(
      harness
        .store()
        .recordEntry(entryInput(to.id, "CREDIT_ADD", 1n, { externalTransactionId: "psp-9" })),
      "EXTERNAL_ID_ALREADY_USED",
    );
    const replay = await harness.store().recordEntry(first);
    expect(replay.replayed).toBe(true);
    const elsewhere = await openLedger(harness.store());
    await harness
      .store()
      .recordEntry(entryInput(elsewhere.id, "CREDIT_ADD", 1n, { externalTransactionId: "psp-9" }));

    const found = await harness.store().getTransaction({ app, externalTransactionId: "psp-9" });
    expect(found.id).toBe(recorded.value.transactionId);
    await rejection(
      harness.store().getTransaction({ app, externalTransactionId: "psp-10" }),
      "TRANSACTION_NOT_FOUND",
    );
  });

  it("refuses the same id in one batch, atomic or not", async () => {
    const { from, to } = await pair(10n);
    const results = await harness.store().createTransfers({
      transfers: [
        transferInput(from.id, to.id, 1n, { externalTransactionId: "dup" }),
        transferInput(from.id, to.id, 1n, { externalTransactionId: "dup" }),
      ],
      atomic: false,
    });
    expect(results.map((r) => (r.ok ? "ok" : r.error.reason))).toEqual([
      "ok",
      "EXTERNAL_ID_ALREADY_USED",
    ]);
  });

  it("gives one write the id when two processes race for it on different ledgers", async () => {
    const app = uniqueApp();
    const ledgers = await Promise.all(
      Array.from({ length: 8 }, () => openLedger(harness.store(), 0n, { app })),
    );
    const outcomes = await Promise.allSettled(
      ledgers.map((ledger, i) =>
        (i % 2 === 0 ? harness.store() : other).recordEntry(
          entryInput(ledger.id, "CREDIT_ADD", 1n, { externalTransactionId: "race" }),
        ),
      ),
    );
    const winners = outcomes.filter((o) => o.status === "fulfilled");
    expect(winners).toHaveLength(1);
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") {
        expect(outcome.reason).toMatchObject({ reason: "EXTERNAL_ID_ALREADY_USED" });
      }
    }
    expect(await harness.store().verifyInvariants()).toEqual([]);
  });
});
