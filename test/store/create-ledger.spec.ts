/**
 * CreateLedger on PostgreSQL: defaults of the floor, one active ledger per
 * (app, owner, unit), and idempotent replays scoped to the app, racing
 * duplicates included.
 */
import { describe, expect, it } from "vitest";
import {
  createInput,
  entryInput,
  rejection,
  uniqueApp,
  uniqueKey,
  useStore,
} from "./store-fixtures.js";

const harness = useStore();

describe("createLedger", () => {
  it("opens an active ledger at balance 0 and version 0 with the default floor of 0", async () => {
    const input = createInput({ description: "wallet", reference: "ref-1", metadata: { a: "b" } });
    const { value, replayed } = await harness.store().createLedger(input);
    expect(replayed).toBe(false);
    expect(value).toMatchObject({
      app: input.app,
      ownerId: input.ownerId,
      unit: "CREDITS",
      description: "wallet",
      reference: "ref-1",
      metadata: { a: "b" },
      status: "ACTIVE",
      balanceMinor: 0n,
      minBalanceMinor: 0n,
      version: 0n,
      terminatedAt: undefined,
    });
    expect(value.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(await harness.store().getLedger(value.id)).toEqual(value);
  });

  it("stores a negative floor as a credit limit and an unbounded ledger without a floor", async () => {
    const limited = await harness.store().createLedger(createInput({ minBalanceMinor: -500n }));
    expect(limited.value.minBalanceMinor).toBe(-500n);
    const unbounded = await harness.store().createLedger(createInput({ unbounded: true }));
    expect(unbounded.value.minBalanceMinor).toBeUndefined();
    expect((await harness.store().getLedger(unbounded.value.id)).minBalanceMinor).toBeUndefined();
  });

  it("refuses a second active ledger for the same app, owner and unit with LEDGER_ALREADY_EXISTS naming the first", async () => {
    const first = await harness.store().createLedger(createInput());
    const { app, ownerId, unit } = first.value;
    const error = await rejection(
      harness.store().createLedger(createInput({ app, ownerId, unit })),
      "LEDGER_ALREADY_EXISTS",
    );
    expect(error.metadata).toEqual({ ledger_id: first.value.id, app, owner_id: ownerId, unit });
    const otherUnit = await harness
      .store()
      .createLedger(createInput({ app, ownerId, unit: "USD" }));
    expect(otherUnit.value.unit).toBe("USD");
  });

  it("allows a new active ledger once the previous one is terminated", async () => {
    const first = await harness.store().createLedger(createInput());
    const { app, ownerId, unit } = first.value;
    await harness.store().terminateLedger({ ledgerId: first.value.id, voidPending: false });
    const second = await harness.store().createLedger(createInput({ app, ownerId, unit }));
    expect(second.value.id).not.toBe(first.value.id);
  });

  it("replays the same key and request as the ledger was created, even after entries and termination", async () => {
    const input = createInput();
    const created = await harness.store().createLedger(input);
    await harness.store().recordEntry(entryInput(created.value.id, "CREDIT_ADD", 7n));
    await harness.store().terminateLedger({ ledgerId: created.value.id, voidPending: false });

    const replay = await harness.store().createLedger(input);
    expect(replay).toEqual({ value: created.value, replayed: true });
  });

  it("refuses the same key with a different request with IDEMPOTENCY_KEY_REUSED", async () => {
    const input = createInput();
    await harness.store().createLedger(input);
    const error = await rejection(
      harness.store().createLedger({ ...input, ownerId: "someone-else" }),
      "IDEMPOTENCY_KEY_REUSED",
    );
    expect(error.metadata).toEqual({ idempotency_key: input.idempotencyKey });
  });

  it("scopes keys to the app: the same key in another app is a new request", async () => {
    const idempotencyKey = uniqueKey();
    const a = await harness.store().createLedger(createInput({ idempotencyKey }));
    const b = await harness.store().createLedger(createInput({ idempotencyKey, app: uniqueApp() }));
    expect(b.replayed).toBe(false);
    expect(b.value.id).not.toBe(a.value.id);
  });

  it("does not keep the key of a refused request: a retry after the conflict is resolved succeeds", async () => {
    const first = await harness.store().createLedger(createInput());
    const { app, ownerId, unit } = first.value;
    const input = createInput({ app, ownerId, unit });
    await rejection(harness.store().createLedger(input), "LEDGER_ALREADY_EXISTS");
    await harness.store().terminateLedger({ ledgerId: first.value.id, voidPending: false });
    const retried = await harness.store().createLedger(input);
    expect(retried.replayed).toBe(false);
  });

  it("creates one ledger when identical requests race: one is created, the others replayed", async () => {
    const input = createInput();
    const results = await Promise.all(
      Array.from({ length: 8 }, () => harness.store().createLedger(input)),
    );
    const ids = new Set(results.map((result) => result.value.id));
    expect(ids.size).toBe(1);
    expect(results.filter((result) => !result.replayed)).toHaveLength(1);
    const page = await harness.store().listLedgers({
      app: input.app,
      ownerId: "",
      pageSize: 0,
      pageToken: "",
    });
    expect(page.items).toHaveLength(1);
  });

  it("creates one ledger when different keys race for the same owner: the rest get LEDGER_ALREADY_EXISTS", async () => {
    const template = createInput();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, () =>
        harness.store().createLedger({ ...template, idempotencyKey: uniqueKey() }),
      ),
    );
    const created = outcomes.filter((outcome) => outcome.status === "fulfilled");
    expect(created).toHaveLength(1);
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") {
        expect(outcome.reason).toMatchObject({ reason: "LEDGER_ALREADY_EXISTS" });
      }
    }
  });
});
