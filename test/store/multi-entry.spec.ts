/**
 * The schema and write path are not single-entry: a transaction may own
 * several entries on several ledgers (the shape of a coming Transfer), and
 * reversing it compensates every entry. Written through the write
 * pipeline's own posting and writing code, as a Transfer command will.
 */
import type { MikroORM } from "@mikro-orm/postgresql";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Posting, Transaction } from "../../src/domain/index.js";
import { resolveStoreConfig } from "../../src/store/config.js";
import { initOrm } from "../../src/store/orm.js";
import { lockLedgers } from "../../src/store/pipeline/load.js";
import { BatchState } from "../../src/store/pipeline/state.js";
import { writeBatch } from "../../src/store/pipeline/write.js";
import { createUnitOfWork, type UnitOfWork } from "../../src/store/unit-of-work.js";
import { openLedger, rejection, reversalInput, useStore } from "./store-fixtures.js";

const harness = useStore();
let orm: MikroORM;
let unit: UnitOfWork;

beforeAll(async () => {
  orm = await initOrm(harness.databaseUrl(), { poolSizeMax: 2, connectTimeoutMs: 2000 });
  unit = createUnitOfWork(orm, resolveStoreConfig({ databaseUrl: harness.databaseUrl() }));
});
afterAll(async () => {
  await orm?.close(true);
});

function posting(ledgerId: string, amountMinor: bigint): Posting {
  return {
    ledgerId,
    operation: "TRANSFER",
    amountMinor,
    occurredAt: new Date(),
    description: "",
    reference: "",
    metadata: {},
    externalTransactionId: "",
  };
}

/** Moves `amountMinor` from one ledger to another in one transaction with two entries. */
function transfer(
  app: string,
  fromId: string,
  toId: string,
  amountMinor: bigint,
): Promise<Transaction> {
  return unit.transaction(undefined, async (em) => {
    const ledgers = await lockLedgers(em, [toId, fromId].sort(), undefined);
    const state = BatchState.of({
      ledgers,
      transactions: new Map(),
      activeOwners: new Map(),
      externalIds: new Map(),
    });
    const posted = state.post({
      id: uuidv7(),
      app,
      kind: "TRANSFER",
      amountMinor,
      reversesTransactionId: undefined,
      externalTransactionId: "",
      createdAt: new Date(),
      postings: [posting(fromId, -amountMinor), posting(toId, amountMinor)],
    });
    await writeBatch(em, state.writes(), undefined);
    return posted;
  });
}

describe("a transaction with several entries", () => {
  it("posts one entry per ledger, chaining each ledger's sequence and balance", async () => {
    const from = await openLedger(harness.store(), 10n);
    const to = await openLedger(harness.store(), 0n, { app: from.app });
    const moved = await transfer(from.app, from.id, to.id, 4n);
    expect(
      moved.entries.map((entry) => [entry.ledgerId, entry.sequence, entry.amountMinor]),
    ).toEqual([
      [from.id, 2n, -4n],
      [to.id, 1n, 4n],
    ]);
    expect((await harness.store().getLedger(from.id)).balanceMinor).toBe(6n);
    expect((await harness.store().getLedger(to.id)).balanceMinor).toBe(4n);
    expect(await harness.store().verifyInvariants()).toEqual([]);
  });

  it("writes nothing when one of its entries is refused", async () => {
    const from = await openLedger(harness.store(), 3n);
    const to = await openLedger(harness.store(), 0n, { app: from.app });
    await rejection(transfer(from.app, from.id, to.id, 4n), "INSUFFICIENT_FUNDS");
    expect(await harness.store().getLedger(from.id)).toMatchObject({
      balanceMinor: 3n,
      version: 1n,
    });
    expect(await harness.store().getLedger(to.id)).toMatchObject({ balanceMinor: 0n, version: 0n });
  });

  it("is reversed entry by entry, partially and then fully, in the original's order", async () => {
    const from = await openLedger(harness.store(), 10n);
    const to = await openLedger(harness.store(), 0n, { app: from.app });
    const moved = await transfer(from.app, from.id, to.id, 5n);

    const partial = await harness.store().reverseTransaction(reversalInput(moved.id, 2n));
    expect(partial.value.entries.map((entry) => [entry.ledgerId, entry.amountMinor])).toEqual([
      [from.id, 2n],
      [to.id, -2n],
    ]);
    const rest = await harness.store().reverseTransaction(reversalInput(moved.id));
    expect(rest.value.amountMinor).toBe(3n);
    expect((await harness.store().getLedger(from.id)).balanceMinor).toBe(10n);
    expect((await harness.store().getLedger(to.id)).balanceMinor).toBe(0n);
    expect(await harness.store().verifyInvariants()).toEqual([]);
  });

  it("cannot be reversed once the receiving ledger has spent what it received", async () => {
    const from = await openLedger(harness.store(), 10n);
    const to = await openLedger(harness.store(), 0n, { app: from.app });
    const moved = await transfer(from.app, from.id, to.id, 5n);
    await transfer(from.app, to.id, from.id, 5n);
    await rejection(
      harness.store().reverseTransaction(reversalInput(moved.id)),
      "INSUFFICIENT_FUNDS",
    );
    expect(await harness.store().verifyInvariants()).toEqual([]);
  });

  it("never deadlocks when transfers in opposite directions race (ledgers lock in id order)", async () => {
    const a = await openLedger(harness.store(), 1000n);
    const b = await openLedger(harness.store(), 1000n, { app: a.app });
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        i % 2 === 0 ? transfer(a.app, a.id, b.id, 1n) : transfer(a.app, b.id, a.id, 1n),
      ),
    );
    expect((await harness.store().getLedger(a.id)).balanceMinor).toBe(1000n);
    expect((await harness.store().getLedger(b.id)).version).toBe(41n);
    expect(await harness.store().verifyInvariants()).toEqual([]);
  });
});
