/**
 * Amount policies on PostgreSQL: a fixed operation records its default only
 * (left out or sent exactly), a bounded one a magnitude from min to max
 * (both included); anything else is refused AMOUNT_NOT_ALLOWED (after the
 * direction check) with nothing written and the idempotency key left
 * unused: for RecordEntry, held entries, bulk items, and transfers that
 * name the operation (on the transfer's magnitude). DAILY_REWARD is fixed in
 * proto; the bounded WAGER exists only in this file's hand-built registry.
 */
import { describe, expect, it } from "vitest";
import {
  createOperationRegistry,
  type Ledger,
  type OperationPolicy,
  type RecordEntryInput,
} from "../../src/domain/index.js";
import { SHARED_OPERATIONS } from "../../src/store/app-operations.js";
import {
  entryInput,
  openLedger,
  rejection,
  transferInput,
  uniqueKey,
  useStore,
} from "./store-fixtures.js";

const APP = "content";

/** A debit of 2 to 50 (magnitude), 5 by default. */
const WAGER: OperationPolicy = {
  name: "WAGER",
  direction: "DEBIT",
  defaultAmountMinor: -5n,
  amountMinAbsMinor: 2n,
  amountMaxAbsMinor: 50n,
};

/** A fee of exactly 5. */
const FEE: OperationPolicy = {
  name: "FEE",
  direction: "DEBIT",
  defaultAmountMinor: -5n,
  fixed: true,
};

const harness = useStore({
  operations: createOperationRegistry({
    shared: SHARED_OPERATIONS,
    apps: [{ app: APP, operations: [...SHARED_OPERATIONS, WAGER, FEE] }],
  }),
});
const store = () => harness.store();

let owners = 0;
/** A ledger of APP for a fresh owner, funded with 100 by CREDIT_ADD. */
async function funded(): Promise<Ledger> {
  owners += 1;
  return openLedger(store(), 100n, { app: APP, ownerId: `policy-${Date.now()}-${owners}` });
}

/** Refused AMOUNT_NOT_ALLOWED with `metadata`, the ledger untouched, and its key still free. */
async function refusedAndUnwritten(
  ledger: Ledger,
  input: RecordEntryInput,
  metadata: Record<string, string>,
): Promise<void> {
  const before = await store().getLedger(ledger.id);
  const write = input.hold === undefined ? store().recordEntry(input) : store().holdEntry(input);
  const error = await rejection(write, "AMOUNT_NOT_ALLOWED");
  expect(error.metadata).toEqual(metadata);
  expect(await store().getLedger(ledger.id)).toEqual(before);
  // The key was not used: a valid request under it is a fresh write, not a replay or a conflict.
  const retried = await store().recordEntry(
    entryInput(ledger.id, "CREDIT_ADD", 1n, { idempotencyKey: input.idempotencyKey }),
  );
  expect(retried.replayed).toBe(false);
}

describe("a fixed operation (DAILY_REWARD, +1)", () => {
  it("records its default when the amount is left out or sent exactly", async () => {
    const ledger = await funded();
    const absent = await store().recordEntry(entryInput(ledger.id, "DAILY_REWARD"));
    const exact = await store().recordEntry(entryInput(ledger.id, "DAILY_REWARD", 1n));
    expect([absent.value.amountMinor, exact.value.amountMinor]).toEqual([1n, 1n]);
    expect((await store().getLedger(ledger.id)).balanceMinor).toBe(102n);
  });

  it("refuses any other amount with AMOUNT_NOT_ALLOWED, writing nothing, its key unused", async () => {
    const ledger = await funded();
    for (const amount of [1000n, 2n]) {
      await refusedAndUnwritten(ledger, entryInput(ledger.id, "DAILY_REWARD", amount), {
        operation: "DAILY_REWARD",
        amount: amount.toString(),
        fixed_amount: "1",
      });
    }
    // The sign is judged first.
    await rejection(
      store().recordEntry(entryInput(ledger.id, "DAILY_REWARD", -1n)),
      "AMOUNT_DIRECTION_MISMATCH",
    );
  });

  it("holds only its default too", async () => {
    const ledger = await funded();
    const hold = { hold: { expiresAt: undefined } };
    await refusedAndUnwritten(ledger, entryInput(ledger.id, "DAILY_REWARD", 5n, hold), {
      operation: "DAILY_REWARD",
      amount: "5",
      fixed_amount: "1",
    });
    const held = await store().holdEntry(entryInput(ledger.id, "DAILY_REWARD", undefined, hold));
    expect(held.value.amountMinor).toBe(1n);
  });

  it("refuses a bulk item with another amount: alone when not atomic, the whole call when atomic", async () => {
    const ledger = await funded();
    const before = await store().getLedger(ledger.id);
    const items = () => [
      entryInput(ledger.id, "CREDIT_ADD", 7n),
      entryInput(ledger.id, "DAILY_REWARD", 3n),
    ];
    const atomic = items();
    const error = await rejection(
      store().recordEntries({ entries: atomic, atomic: true }),
      "AMOUNT_NOT_ALLOWED",
    );
    expect(error.metadata).toMatchObject({ index: "1", operation: "DAILY_REWARD", amount: "3" });
    expect(await store().getLedger(ledger.id)).toEqual(before);

    const results = await store().recordEntries({ entries: items(), atomic: false });
    expect(results.map((r) => (r.ok ? "ok" : r.error.reason))).toEqual([
      "ok",
      "AMOUNT_NOT_ALLOWED",
    ]);
    expect((await store().getLedger(ledger.id)).balanceMinor).toBe(107n);
    // Neither refused item used its key.
    for (const refused of [atomic[1], atomic[0]]) {
      const again = await store().recordEntry({
        ...(refused as RecordEntryInput),
        amountMinor: 1n,
      });
      expect(again.replayed).toBe(false);
    }
  });

  it("lets a transfer under it move exactly 1, nothing else", async () => {
    const [from, to] = [await funded(), await funded()];
    const refused = transferInput(from.id, to.id, 2n, { operation: "DAILY_REWARD" });
    const error = await rejection(store().transfer(refused), "AMOUNT_NOT_ALLOWED");
    expect(error.metadata).toEqual({ operation: "DAILY_REWARD", amount: "2", fixed_amount: "1" });
    expect((await store().getLedger(from.id)).version).toBe(1n);
    const moved = await store().transfer(
      transferInput(from.id, to.id, 1n, {
        operation: "DAILY_REWARD",
        idempotencyKey: refused.idempotencyKey,
      }),
    );
    expect([moved.replayed, moved.value.amountMinor]).toEqual([false, 1n]);
  });
});

describe("a bounded operation (WAGER, a debit of |amount| 2 to 50)", () => {
  const bounds = { operation: "WAGER", amount_min_abs: "2", amount_max_abs: "50" };

  it("records min, max and the default, and refuses min-1 and max+1", async () => {
    const ledger = await funded();
    const recorded = [];
    for (const amount of [-2n, -50n, undefined]) {
      recorded.push((await store().recordEntry(entryInput(ledger.id, "WAGER", amount))).value);
    }
    expect(recorded.map((e) => e.amountMinor)).toEqual([-2n, -50n, -5n]);
    for (const amount of [-1n, -51n]) {
      await refusedAndUnwritten(ledger, entryInput(ledger.id, "WAGER", amount), {
        ...bounds,
        amount: amount.toString(),
      });
    }
    await rejection(
      store().recordEntry(entryInput(ledger.id, "WAGER", 10n)),
      "AMOUNT_DIRECTION_MISMATCH",
    );
  });

  it("bounds a transfer's magnitude the same way", async () => {
    const [from, to] = [await funded(), await funded()];
    for (const amount of [1n, 51n]) {
      const error = await rejection(
        store().transfer(transferInput(from.id, to.id, amount, { operation: "WAGER" })),
        "AMOUNT_NOT_ALLOWED",
      );
      expect(error.metadata).toEqual({ ...bounds, amount: amount.toString() });
    }
    const results = await store().createTransfers({
      transfers: [2n, 50n, 51n].map((amount) =>
        transferInput(from.id, to.id, amount, { operation: "WAGER", idempotencyKey: uniqueKey() }),
      ),
      atomic: false,
    });
    expect(results.map((r) => (r.ok ? r.value.amountMinor : r.error.reason))).toEqual([
      2n,
      50n,
      "AMOUNT_NOT_ALLOWED",
    ]);
    expect((await store().getLedger(to.id)).balanceMinor).toBe(152n);
  });
});

describe("a partial post of a hold", () => {
  const hold = { hold: { expiresAt: undefined } };
  const post = (transactionId: string, amountMinor: bigint) =>
    store().postPendingTransaction({ transactionId, amountMinor, idempotencyKey: uniqueKey() });

  it("keeps a fixed operation whole: only the held amount posts", async () => {
    const ledger = await funded();
    const held = await store().holdEntry(entryInput(ledger.id, "FEE", undefined, hold));
    const error = await rejection(post(held.value.id, 3n), "AMOUNT_NOT_ALLOWED");
    expect(error.metadata).toEqual({
      operation: "FEE",
      amount: "3",
      fixed_amount: "-5",
    });
    expect((await store().getTransaction({ transactionId: held.value.id })).state).toBe("PENDING");
    const whole = await post(held.value.id, 5n);
    expect(whole.value.entries.map((entry) => entry.amountMinor)).toEqual([-5n]);
  });

  it("posts a bounded operation's part only within its bounds", async () => {
    const ledger = await funded();
    const held = await store().holdEntry(entryInput(ledger.id, "WAGER", -40n, hold));
    const error = await rejection(post(held.value.id, 1n), "AMOUNT_NOT_ALLOWED");
    expect(error.metadata).toEqual({
      operation: "WAGER",
      amount: "1",
      amount_min_abs: "2",
      amount_max_abs: "50",
    });
    const part = await post(held.value.id, 2n);
    expect(part.value.entries.map((entry) => entry.amountMinor)).toEqual([-2n]);
    expect((await store().getLedger(ledger.id)).balanceMinor).toBe(98n);
  });
});
