/**
 * ReverseTransaction on PostgreSQL: compensating REVERSAL transactions, the
 * limit of what may be reversed (also under concurrency), every refusal
 * reason, and replays.
 */
import { describe, expect, it } from "vitest";
import type { Entry } from "../../src/domain/index.js";
import { entryInput, openLedger, rejection, reversalInput, useStore } from "./store-fixtures.js";

const harness = useStore();

async function spend(ledgerId: string, amountMinor: bigint): Promise<Entry> {
  return (await harness.store().recordEntry(entryInput(ledgerId, "CREDIT_SPEND", -amountMinor)))
    .value;
}

describe("reverseTransaction", () => {
  it("fully reverses a debit by default with one compensating REVERSAL entry", async () => {
    const ledger = await openLedger(harness.store(), 10n);
    const debit = await spend(ledger.id, 4n);
    const { value: reversal, replayed } = await harness.store().reverseTransaction(
      reversalInput(debit.transactionId, undefined, {
        description: "refund",
        metadata: { ticket: "42" },
      }),
    );
    expect(replayed).toBe(false);
    expect(reversal).toMatchObject({
      app: ledger.app,
      kind: "REVERSAL",
      amountMinor: 4n,
      reversedAmountMinor: 0n,
      reversesTransactionId: debit.transactionId,
    });
    expect(reversal.entries).toHaveLength(1);
    expect(reversal.entries[0]).toMatchObject({
      transactionId: reversal.id,
      ledgerId: ledger.id,
      sequence: 3n,
      operation: "REVERSAL",
      amountMinor: 4n,
      balanceAfterMinor: 10n,
      description: "refund",
      metadata: { ticket: "42" },
    });
    expect(await harness.store().getBalance({ ledgerId: ledger.id })).toMatchObject({
      balanceMinor: 10n,
      version: 3n,
    });
  });

  it("reverses a credit with a negative entry, in parts, until nothing remains", async () => {
    const ledger = await openLedger(harness.store());
    const credit = (await harness.store().recordEntry(entryInput(ledger.id, "CREDIT_ADD", 10n)))
      .value;
    const first = await harness.store().reverseTransaction(reversalInput(credit.transactionId, 3n));
    expect(first.value.entries[0]?.amountMinor).toBe(-3n);
    const rest = await harness.store().reverseTransaction(reversalInput(credit.transactionId));
    expect(rest.value.amountMinor).toBe(7n);
    expect((await harness.store().getLedger(ledger.id)).balanceMinor).toBe(0n);

    const error = await rejection(
      harness.store().reverseTransaction(reversalInput(credit.transactionId, 1n)),
      "REVERSAL_EXCEEDS_TRANSACTION",
    );
    expect(error.metadata).toEqual({
      transaction_id: credit.transactionId,
      amount: "1",
      reversible_amount: "0",
    });
    await rejection(
      harness.store().reverseTransaction(reversalInput(credit.transactionId)),
      "REVERSAL_EXCEEDS_TRANSACTION",
    );
  });

  it("refuses more than remains with REVERSAL_EXCEEDS_TRANSACTION", async () => {
    const ledger = await openLedger(harness.store(), 10n);
    const debit = await spend(ledger.id, 4n);
    await harness.store().reverseTransaction(reversalInput(debit.transactionId, 1n));
    const error = await rejection(
      harness.store().reverseTransaction(reversalInput(debit.transactionId, 4n)),
      "REVERSAL_EXCEEDS_TRANSACTION",
    );
    expect(error.metadata).toMatchObject({ amount: "4", reversible_amount: "3" });
  });

  it("refuses to reverse a reversal with TRANSACTION_NOT_REVERSIBLE", async () => {
    const ledger = await openLedger(harness.store(), 10n);
    const debit = await spend(ledger.id, 4n);
    const { value: reversal } = await harness
      .store()
      .reverseTransaction(reversalInput(debit.transactionId));
    const error = await rejection(
      harness.store().reverseTransaction(reversalInput(reversal.id)),
      "TRANSACTION_NOT_REVERSIBLE",
    );
    expect(error.metadata).toEqual({ transaction_id: reversal.id });
  });

  it("refuses an unknown transaction with TRANSACTION_NOT_FOUND", async () => {
    const transactionId = "01890000-0000-7000-8000-0000000000ff";
    const error = await rejection(
      harness.store().reverseTransaction(reversalInput(transactionId)),
      "TRANSACTION_NOT_FOUND",
    );
    expect(error.metadata).toEqual({ transaction_id: transactionId });
  });

  it("refuses a reversal that would take the ledger below its floor with INSUFFICIENT_FUNDS", async () => {
    const ledger = await openLedger(harness.store());
    const credit = (await harness.store().recordEntry(entryInput(ledger.id, "CREDIT_ADD", 5n)))
      .value;
    await spend(ledger.id, 4n);
    await rejection(
      harness.store().reverseTransaction(reversalInput(credit.transactionId)),
      "INSUFFICIENT_FUNDS",
    );
    const partial = await harness
      .store()
      .reverseTransaction(reversalInput(credit.transactionId, 1n));
    expect(partial.value.entries[0]?.balanceAfterMinor).toBe(0n);
  });

  it("refuses a reversal on a terminated ledger with LEDGER_TERMINATED", async () => {
    const ledger = await openLedger(harness.store(), 10n);
    const debit = await spend(ledger.id, 4n);
    await harness.store().terminateLedger({ ledgerId: ledger.id, voidPending: false });
    await rejection(
      harness.store().reverseTransaction(reversalInput(debit.transactionId)),
      "LEDGER_TERMINATED",
    );
  });

  it("replays the same key and request with the original reversal and no second effect, even once fully reversed", async () => {
    const ledger = await openLedger(harness.store(), 10n);
    const debit = await spend(ledger.id, 4n);
    const input = reversalInput(debit.transactionId);
    const first = await harness.store().reverseTransaction(input);
    const second = await harness.store().reverseTransaction(input);
    expect(second).toEqual({ value: first.value, replayed: true });
    expect(await harness.store().getLedger(ledger.id)).toMatchObject({
      balanceMinor: 10n,
      version: 3n,
    });
  });

  it("refuses the same key with a different reversal with IDEMPOTENCY_KEY_REUSED", async () => {
    const ledger = await openLedger(harness.store(), 10n);
    const debit = await spend(ledger.id, 4n);
    const input = reversalInput(debit.transactionId, 1n);
    await harness.store().reverseTransaction(input);
    await rejection(
      harness.store().reverseTransaction({ ...input, amountMinor: 2n }),
      "IDEMPOTENCY_KEY_REUSED",
    );
  });

  it("never reverses more than the original when partial reversals race", async () => {
    const ledger = await openLedger(harness.store(), 100n);
    const debit = await spend(ledger.id, 10n);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 25 }, () =>
        harness.store().reverseTransaction(reversalInput(debit.transactionId, 1n)),
      ),
    );
    const succeeded = outcomes.filter((outcome) => outcome.status === "fulfilled");
    expect(succeeded).toHaveLength(10);
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") {
        expect(outcome.reason).toMatchObject({ reason: "REVERSAL_EXCEEDS_TRANSACTION" });
      }
    }
    expect(await harness.store().getLedger(ledger.id)).toMatchObject({
      balanceMinor: 100n,
      version: 12n,
    });
    expect(await harness.store().verifyInvariants()).toEqual([]);
  });

  it("applies a reversal once when identical reversal requests race", async () => {
    const ledger = await openLedger(harness.store(), 10n);
    const debit = await spend(ledger.id, 4n);
    const input = reversalInput(debit.transactionId, 2n);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => harness.store().reverseTransaction(input)),
    );
    expect(results.filter((result) => !result.replayed)).toHaveLength(1);
    expect((await harness.store().getLedger(ledger.id)).balanceMinor).toBe(8n);
  });
});
