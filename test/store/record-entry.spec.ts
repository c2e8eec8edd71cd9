/**
 * RecordEntry on PostgreSQL: one ENTRY transaction with one entry per call,
 * gapless sequences, chained balances, every refusal reason, and replays that
 * have no second effect.
 */
import { describe, expect, it } from "vitest";
import { INT64_MAX, type OperationRegistry } from "../../src/domain/index.js";
import { SHARED_OPERATIONS } from "../../src/store/app-operations.js";
import {
  createInput,
  entryInput,
  openLedger,
  rejection,
  reversalInput,
  useStore,
} from "./store-fixtures.js";

/** The shared operations plus one that may go either way, for one app only. */
const operations: OperationRegistry = {
  operationsFor: (app) =>
    new Map(
      [
        ...SHARED_OPERATIONS,
        ...(app === "adjustable"
          ? [{ name: "ADJUST", direction: "EITHER" as const, defaultAmountMinor: 0n }]
          : []),
      ].map((op) => [op.name, op]),
    ),
};

const harness = useStore({ operations });

describe("recordEntry", () => {
  it("records an entry with sequence 1, the operation's default amount, and occurred_at defaulting to now", async () => {
    const ledger = await openLedger(harness.store());
    const before = Date.now();
    const { value: entry, replayed } = await harness.store().recordEntry(
      entryInput(ledger.id, "SIGNUP_CREDIT", undefined, {
        description: "welcome",
        reference: "ref",
        metadata: { campaign: "x" },
        externalTransactionId: "ext-1",
      }),
    );
    expect(replayed).toBe(false);
    expect(entry).toMatchObject({
      ledgerId: ledger.id,
      sequence: 1n,
      operation: "SIGNUP_CREDIT",
      amountMinor: 3n,
      balanceAfterMinor: 3n,
      description: "welcome",
      reference: "ref",
      metadata: { campaign: "x" },
      externalTransactionId: "ext-1",
    });
    expect(entry.occurredAt.getTime()).toBe(entry.createdAt.getTime());
    expect(entry.createdAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(await harness.store().getLedger(ledger.id)).toMatchObject({
      balanceMinor: 3n,
      version: 1n,
    });
  });

  it("keeps a supplied occurred_at in the past", async () => {
    const ledger = await openLedger(harness.store());
    const occurredAt = new Date("2024-01-02T03:04:05.678Z");
    const { value } = await harness
      .store()
      .recordEntry(entryInput(ledger.id, "DAILY_REWARD", 1n, { occurredAt }));
    expect(value.occurredAt).toEqual(occurredAt);
  });

  it("numbers entries 1, 2, 3... and chains balance_after from the previous balance", async () => {
    const ledger = await openLedger(harness.store());
    const amounts = [10n, -3n, 5n, -12n];
    const entries = [];
    for (const amount of amounts) {
      const operation = amount > 0n ? "CREDIT_ADD" : "CREDIT_SPEND";
      entries.push(
        (await harness.store().recordEntry(entryInput(ledger.id, operation, amount))).value,
      );
    }
    expect(entries.map((entry) => entry.sequence)).toEqual([1n, 2n, 3n, 4n]);
    expect(entries.map((entry) => entry.balanceAfterMinor)).toEqual([10n, 7n, 12n, 0n]);
    const balance = await harness.store().getBalance({ ledgerId: ledger.id });
    expect(balance).toMatchObject({
      ledgerId: ledger.id,
      balanceMinor: 0n,
      unit: "CREDITS",
      version: 4n,
    });
  });

  it("records each entry as its own ENTRY transaction, reversible by its id", async () => {
    const ledger = await openLedger(harness.store(), 10n);
    const { value: entry } = await harness
      .store()
      .recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -4n));
    const { value: reversal } = await harness
      .store()
      .reverseTransaction(reversalInput(entry.transactionId));
    expect(reversal).toMatchObject({ reversesTransactionId: entry.transactionId, amountMinor: 4n });
  });

  it("refuses an operation the app does not define with UNKNOWN_OPERATION", async () => {
    const ledger = await openLedger(harness.store());
    const error = await rejection(
      harness.store().recordEntry(entryInput(ledger.id, "ADJUST", 1n)),
      "UNKNOWN_OPERATION",
    );
    expect(error.metadata).toEqual({ operation: "ADJUST", app: ledger.app });
  });

  it("refuses an amount whose sign contradicts the operation with AMOUNT_DIRECTION_MISMATCH", async () => {
    const ledger = await openLedger(harness.store(), 5n);
    await rejection(
      harness.store().recordEntry(entryInput(ledger.id, "CREDIT_SPEND", 1n)),
      "AMOUNT_DIRECTION_MISMATCH",
    );
    await rejection(
      harness.store().recordEntry(entryInput(ledger.id, "CREDIT_ADD", -1n)),
      "AMOUNT_DIRECTION_MISMATCH",
    );
  });

  it("posts either sign for an EITHER operation of the app's own registry", async () => {
    const ledger = await openLedger(harness.store(), 0n, createInput({ app: "adjustable" }));
    await harness.store().recordEntry(entryInput(ledger.id, "ADJUST", 4n));
    const { value } = await harness.store().recordEntry(entryInput(ledger.id, "ADJUST", -1n));
    expect(value.balanceAfterMinor).toBe(3n);
  });

  it("refuses a debit below the floor with INSUFFICIENT_FUNDS and leaves the ledger untouched", async () => {
    const ledger = await openLedger(harness.store(), 2n);
    const error = await rejection(
      harness.store().recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -3n)),
      "INSUFFICIENT_FUNDS",
    );
    expect(error.metadata).toEqual({
      ledger_id: ledger.id,
      balance: "2",
      available: "2",
      amount: "-3",
      min_balance: "0",
      unit: "CREDITS",
    });
    expect(await harness.store().getLedger(ledger.id)).toMatchObject({
      balanceMinor: 2n,
      version: 1n,
    });
  });

  it("lets a credit limit take the balance down to the negative floor and no further", async () => {
    const ledger = await openLedger(harness.store(), 0n, { minBalanceMinor: -5n });
    const { value } = await harness.store().recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -5n));
    expect(value.balanceAfterMinor).toBe(-5n);
    await rejection(
      harness.store().recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -1n)),
      "INSUFFICIENT_FUNDS",
    );
  });

  it("lets an unbounded ledger go arbitrarily negative", async () => {
    const ledger = await openLedger(harness.store(), 0n, { unbounded: true });
    const { value } = await harness
      .store()
      .recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -(10n ** 15n)));
    expect(value.balanceAfterMinor).toBe(-(10n ** 15n));
  });

  it("refuses a credit that would overflow int64 with BALANCE_OVERFLOW", async () => {
    const ledger = await openLedger(harness.store(), INT64_MAX);
    const error = await rejection(
      harness.store().recordEntry(entryInput(ledger.id, "CREDIT_ADD", 1n)),
      "BALANCE_OVERFLOW",
    );
    expect(error.metadata).toMatchObject({ ledger_id: ledger.id, balance: INT64_MAX.toString() });
    expect((await harness.store().getLedger(ledger.id)).balanceMinor).toBe(INT64_MAX);
  });

  it("refuses an unknown ledger with LEDGER_NOT_FOUND", async () => {
    const ledgerId = "01890000-0000-7000-8000-000000000000";
    const error = await rejection(
      harness.store().recordEntry(entryInput(ledgerId, "CREDIT_ADD", 1n)),
      "LEDGER_NOT_FOUND",
    );
    expect(error.metadata).toEqual({ ledger_id: ledgerId });
  });

  it("refuses a terminated ledger with LEDGER_TERMINATED", async () => {
    const ledger = await openLedger(harness.store(), 3n);
    await harness.store().terminateLedger({ ledgerId: ledger.id, voidPending: false });
    const error = await rejection(
      harness.store().recordEntry(entryInput(ledger.id, "CREDIT_ADD", 1n)),
      "LEDGER_TERMINATED",
    );
    expect(error.metadata).toEqual({ ledger_id: ledger.id });
  });

  it("replays the same key and request: the original entry, replayed=true, no second effect", async () => {
    const ledger = await openLedger(harness.store(), 10n);
    const input = entryInput(ledger.id, "CREDIT_SPEND", -4n);
    const first = await harness.store().recordEntry(input);
    const second = await harness.store().recordEntry(input);
    expect(second).toEqual({ value: first.value, replayed: true });
    expect(await harness.store().getLedger(ledger.id)).toMatchObject({
      balanceMinor: 6n,
      version: 2n,
    });
  });

  it("replays a succeeded write even after the ledger was terminated", async () => {
    const ledger = await openLedger(harness.store(), 10n);
    const input = entryInput(ledger.id, "CREDIT_SPEND", -1n);
    const first = await harness.store().recordEntry(input);
    await harness.store().terminateLedger({ ledgerId: ledger.id, voidPending: false });
    expect(await harness.store().recordEntry(input)).toEqual({
      value: first.value,
      replayed: true,
    });
  });

  it("refuses the same key with a different request, or for another method, with IDEMPOTENCY_KEY_REUSED", async () => {
    const ledger = await openLedger(harness.store(), 10n);
    const input = entryInput(ledger.id, "CREDIT_SPEND", -1n);
    await harness.store().recordEntry(input);
    await rejection(
      harness.store().recordEntry({ ...input, amountMinor: -2n }),
      "IDEMPOTENCY_KEY_REUSED",
    );
    const other = await openLedger(harness.store(), 0n, { app: ledger.app });
    await rejection(
      harness.store().recordEntry({ ...input, ledgerId: other.id }),
      "IDEMPOTENCY_KEY_REUSED",
    );
    await rejection(
      harness
        .store()
        .createLedger(createInput({ app: ledger.app, idempotencyKey: input.idempotencyKey })),
      "IDEMPOTENCY_KEY_REUSED",
    );
  });

  it("does not keep the key of a refused write: the same request succeeds once funds arrive", async () => {
    const ledger = await openLedger(harness.store());
    const spend = entryInput(ledger.id, "CREDIT_SPEND", -2n);
    await rejection(harness.store().recordEntry(spend), "INSUFFICIENT_FUNDS");
    await harness.store().recordEntry(entryInput(ledger.id, "CREDIT_ADD", 2n));
    const retried = await harness.store().recordEntry(spend);
    expect(retried.replayed).toBe(false);
    expect(retried.value.balanceAfterMinor).toBe(0n);
  });

  it("applies a request once when identical requests race: one effect, the others replayed", async () => {
    const ledger = await openLedger(harness.store(), 100n);
    const input = entryInput(ledger.id, "CREDIT_SPEND", -7n);
    const results = await Promise.all(
      Array.from({ length: 10 }, () => harness.store().recordEntry(input)),
    );
    expect(results.filter((result) => !result.replayed)).toHaveLength(1);
    expect(new Set(results.map((result) => result.value.id)).size).toBe(1);
    expect(await harness.store().getLedger(ledger.id)).toMatchObject({
      balanceMinor: 93n,
      version: 2n,
    });
  });

  it("applies a request once when exactly two identical requests race", async () => {
    const ledger = await openLedger(harness.store(), 1n);
    const input = entryInput(ledger.id, "CREDIT_SPEND", -1n);
    const [a, b] = await Promise.all([
      harness.store().recordEntry(input),
      harness.store().recordEntry(input),
    ]);
    expect([a.replayed, b.replayed].sort()).toEqual([false, true]);
    expect(a.value).toEqual(b.value);
    expect((await harness.store().getLedger(ledger.id)).balanceMinor).toBe(0n);
  });
});
