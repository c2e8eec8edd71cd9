/**
 * Time through the store: history ordered by (created_at, sequence), entries
 * backdated into it that recompute later balances (or are refused with
 * nothing changed), balances as of past instants, validity windows, closing
 * a ledger with its remainder swept, and the expiry sweep of two stores
 * (two processes) closing each due ledger once. The clock is the store's,
 * moved by the tests (forward, and back to show a clock stepping back).
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Entry, Ledger, Termination } from "../../src/domain/index.js";
import { insertEntries } from "../support/database.js";
import {
  createInput,
  entryInput,
  openLedger,
  rejection,
  transferInput,
  uniqueApp,
  useClockedStores,
} from "./store-fixtures.js";

const harness = useClockedStores();
const { clock, moveClock } = harness;

const HOUR_MS = 3_600_000;
const store = () => harness.store();
const ago = (ms: number) => new Date(clock().getTime() - ms);
const ahead = (ms: number) => new Date(clock().getTime() + ms);

/** Every entry of a ledger, oldest first in history order. */
async function history(ledgerId: string): Promise<Entry[]> {
  const items: Entry[] = [];
  let pageToken = "";
  do {
    const page = await store().listEntries({
      ledgerId,
      pageSize: 2,
      pageToken,
      occurredAfter: undefined,
      occurredBefore: undefined,
      reference: "",
      externalTransactionId: "",
    });
    items.push(...page.items);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return items.reverse();
}

/** balance_after chains in history order and ends at the ledger's balance. */
async function expectChained(ledgerId: string): Promise<void> {
  const entries = await history(ledgerId);
  let running = 0n;
  for (const entry of entries) {
    running += entry.amountMinor;
    expect(entry.balanceAfterMinor, `entry ${entry.sequence}`).toBe(running);
  }
  expect((await store().getLedger(ledgerId)).balanceMinor).toBe(running);
}

/** A ledger with credits of 10, 20 and 30 created 3, 2 and 1 hours ago (by backdating). */
async function ledgerWithHistory(overrides = {}): Promise<Ledger> {
  const ledger = await openLedger(store(), 0n, overrides);
  for (const [hours, amount] of [
    [3, 10n],
    [2, 20n],
    [1, 30n],
  ] as const) {
    await store().recordEntry(
      entryInput(ledger.id, "CREDIT_ADD", amount, { createdAt: ago(hours * HOUR_MS) }),
    );
  }
  return ledger;
}

describe("history order", () => {
  it("puts a backdated entry in its place and recomputes every later balance", async () => {
    const ledger = await ledgerWithHistory();
    const at = ago(2.5 * HOUR_MS);
    const written = await store().recordEntry(
      entryInput(ledger.id, "CREDIT_SPEND", -5n, { createdAt: at }),
    );
    expect(written.recomputedEntries).toBe(2);
    expect(written.value).toMatchObject({ sequence: 4n, balanceAfterMinor: 5n, createdAt: at });
    expect(written.value.occurredAt).toEqual(at);
    const entries = await history(ledger.id);
    expect(entries.map((e) => [e.sequence, e.amountMinor, e.balanceAfterMinor])).toEqual([
      [1n, 10n, 10n],
      [4n, -5n, 5n],
      [2n, 20n, 25n],
      [3n, 30n, 55n],
    ]);
    await expectChained(ledger.id);
    expect((await store().getLedger(ledger.id)).version).toBe(4n);
  });

  it("places a backdate after the entries already at that instant, and before all of them from before the first", async () => {
    const ledger = await ledgerWithHistory();
    const [first] = await history(ledger.id);
    await store().recordEntry(
      entryInput(ledger.id, "CREDIT_ADD", 1n, { createdAt: first?.createdAt }),
    );
    const earliest = await store().recordEntry(
      entryInput(ledger.id, "CREDIT_ADD", 2n, { createdAt: ago(10 * HOUR_MS) }),
    );
    expect(earliest.recomputedEntries).toBe(4);
    expect((await history(ledger.id)).map((e) => e.sequence)).toEqual([5n, 1n, 4n, 2n, 3n]);
    await expectChained(ledger.id);
  });

  it("never writes an entry before the ledger's latest one when the clock steps back", async () => {
    const ledger = await openLedger(store(), 0n);
    const late = await store().recordEntry(
      entryInput(ledger.id, "CREDIT_ADD", 1n, { createdAt: clock() }),
    );
    moveClock(-HOUR_MS);
    try {
      const next = await store().recordEntry(entryInput(ledger.id, "CREDIT_ADD", 1n));
      expect(next.value.createdAt).toEqual(late.value.createdAt);
      expect(next.recomputedEntries).toBeUndefined();
    } finally {
      moveClock(HOUR_MS);
    }
    expect((await history(ledger.id)).map((e) => e.sequence)).toEqual([1n, 2n]);
  });

  it("refuses a backdated debit that breaks a later balance, naming the first entry, and changes nothing", async () => {
    const ledger = await ledgerWithHistory();
    const before = await history(ledger.id);
    const input = entryInput(ledger.id, "CREDIT_SPEND", -25n, { createdAt: ago(2.5 * HOUR_MS) });
    const error = await rejection(store().recordEntry(input), "INSUFFICIENT_FUNDS");
    // 10 - 25 = -15 at the backdated entry itself: it is the first to break the floor.
    expect(error.metadata).toMatchObject({ ledger_id: ledger.id, amount: "-25", balance: "10" });
    expect(error.metadata.sequence).toBe("4");
    const deeper = entryInput(ledger.id, "CREDIT_SPEND", -12n, { createdAt: ago(3.5 * HOUR_MS) });
    const named = await rejection(store().recordEntry(deeper), "INSUFFICIENT_FUNDS");
    expect(named.metadata.sequence).toBe("4");
    const later = entryInput(ledger.id, "CREDIT_SPEND", -12n, { createdAt: ago(2.9 * HOUR_MS) });
    const second = await rejection(store().recordEntry(later), "INSUFFICIENT_FUNDS");
    // 10 - 12 < 0 at the new entry; at 2.5 h the first stored entry would be 10 - 12 too.
    expect(second.metadata.sequence).toBe("4");
    const stored = entryInput(ledger.id, "CREDIT_SPEND", -11n, {
      createdAt: new Date((before[0]?.createdAt.getTime() ?? 0) + 1),
    });
    const firstStored = await rejection(store().recordEntry(stored), "INSUFFICIENT_FUNDS");
    expect(firstStored.metadata.sequence).toBe("4");
    expect(await history(ledger.id)).toEqual(before);
    // The key was not used: the same request succeeds once the history allows it.
    await store().recordEntry(
      entryInput(ledger.id, "CREDIT_ADD", 100n, { createdAt: ago(5 * HOUR_MS) }),
    );
    expect((await store().recordEntry(input)).recomputedEntries).toBe(2);
    await expectChained(ledger.id);
  });

  it("names a later stored entry when it is the first to break the floor", async () => {
    const ledger = await openLedger(store(), 0n);
    await store().recordEntry(
      entryInput(ledger.id, "CREDIT_ADD", 10n, { createdAt: ago(3 * HOUR_MS) }),
    );
    const spend = await store().recordEntry(
      entryInput(ledger.id, "CREDIT_SPEND", -8n, { createdAt: ago(2 * HOUR_MS) }),
    );
    await store().recordEntry(
      entryInput(ledger.id, "CREDIT_ADD", 50n, { createdAt: ago(1 * HOUR_MS) }),
    );
    const input = entryInput(ledger.id, "CREDIT_SPEND", -5n, { createdAt: ago(2.5 * HOUR_MS) });
    const error = await rejection(store().recordEntry(input), "INSUFFICIENT_FUNDS");
    expect(error.metadata).toMatchObject({
      entry_id: spend.value.id,
      sequence: "2",
      balance: "2",
      amount: "-5",
    });
  });

  it("refuses a backdate in the future, or past 100,000 later entries with BACKDATE_TOO_FAR", async () => {
    const ledger = await openLedger(store(), 0n);
    await rejection(
      store().recordEntry(entryInput(ledger.id, "CREDIT_ADD", 1n, { createdAt: ahead(60_000) })),
      "INVALID_ARGUMENT",
    );
    const from = ago(HOUR_MS);
    await insertEntries(harness.databaseUrl(), ledger.id, 100_001, from);
    const tooFar = await rejection(
      store().recordEntry(entryInput(ledger.id, "CREDIT_ADD", 1n, { createdAt: ago(2 * HOUR_MS) })),
      "BACKDATE_TOO_FAR",
    );
    expect(tooFar.metadata).toMatchObject({ ledger_id: ledger.id, entries_max: "100000" });
    // At the oldest entry's instant: exactly the 100,000 after it are recomputed.
    const fits = await store().recordEntry(
      entryInput(ledger.id, "CREDIT_ADD", 1n, { createdAt: new Date(from.getTime() + 1) }),
    );
    expect(fits.recomputedEntries).toBe(100_000);
    expect((await store().getLedger(ledger.id)).balanceMinor).toBe(100_002n);
  });

  it("applies several backdates and appends of one atomic call in order", async () => {
    const ledger = await ledgerWithHistory();
    const results = await store().recordEntries({
      atomic: true,
      entries: [
        entryInput(ledger.id, "CREDIT_ADD", 7n),
        entryInput(ledger.id, "CREDIT_SPEND", -3n, { createdAt: ago(1.5 * HOUR_MS) }),
        entryInput(ledger.id, "CREDIT_ADD", 4n, { createdAt: ago(2.5 * HOUR_MS) }),
        entryInput(ledger.id, "CREDIT_ADD", 1n),
      ],
    });
    expect(results.map((r) => (r.ok ? r.recomputedEntries : "failed"))).toEqual([
      undefined,
      2,
      4,
      undefined,
    ]);
    await expectChained(ledger.id);
    expect((await store().getLedger(ledger.id)).balanceMinor).toBe(69n);
  });
});

describe("balances as of an instant", () => {
  it("answers the running balance at any past instant, 0 before the first entry", async () => {
    const ledger = await ledgerWithHistory();
    await store().recordEntry(
      entryInput(ledger.id, "CREDIT_SPEND", -5n, { createdAt: ago(2.5 * HOUR_MS) }),
    );
    const asOf = async (ms: number) =>
      (await store().getBalance({ ledgerId: ledger.id, asOf: ago(ms) })).balanceMinor;
    expect(await asOf(4 * HOUR_MS)).toBe(0n);
    expect(await asOf(2.75 * HOUR_MS)).toBe(10n);
    expect(await asOf(2.25 * HOUR_MS)).toBe(5n);
    expect(await asOf(1.5 * HOUR_MS)).toBe(25n);
    expect(await asOf(0)).toBe(55n);
    const then = await store().getBalance({ ledgerId: ledger.id, asOf: ago(2.25 * HOUR_MS) });
    expect(then).toMatchObject({ version: 4n, unit: "CREDITS", availableMinor: 5n });
  });

  it("counts the holds open at that instant, reads terminated ledgers, and refuses the future", async () => {
    const ledger = await openLedger(store(), 20n);
    const hold = await store().holdEntry(
      entryInput(ledger.id, "CREDIT_SPEND", -8n, { hold: { expiresAt: ahead(HOUR_MS) } }),
    );
    const whileHeld = clock();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await store().voidPendingTransaction({
      transactionId: hold.value.id,
      idempotencyKey: `void-${hold.value.id}`,
    });
    await store().terminateLedger({ ledgerId: ledger.id, voidPending: false });
    expect(await store().getBalance({ ledgerId: ledger.id, asOf: whileHeld })).toMatchObject({
      balanceMinor: 20n,
      pendingDebitsMinor: 8n,
      availableMinor: 12n,
    });
    expect(await store().getBalance({ ledgerId: ledger.id, asOf: clock() })).toMatchObject({
      balanceMinor: 20n,
      pendingDebitsMinor: 0n,
    });
    await rejection(store().getBalance({ ledgerId: ledger.id }), "LEDGER_TERMINATED");
    await rejection(
      store().getBalance({ ledgerId: ledger.id, asOf: ahead(60_000) }),
      "INVALID_ARGUMENT",
    );
  });

  it("filters entries by created_at in history order", async () => {
    const ledger = await ledgerWithHistory();
    const page = await store().listEntries({
      ledgerId: ledger.id,
      pageSize: 10,
      pageToken: "",
      occurredAfter: undefined,
      occurredBefore: undefined,
      reference: "",
      externalTransactionId: "",
      createdAfter: ago(2.5 * HOUR_MS),
      createdBefore: ago(0.5 * HOUR_MS),
    });
    expect(page.items.map((e) => e.amountMinor)).toEqual([30n, 20n]);
  });
});

describe("validity windows", () => {
  it("refuses writes before valid_from and from valid_until on, and still reads", async () => {
    const sink = await openLedger(store(), 0n, { unbounded: true });
    const ledger = await openLedger(store(), 0n, {
      app: sink.app,
      validFrom: ahead(HOUR_MS),
      validUntil: ahead(2 * HOUR_MS),
      expireToLedgerId: sink.id,
    });
    expect(ledger).toMatchObject({ expireToLedgerId: sink.id });
    const early = await rejection(
      store().recordEntry(entryInput(ledger.id, "CREDIT_ADD", 5n)),
      "LEDGER_NOT_YET_VALID",
    );
    expect(early.metadata).toEqual({
      ledger_id: ledger.id,
      valid_from: ledger.validFrom?.toISOString(),
    });
    moveClock(1.5 * HOUR_MS);
    try {
      await store().recordEntry(entryInput(ledger.id, "CREDIT_ADD", 5n));
      await rejection(
        store().recordEntry(entryInput(ledger.id, "CREDIT_ADD", 1n, { createdAt: ago(HOUR_MS) })),
        "LEDGER_NOT_YET_VALID",
      );
      moveClock(HOUR_MS);
      const late = await rejection(
        store().transfer(transferInput(sink.id, ledger.id, 1n)),
        "LEDGER_EXPIRED",
      );
      expect(late.metadata.valid_until).toBe(ledger.validUntil?.toISOString());
      expect((await store().getBalance({ ledgerId: ledger.id })).balanceMinor).toBe(5n);
    } finally {
      moveClock(-(2.5 * HOUR_MS));
    }
  });

  it("checks where an expiring ledger's remainder goes", async () => {
    const app = uniqueApp();
    const sink = await openLedger(store(), 0n, { app, unbounded: true });
    const window = { validUntil: ahead(HOUR_MS) };
    const create = (overrides: object) => store().createLedger(createInput({ app, ...overrides }));
    await rejection(create({ ...window, expireToLedgerId: randomUUID() }), "LEDGER_NOT_FOUND");
    const elsewhere = await openLedger(store(), 0n);
    await rejection(create({ ...window, expireToLedgerId: elsewhere.id }), "INVALID_ARGUMENT");
    const usd = await openLedger(store(), 0n, { app, unit: "USD_CENTS" });
    await rejection(create({ ...window, expireToLedgerId: usd.id }), "INVALID_ARGUMENT");
    const expiring = await openLedger(store(), 0n, { app, ...window, expireToLedgerId: sink.id });
    await rejection(create({ ...window, expireToLedgerId: expiring.id }), "INVALID_ARGUMENT");
    await rejection(create({ validUntil: ago(1), expireToLedgerId: sink.id }), "INVALID_ARGUMENT");
    const closed = await openLedger(store(), 0n, { app });
    await store().terminateLedger({ ledgerId: closed.id, voidPending: false });
    await rejection(create({ ...window, expireToLedgerId: closed.id }), "LEDGER_TERMINATED");
  });
});

describe("closing a ledger with a remainder", () => {
  it("moves a positive remainder with a SWEEP transfer and says what was left otherwise", async () => {
    const app = uniqueApp();
    const source = await openLedger(store(), 12n, { app });
    const target = await openLedger(store(), 0n, { app });
    const closed = await store().terminateLedger({
      ledgerId: source.id,
      voidPending: false,
      sweepToLedgerId: target.id,
    });
    expect(closed.ledger).toMatchObject({ status: "TERMINATED", balanceMinor: 0n });
    expect(closed.remainingMinor).toBe(0n);
    expect(closed.sweep?.entries.map((e) => [e.ledgerId, e.operation, e.amountMinor])).toEqual([
      [source.id, "SWEEP", -12n],
      [target.id, "SWEEP", 12n],
    ]);
    expect((await store().getLedger(target.id)).balanceMinor).toBe(12n);
    const kept = await openLedger(store(), 3n, { app });
    const left = await store().terminateLedger({ ledgerId: kept.id, voidPending: false });
    expect(left).toMatchObject({ remainingMinor: 3n, sweep: undefined });
    // A closed target is refused even when there is nothing to move.
    const empty = await openLedger(store(), 0n, { app });
    await rejection(
      store().terminateLedger({
        ledgerId: empty.id,
        voidPending: false,
        sweepToLedgerId: source.id,
      }),
      "LEDGER_TERMINATED",
    );
  });

  it("settles a negative remainder from the target, whose floor applies, and refuses other apps", async () => {
    const app = uniqueApp();
    const debtor = await openLedger(store(), 0n, { app, minBalanceMinor: -10n });
    await store().recordEntry(entryInput(debtor.id, "CREDIT_SPEND", -6n));
    const poor = await openLedger(store(), 5n, { app });
    await rejection(
      store().terminateLedger({
        ledgerId: debtor.id,
        voidPending: false,
        sweepToLedgerId: poor.id,
      }),
      "INSUFFICIENT_FUNDS",
    );
    expect((await store().getLedger(debtor.id)).status).toBe("ACTIVE");
    const stranger = await openLedger(store(), 0n);
    await rejection(
      store().terminateLedger({
        ledgerId: debtor.id,
        voidPending: false,
        sweepToLedgerId: stranger.id,
      }),
      "APP_MISMATCH",
    );
    const source = await openLedger(store(), 0n, { app, unbounded: true });
    const settled = await store().terminateLedger({
      ledgerId: debtor.id,
      voidPending: false,
      sweepToLedgerId: source.id,
    });
    expect(settled.remainingMinor).toBe(0n);
    expect((await store().getLedger(source.id)).balanceMinor).toBe(-6n);
  });
});

describe("the expiry sweep", () => {
  it("voids holds, moves the positive remainder (EXPIRY) and closes each due ledger once across two stores", async () => {
    const app = uniqueApp();
    const expired = await openLedger(store(), 0n, { app, unbounded: true });
    const cards = await Promise.all(
      [1n, 2n, 3n, 4n, 5n, 6n].map(async (funds) => {
        const card = await openLedger(store(), 0n, {
          app,
          validUntil: ahead(HOUR_MS),
          expireToLedgerId: expired.id,
        });
        await store().recordEntry(entryInput(card.id, "CREDIT_ADD", funds * 10n));
        return card;
      }),
    );
    const [first] = cards;
    const hold = await store().holdEntry(
      entryInput(first?.id ?? "", "CREDIT_SPEND", -4n, { hold: { expiresAt: ahead(2 * HOUR_MS) } }),
    );
    expect((await store().expireLedgers()).filter((t) => t.ledger.app === app)).toEqual([]);
    moveClock(HOUR_MS);
    try {
      const ofApp = (closed: readonly Termination[]) => closed.filter((t) => t.ledger.app === app);
      const [mine, theirs] = (
        await Promise.all([store().expireLedgers(), harness.other().expireLedgers()])
      ).map(ofApp) as [Termination[], Termination[]];
      expect(mine.length + theirs.length).toBe(cards.length);
      expect(new Set([...mine, ...theirs].map((t) => t.ledger.id))).toEqual(
        new Set(cards.map((c) => c.id)),
      );
      for (const closed of [...mine, ...theirs]) {
        expect(closed).toMatchObject({ remainingMinor: 0n, ledger: { status: "TERMINATED" } });
        expect(closed.sweep?.entries.map((e) => e.operation)).toEqual(["EXPIRY", "EXPIRY"]);
      }
      expect(ofApp(await store().expireLedgers())).toEqual([]);
    } finally {
      moveClock(-HOUR_MS);
    }
    expect((await store().getLedger(expired.id)).balanceMinor).toBe(210n);
    expect((await store().getTransaction({ transactionId: hold.value.id })).state).toBe("VOIDED");
    for (const card of cards) {
      expect(await store().getLedger(card.id)).toMatchObject({ balanceMinor: 0n, version: 2n });
    }
  });

  it("leaves the remainder on the expired ledger when its target was closed since", async () => {
    const app = uniqueApp();
    const target = await openLedger(store(), 0n, { app, unbounded: true });
    const card = await openLedger(store(), 7n, {
      app,
      validUntil: ahead(HOUR_MS),
      expireToLedgerId: target.id,
    });
    await store().terminateLedger({ ledgerId: target.id, voidPending: false });
    moveClock(HOUR_MS);
    try {
      const swept = await store().expireLedgers();
      expect(swept.filter((t) => t.ledger.id === card.id)).toEqual([
        expect.objectContaining({ remainingMinor: 7n, sweep: undefined }),
      ]);
    } finally {
      moveClock(-HOUR_MS);
    }
  });
});
