/**
 * Holds through the store: a PENDING transaction reserves a debit against
 * the floor (available) or awaits a credit, moves no balance, and is posted
 * (in full or in part), voided or expired; racing posts and voids have one
 * winner; the sweep of two stores (two processes) expires each hold once.
 * The clock is the store's, moved forward by the tests.
 */
import { describe, expect, it } from "vitest";
import type { Transaction } from "../../src/domain/index.js";
import type { PostgresLedgerStore } from "../../src/store/index.js";
import {
  entryInput,
  openLedger,
  rejection,
  reversalInput,
  transferInput,
  uniqueApp,
  uniqueKey,
  useClockedStores,
} from "./store-fixtures.js";

const harness = useClockedStores();
const { clock, moveClock } = harness;

const MINUTE_MS = 60_000;
const store = () => harness.store();

/** A debit of `amountMinor` held on the ledger, expiring in `ttlMs`. */
async function holdDebit(ledgerId: string, amountMinor: bigint, ttlMs = 10 * MINUTE_MS) {
  const { value } = await store().holdEntry(
    entryInput(ledgerId, "CREDIT_SPEND", -amountMinor, {
      hold: { expiresAt: new Date(clock().getTime() + ttlMs) },
    }),
  );
  return value;
}

async function figures(ledgerId: string) {
  const b = await store().getBalance({ ledgerId });
  return {
    balance: b.balanceMinor,
    available: b.availableMinor,
    debits: b.pendingDebitsMinor,
    credits: b.pendingCreditsMinor,
  };
}

async function settle<T>(promises: Promise<T>[]) {
  const results = await Promise.allSettled(promises);
  return {
    won: results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : [])),
    lost: results.flatMap((r) => (r.status === "rejected" ? [r.reason as { reason: string }] : [])),
  };
}

describe("a hold", () => {
  it("reserves a debit against the floor without moving the balance", async () => {
    const ledger = await openLedger(store(), 10n);
    const hold = await holdDebit(ledger.id, 7n);
    expect(hold).toMatchObject({ state: "PENDING", kind: "ENTRY", amountMinor: 7n, entries: [] });
    expect(hold.hold).toMatchObject({ heldAmountMinor: 7n, resolvedAt: undefined });
    expect(hold.hold?.entries.map((leg) => [leg.ledgerId, leg.amountMinor])).toEqual([
      [ledger.id, -7n],
    ]);
    expect(await figures(ledger.id)).toEqual({
      balance: 10n,
      available: 3n,
      debits: 7n,
      credits: 0n,
    });
    const tooMuch = await rejection(holdDebit(ledger.id, 4n), "INSUFFICIENT_FUNDS");
    expect(tooMuch.metadata).toMatchObject({ available: "3", amount: "-4" });
    await rejection(
      store().recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -4n)),
      "INSUFFICIENT_FUNDS",
    );
    await store().recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -3n));
    expect(await figures(ledger.id)).toMatchObject({ balance: 7n, available: 0n });
    const { items } = await store().listEntries({
      ledgerId: ledger.id,
      pageSize: 50,
      pageToken: "",
      occurredAfter: undefined,
      occurredBefore: undefined,
      reference: "",
      externalTransactionId: "",
    });
    expect(items.map((e) => e.amountMinor)).toEqual([-3n, 10n]);
  });

  it("posts in part: entries for the amount posted, the rest released", async () => {
    const ledger = await openLedger(store(), 10n);
    const hold = await holdDebit(ledger.id, 6n);
    await rejection(
      store().postPendingTransaction({
        transactionId: hold.id,
        amountMinor: 7n,
        idempotencyKey: uniqueKey(),
      }),
      "HOLD_AMOUNT_EXCEEDED",
    );
    const { value: posted } = await store().postPendingTransaction({
      transactionId: hold.id,
      amountMinor: 4n,
      idempotencyKey: uniqueKey(),
    });
    expect(posted).toMatchObject({ id: hold.id, state: "POSTED", amountMinor: 4n });
    expect(posted.hold?.heldAmountMinor).toBe(6n);
    expect(posted.entries.map((e) => [e.sequence, e.amountMinor, e.balanceAfterMinor])).toEqual([
      [2n, -4n, 6n],
    ]);
    expect(await figures(ledger.id)).toEqual({
      balance: 6n,
      available: 6n,
      debits: 0n,
      credits: 0n,
    });
    const again = await rejection(
      store().postPendingTransaction({
        transactionId: hold.id,
        amountMinor: undefined,
        idempotencyKey: uniqueKey(),
      }),
      "HOLD_NOT_PENDING",
    );
    expect(again.metadata).toMatchObject({ state: "POSTED" });
    const reversal = await store().reverseTransaction(reversalInput(hold.id));
    expect(reversal.value.amountMinor).toBe(4n);
    expect((await figures(ledger.id)).balance).toBe(10n);
  });

  it("is voided once; a void or post afterwards is HOLD_NOT_PENDING; a pending one cannot be reversed", async () => {
    const ledger = await openLedger(store(), 10n);
    const hold = await holdDebit(ledger.id, 5n);
    await rejection(
      store().reverseTransaction(reversalInput(hold.id)),
      "TRANSACTION_NOT_REVERSIBLE",
    );
    const { value } = await store().voidPendingTransaction({
      transactionId: hold.id,
      idempotencyKey: uniqueKey(),
    });
    expect(value.state).toBe("VOIDED");
    expect(await figures(ledger.id)).toEqual({
      balance: 10n,
      available: 10n,
      debits: 0n,
      credits: 0n,
    });
    await rejection(
      store().voidPendingTransaction({ transactionId: hold.id, idempotencyKey: uniqueKey() }),
      "HOLD_NOT_PENDING",
    );
    await rejection(
      store().postPendingTransaction({
        transactionId: hold.id,
        amountMinor: undefined,
        idempotencyKey: uniqueKey(),
      }),
      "HOLD_NOT_PENDING",
    );
    const plain = await store().recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -1n));
    const notHold = await rejection(
      store().voidPendingTransaction({
        transactionId: plain.value.transactionId,
        idempotencyKey: uniqueKey(),
      }),
      "HOLD_NOT_PENDING",
    );
    expect(notHold.message).toContain("not a hold");
  });

  it("of a transfer awaits the credit: not spendable until posted", async () => {
    const app = uniqueApp();
    const from = await openLedger(store(), 10n, { app });
    const to = await openLedger(store(), 0n, { app });
    const { value: hold } = await store().transfer(
      transferInput(from.id, to.id, 8n, { hold: { expiresAt: undefined } }),
    );
    expect(hold).toMatchObject({ kind: "TRANSFER", state: "PENDING" });
    expect(await figures(to.id)).toEqual({ balance: 0n, available: 0n, debits: 0n, credits: 8n });
    await rejection(
      store().recordEntry(entryInput(to.id, "CREDIT_SPEND", -1n)),
      "INSUFFICIENT_FUNDS",
    );
    const { value: posted } = await store().postPendingTransaction({
      transactionId: hold.id,
      amountMinor: undefined,
      idempotencyKey: uniqueKey(),
    });
    expect(posted.entries.map((e) => [e.ledgerId, e.amountMinor])).toEqual([
      [from.id, -8n],
      [to.id, 8n],
    ]);
    expect(await figures(from.id)).toEqual({ balance: 2n, available: 2n, debits: 0n, credits: 0n });
    expect(await figures(to.id)).toEqual({ balance: 8n, available: 8n, debits: 0n, credits: 0n });
  });

  it("replays its creation as it was made, and its post as posted", async () => {
    const ledger = await openLedger(store(), 10n);
    const input = entryInput(ledger.id, "CREDIT_SPEND", -3n, { hold: { expiresAt: undefined } });
    const { value: hold } = await store().holdEntry(input);
    const post = { transactionId: hold.id, amountMinor: 2n, idempotencyKey: uniqueKey() };
    await store().postPendingTransaction(post);
    const replayed = await store().holdEntry(input);
    expect(replayed).toMatchObject({
      replayed: true,
      value: { id: hold.id, state: "PENDING", amountMinor: 3n, entries: [] },
    });
    const repost = await store().postPendingTransaction(post);
    expect(repost).toMatchObject({ replayed: true, value: { state: "POSTED", amountMinor: 2n } });
    await rejection(
      store().postPendingTransaction({ ...post, amountMinor: 1n }),
      "IDEMPOTENCY_KEY_REUSED",
    );
    await rejection(store().recordEntry({ ...input, hold: undefined }), "IDEMPOTENCY_KEY_REUSED");
  });

  it("refuses with BALANCE_OVERFLOW what would take available beyond int64, whichever comes first", async () => {
    const spendAll = (id: string) =>
      store().recordEntry(entryInput(id, "CREDIT_SPEND", -(2n ** 63n - 1n)));
    const spentFirst = await openLedger(store(), 0n, { unbounded: true });
    await spendAll(spentFirst.id);
    await rejection(holdDebit(spentFirst.id, 5n), "BALANCE_OVERFLOW");
    const heldFirst = await openLedger(store(), 0n, { unbounded: true });
    await holdDebit(heldFirst.id, 5n);
    await rejection(spendAll(heldFirst.id), "BALANCE_OVERFLOW");
    expect(await figures(heldFirst.id)).toEqual({
      balance: 0n,
      available: -5n,
      debits: 5n,
      credits: 0n,
    });
  });

  it("refuses a deadline in the past or beyond the longest hold", async () => {
    const ledger = await openLedger(store(), 10n);
    const past = await rejection(holdDebit(ledger.id, 1n, -1), "INVALID_ARGUMENT");
    expect(past.metadata).toEqual({ field: "pending_expires_at" });
    await rejection(holdDebit(ledger.id, 1n, 31 * 24 * 60 * MINUTE_MS), "INVALID_ARGUMENT");
  });
});

describe("racing on one hold", () => {
  it("two posts: one wins, the other is HOLD_NOT_PENDING; the same key replays", async () => {
    const ledger = await openLedger(store(), 10n);
    const hold = await holdDebit(ledger.id, 5n);
    const post = (s: PostgresLedgerStore, key: string) =>
      s.postPendingTransaction({
        transactionId: hold.id,
        amountMinor: undefined,
        idempotencyKey: key,
      });
    const { won, lost } = await settle([
      post(store(), uniqueKey()),
      post(harness.other(), uniqueKey()),
    ]);
    expect(won).toHaveLength(1);
    expect(lost.map((e) => e.reason)).toEqual(["HOLD_NOT_PENDING"]);
    const second = await holdDebit(ledger.id, 2n);
    const key = uniqueKey();
    const both = await Promise.all([
      store().postPendingTransaction({
        transactionId: second.id,
        amountMinor: undefined,
        idempotencyKey: key,
      }),
      harness.other().postPendingTransaction({
        transactionId: second.id,
        amountMinor: undefined,
        idempotencyKey: key,
      }),
    ]);
    expect(both.map((r) => r.replayed).sort()).toEqual([false, true]);
    expect(both.map((r) => r.value.state)).toEqual(["POSTED", "POSTED"]);
    expect((await figures(ledger.id)).balance).toBe(3n);
  });

  it("a post and a void: exactly one wins", async () => {
    const ledger = await openLedger(store(), 10n);
    for (let round = 0; round < 5; round += 1) {
      const hold = await holdDebit(ledger.id, 1n);
      const { won, lost } = await settle<{ value: Transaction }>([
        store().postPendingTransaction({
          transactionId: hold.id,
          amountMinor: undefined,
          idempotencyKey: uniqueKey(),
        }),
        harness
          .other()
          .voidPendingTransaction({ transactionId: hold.id, idempotencyKey: uniqueKey() }),
      ]);
      expect(won).toHaveLength(1);
      expect(lost.map((e) => e.reason)).toEqual(["HOLD_NOT_PENDING"]);
    }
    const after = await figures(ledger.id);
    expect(after.debits).toBe(0n);
    expect(await store().verifyInvariants()).toEqual([]);
  });
});

describe("expiry", () => {
  it("stops reserving at the deadline, before any sweep; the sweep marks it EXPIRED once", async () => {
    const ledger = await openLedger(store(), 10n);
    const hold = await holdDebit(ledger.id, 6n, MINUTE_MS);
    moveClock(2 * MINUTE_MS);
    try {
      expect(await figures(ledger.id)).toEqual({
        balance: 10n,
        available: 10n,
        debits: 0n,
        credits: 0n,
      });
      const expired = await rejection(
        store().postPendingTransaction({
          transactionId: hold.id,
          amountMinor: undefined,
          idempotencyKey: uniqueKey(),
        }),
        "HOLD_EXPIRED",
      );
      expect(expired.metadata.pending_expires_at).toBe(hold.hold?.expiresAt.toISOString());
      const read = await store().getTransaction({ transactionId: hold.id });
      expect(read).toMatchObject({ state: "EXPIRED", hold: { resolvedAt: hold.hold?.expiresAt } });
      await store().recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -10n));
      expect(await store().expireHolds()).toBe(1);
      expect(await store().expireHolds()).toBe(0);
      await rejection(
        store().voidPendingTransaction({ transactionId: hold.id, idempotencyKey: uniqueKey() }),
        "HOLD_EXPIRED",
      );
      expect((await store().getTransaction({ transactionId: hold.id })).state).toBe("EXPIRED");
      expect(await store().verifyInvariants()).toEqual([]);
    } finally {
      moveClock(-2 * MINUTE_MS);
    }
  });

  it("of many holds by two stores at once: each expired exactly once", async () => {
    await store().expireHolds();
    const app = uniqueApp();
    const ledgers = await Promise.all(
      Array.from({ length: 4 }, () => openLedger(store(), 100n, { app })),
    );
    const holds = 40;
    for (let i = 0; i < holds; i += 1) {
      await holdDebit(ledgers[i % 4]?.id ?? "", 2n, MINUTE_MS);
    }
    moveClock(2 * MINUTE_MS);
    try {
      const counts = await Promise.all([store().expireHolds(), harness.other().expireHolds()]);
      expect(counts[0] + counts[1]).toBe(holds);
      for (const ledger of ledgers) {
        expect(await figures(ledger.id)).toEqual({
          balance: 100n,
          available: 100n,
          debits: 0n,
          credits: 0n,
        });
      }
      expect(await store().verifyInvariants()).toEqual([]);
    } finally {
      moveClock(-2 * MINUTE_MS);
    }
  });
});

describe("termination", () => {
  it("is refused while holds are open, unless it voids them (every leg)", async () => {
    const app = uniqueApp();
    const from = await openLedger(store(), 10n, { app });
    const to = await openLedger(store(), 0n, { app });
    const { value: hold } = await store().transfer(
      transferInput(from.id, to.id, 4n, { hold: { expiresAt: undefined } }),
    );
    const refused = await rejection(
      store().terminateLedger({ ledgerId: to.id, voidPending: false }),
      "LEDGER_HAS_PENDING_TRANSACTIONS",
    );
    expect(refused.metadata).toEqual({
      ledger_id: to.id,
      pending_debits: "0",
      pending_credits: "4",
    });
    const page = await store().listPendingTransactions({
      ledgerId: from.id,
      pageSize: 50,
      pageToken: "",
    });
    expect(page.items.map((t) => t.id)).toEqual([hold.id]);
    const { ledger: terminated } = await store().terminateLedger({
      ledgerId: to.id,
      voidPending: true,
    });
    expect(terminated.status).toBe("TERMINATED");
    expect((await store().getTransaction({ transactionId: hold.id })).state).toBe("VOIDED");
    expect(await figures(from.id)).toEqual({
      balance: 10n,
      available: 10n,
      debits: 0n,
      credits: 0n,
    });
    const empty = await store().listPendingTransactions({
      ledgerId: from.id,
      pageSize: 50,
      pageToken: "",
    });
    expect(empty.items).toEqual([]);
    expect(await store().verifyInvariants()).toEqual([]);
  });
});
