/**
 * GetLedger, GetBalance and TerminateLedger on PostgreSQL: lookups by id and
 * by (app, owner, unit), what termination changes, and the reasons each
 * lookup fails with.
 */
import { describe, expect, it } from "vitest";
import { createInput, entryInput, openLedger, rejection, useStore } from "./store-fixtures.js";

const harness = useStore();
const ABSENT_ID = "01890000-0000-7000-8000-00000000abcd";

describe("getLedger", () => {
  it("returns a ledger with its current balance, version and floor", async () => {
    const ledger = await openLedger(harness.store(), 9n);
    expect(await harness.store().getLedger(ledger.id)).toEqual({
      ...ledger,
      balanceMinor: 9n,
      version: 1n,
      historyAt: expect.any(Date),
    });
  });

  it("returns terminated ledgers too, for audit", async () => {
    const ledger = await openLedger(harness.store());
    const { ledger: terminated } = await harness
      .store()
      .terminateLedger({ ledgerId: ledger.id, voidPending: false });
    expect(await harness.store().getLedger(ledger.id)).toEqual(terminated);
  });

  it("refuses an unknown id with LEDGER_NOT_FOUND", async () => {
    const error = await rejection(harness.store().getLedger(ABSENT_ID), "LEDGER_NOT_FOUND");
    expect(error.metadata).toEqual({ ledger_id: ABSENT_ID });
  });
});

describe("getBalance", () => {
  it("finds the active ledger by id and by (app, owner, unit)", async () => {
    const ledger = await openLedger(harness.store(), 4n);
    const expected = {
      ledgerId: ledger.id,
      balanceMinor: 4n,
      unit: "CREDITS",
      version: 1n,
      pendingDebitsMinor: 0n,
      pendingCreditsMinor: 0n,
      availableMinor: 4n,
    };
    expect(await harness.store().getBalance({ ledgerId: ledger.id })).toEqual(expected);
    const { app, ownerId, unit } = ledger;
    expect(await harness.store().getBalance({ app, ownerId, unit })).toEqual(expected);
  });

  it("finds the owner's new active ledger by key after an old one was terminated", async () => {
    const old = await openLedger(harness.store(), 4n);
    await harness.store().terminateLedger({ ledgerId: old.id, voidPending: false });
    const { app, ownerId, unit } = old;
    const current = await openLedger(harness.store(), 1n, { app, ownerId, unit });
    expect(await harness.store().getBalance({ app, ownerId, unit })).toMatchObject({
      ledgerId: current.id,
      balanceMinor: 1n,
    });
  });

  it("refuses a terminated ledger with LEDGER_TERMINATED, by id and by a key naming only terminated ledgers", async () => {
    const ledger = await openLedger(harness.store(), 4n);
    await harness.store().terminateLedger({ ledgerId: ledger.id, voidPending: false });
    const byId = await rejection(
      harness.store().getBalance({ ledgerId: ledger.id }),
      "LEDGER_TERMINATED",
    );
    expect(byId.metadata).toEqual({ ledger_id: ledger.id });
    const { app, ownerId, unit } = ledger;
    const byKey = await rejection(
      harness.store().getBalance({ app, ownerId, unit }),
      "LEDGER_TERMINATED",
    );
    expect(byKey.metadata).toEqual({ ledger_id: ledger.id });
  });

  it("refuses an unknown id or key with LEDGER_NOT_FOUND naming what was looked up", async () => {
    await rejection(harness.store().getBalance({ ledgerId: ABSENT_ID }), "LEDGER_NOT_FOUND");
    const { app, ownerId } = createInput();
    const error = await rejection(
      harness.store().getBalance({ app, ownerId, unit: "CREDITS" }),
      "LEDGER_NOT_FOUND",
    );
    expect(error.metadata).toEqual({ app, owner_id: ownerId, unit: "CREDITS" });
  });
});

describe("terminateLedger", () => {
  it("terminates once: status TERMINATED, terminated_at set, balance and history kept", async () => {
    const ledger = await openLedger(harness.store(), 6n);
    const before = Date.now();
    const { ledger: terminated, remainingMinor } = await harness
      .store()
      .terminateLedger({ ledgerId: ledger.id, voidPending: false });
    expect(terminated).toMatchObject({ id: ledger.id, status: "TERMINATED", balanceMinor: 6n });
    expect(remainingMinor).toBe(6n);
    expect(terminated.terminatedAt?.getTime()).toBeGreaterThanOrEqual(before);
    const page = await harness.store().listEntries({
      ledgerId: ledger.id,
      pageSize: 0,
      pageToken: "",
      occurredAfter: undefined,
      occurredBefore: undefined,
      reference: "",
      externalTransactionId: "",
    });
    expect(page.items).toHaveLength(1);
  });

  it("is idempotent: terminating again returns the ledger unchanged, terminated_at included", async () => {
    const ledger = await openLedger(harness.store());
    const first = await harness
      .store()
      .terminateLedger({ ledgerId: ledger.id, voidPending: false });
    const again = await harness
      .store()
      .terminateLedger({ ledgerId: ledger.id, voidPending: false });
    expect(again).toEqual(first);
  });

  it("serialises with writes: entries either land before termination or are refused after it", async () => {
    const ledger = await openLedger(harness.store(), 0n);
    const writes = Array.from({ length: 20 }, () =>
      harness.store().recordEntry(entryInput(ledger.id, "CREDIT_ADD", 1n)),
    );
    const termination = harness
      .store()
      .terminateLedger({ ledgerId: ledger.id, voidPending: false });
    const outcomes = await Promise.allSettled(writes);
    const { ledger: terminated } = await termination;
    const landed = outcomes.filter((outcome) => outcome.status === "fulfilled").length;
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") {
        expect(outcome.reason).toMatchObject({ reason: "LEDGER_TERMINATED" });
      }
    }
    expect(terminated.balanceMinor).toBe(BigInt(landed));
    expect(await harness.store().getLedger(ledger.id)).toEqual(terminated);
  });

  it("refuses an unknown id with LEDGER_NOT_FOUND", async () => {
    await rejection(
      harness.store().terminateLedger({ ledgerId: ABSENT_ID, voidPending: false }),
      "LEDGER_NOT_FOUND",
    );
  });
});
