/**
 * Idempotency through each client. A replayed write (same key, same request)
 * returns the original result with replayed=true and has no second effect;
 * the same key with a different request is ALREADY_EXISTS
 * IDEMPOTENCY_KEY_REUSED; keys are scoped to the ledger's app; identical
 * requests racing each other take effect exactly once.
 */
import { describe, expect, it } from "vitest";
import {
  CLIENT_NAMES,
  type CreateLedgerParams,
  ERROR_DOMAIN,
  failureOf,
  type RecordEntryParams,
  type RpcFailure,
} from "../support/clients.js";
import { declaredApp, LEARNING, uniqueKey, uniqueOwner } from "../support/fixtures.js";
import { useLedgerServer } from "../support/server.js";
import { allEntries, openLedger, post, snapshot } from "../support/steps.js";

const harness = useLedgerServer();

/** Identical requests in flight at once. */
const RACERS = 8;

function expectKeyReused(failure: RpcFailure, idempotencyKey: string): void {
  expect(failure, failure.message).toMatchObject({
    code: "ALREADY_EXISTS",
    reason: "IDEMPOTENCY_KEY_REUSED",
    domain: ERROR_DOMAIN,
    metadata: expect.objectContaining({ idempotency_key: idempotencyKey }),
  });
}

describe.each(CLIENT_NAMES)("idempotency through %s", (clientName) => {
  const api = () => harness.client(clientName);

  it("CreateLedger replayed returns the same ledger, replayed=true, and opens nothing more", async () => {
    const request: CreateLedgerParams = {
      app: declaredApp(),
      ownerId: uniqueOwner(),
      unit: "CREDITS",
      minBalance: -20n,
      metadata: { a: "1" },
      idempotencyKey: uniqueKey(),
    };
    const first = await api().createLedger(request);
    const replay = await api().createLedger(request);

    expect(first.replayed).toBe(false);
    expect(replay).toEqual({ ...first, replayed: true });
    const listed = await api().listLedgers({ app: request.app, ownerId: request.ownerId });
    expect(listed.items.map((l) => l.id)).toEqual([first.value.id]);
  });

  it("CreateLedger with a used key and a different request is IDEMPOTENCY_KEY_REUSED", async () => {
    const request: CreateLedgerParams = {
      app: declaredApp(),
      ownerId: uniqueOwner(),
      unit: "CREDITS",
      idempotencyKey: uniqueKey(),
    };
    const first = await api().createLedger(request);
    const otherOwner = uniqueOwner();
    const reused = await failureOf(api().createLedger({ ...request, ownerId: otherOwner }));
    expectKeyReused(reused, request.idempotencyKey);
    const changedFloor = await failureOf(api().createLedger({ ...request, minBalance: -1n }));
    expectKeyReused(changedFloor, request.idempotencyKey);

    const listed = await api().listLedgers({ app: request.app, ownerId: request.ownerId });
    expect(listed.items.map((l) => l.id)).toEqual([first.value.id]);
    const others = await api().listLedgers({ app: request.app, ownerId: otherOwner });
    expect(others.items).toEqual([]);
  });

  it("RecordEntry replayed returns the original entry and moves the balance once", async () => {
    const ledger = await openLedger(api());
    const request: RecordEntryParams = {
      ledgerId: ledger.id,
      operation: "CREDIT_ADD",
      amount: 25n,
      description: "top-up",
      metadata: { order: "o-1" },
      idempotencyKey: uniqueKey(),
    };
    const first = await api().recordEntry(request);
    await post(api(), ledger.id, "CREDIT_SPEND", -5n);
    const replay = await api().recordEntry(request);

    expect(first.replayed).toBe(false);
    expect(replay).toEqual({ ...first, replayed: true });
    expect(await snapshot(api(), ledger.id)).toEqual({
      balance: 20n,
      version: 2n,
      entryCount: 2,
    });
  });

  it("RecordEntry with an absent amount and occurred_at replays too (defaults are not part of the key)", async () => {
    const ledger = await openLedger(api());
    const request: RecordEntryParams = {
      ledgerId: ledger.id,
      operation: "DAILY_REWARD",
      idempotencyKey: uniqueKey(),
    };
    const first = await api().recordEntry(request);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const replay = await api().recordEntry(request);
    expect(replay).toEqual({ ...first, replayed: true });
    expect((await api().getLedger(ledger.id)).balance).toBe(1n);
  });

  it("a replay after the ledger was terminated still returns the original result", async () => {
    const ledger = await openLedger(api());
    const request: RecordEntryParams = {
      ledgerId: ledger.id,
      operation: "SIGNUP_CREDIT",
      idempotencyKey: uniqueKey(),
    };
    const first = await api().recordEntry(request);
    await api().terminateLedger(ledger.id);

    expect(await api().recordEntry(request)).toEqual({ ...first, replayed: true });
    const fresh = await failureOf(api().recordEntry({ ...request, idempotencyKey: uniqueKey() }));
    expect(fresh.reason).toBe("LEDGER_TERMINATED");
  });

  it("RecordEntry with a used key and a different request is refused, even on another ledger of the app", async () => {
    const ledger = await openLedger(api());
    const sibling = await openLedger(api(), { app: ledger.app });
    const key = uniqueKey();
    await api().recordEntry({ ledgerId: ledger.id, operation: "CREDIT_ADD", idempotencyKey: key });
    const before = await snapshot(api(), ledger.id);
    const siblingBefore = await snapshot(api(), sibling.id);

    const variants: RecordEntryParams[] = [
      { ledgerId: ledger.id, operation: "CREDIT_ADD", amount: 11n, idempotencyKey: key },
      { ledgerId: ledger.id, operation: "SIGNUP_CREDIT", idempotencyKey: key },
      { ledgerId: ledger.id, operation: "CREDIT_ADD", description: "x", idempotencyKey: key },
      { ledgerId: sibling.id, operation: "CREDIT_ADD", idempotencyKey: key },
    ];
    for (const variant of variants) {
      expectKeyReused(await failureOf(api().recordEntry(variant)), key);
    }
    expect(await snapshot(api(), ledger.id)).toEqual(before);
    expect(await snapshot(api(), sibling.id)).toEqual(siblingBefore);
  });

  it("keys are scoped to the app: the same key in another app is a new request", async () => {
    const key = uniqueKey();
    const here = await openLedger(api());
    const there = await openLedger(api(), { app: LEARNING });
    expect(here.app).not.toBe(there.app);
    const a = await api().recordEntry({
      ledgerId: here.id,
      operation: "CREDIT_ADD",
      idempotencyKey: key,
    });
    const b = await api().recordEntry({
      ledgerId: there.id,
      operation: "CREDIT_ADD",
      amount: 7n,
      idempotencyKey: key,
    });
    expect([a.replayed, b.replayed]).toEqual([false, false]);
    expect(b.value.id).not.toBe(a.value.id);
    expect((await api().getLedger(there.id)).balance).toBe(7n);
  });

  it("a refused write does not use up its key: retried after a top-up, it takes effect", async () => {
    const ledger = await openLedger(api());
    const spend: RecordEntryParams = {
      ledgerId: ledger.id,
      operation: "CREDIT_SPEND",
      amount: -5n,
      idempotencyKey: uniqueKey(),
    };
    const refused = await failureOf(api().recordEntry(spend));
    expect(refused.reason).toBe("INSUFFICIENT_FUNDS");

    await post(api(), ledger.id, "CREDIT_ADD");
    const retried = await api().recordEntry(spend);
    expect(retried.replayed).toBe(false);
    expect(retried.value.balanceAfter).toBe(5n);
  });

  it("ReverseTransaction replayed returns the original reversal and reverses once", async () => {
    const ledger = await openLedger(api());
    const credit = await post(api(), ledger.id, "CREDIT_ADD", 100n);
    const request = {
      transactionId: credit.transactionId,
      amount: 40n,
      idempotencyKey: uniqueKey(),
    };
    const first = await api().reverseTransaction(request);
    const replay = await api().reverseTransaction(request);

    expect(first.replayed).toBe(false);
    expect(replay).toEqual({ ...first, replayed: true });
    const rest = await api().reverseTransaction({
      transactionId: credit.transactionId,
      idempotencyKey: uniqueKey(),
    });
    expect(rest.value.amount).toBe(60n);
    expect(await snapshot(api(), ledger.id)).toEqual({ balance: 0n, version: 3n, entryCount: 3 });
  });

  it("ReverseTransaction with a used key and a different request is IDEMPOTENCY_KEY_REUSED", async () => {
    const ledger = await openLedger(api());
    const credit = await post(api(), ledger.id, "CREDIT_ADD", 100n);
    const key = uniqueKey();
    await api().reverseTransaction({
      transactionId: credit.transactionId,
      amount: 10n,
      idempotencyKey: key,
    });
    const before = await snapshot(api(), ledger.id);

    expectKeyReused(
      await failureOf(
        api().reverseTransaction({
          transactionId: credit.transactionId,
          amount: 20n,
          idempotencyKey: key,
        }),
      ),
      key,
    );
    expectKeyReused(
      await failureOf(
        api().recordEntry({ ledgerId: ledger.id, operation: "CREDIT_ADD", idempotencyKey: key }),
      ),
      key,
    );
    expect(await snapshot(api(), ledger.id)).toEqual(before);
  });

  it(`${RACERS} identical RecordEntry requests racing take effect once; the others are replays`, async () => {
    const ledger = await openLedger(api());
    const request: RecordEntryParams = {
      ledgerId: ledger.id,
      operation: "CREDIT_ADD",
      amount: 9n,
      idempotencyKey: uniqueKey(),
    };
    const results = await Promise.all(
      Array.from({ length: RACERS }, () => api().recordEntry(request)),
    );

    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(new Set(results.map((r) => r.value.id)).size).toBe(1);
    for (const result of results) {
      expect(result.value).toEqual(results[0]?.value);
    }
    expect(await snapshot(api(), ledger.id)).toEqual({ balance: 9n, version: 1n, entryCount: 1 });
  });

  it(`${RACERS} identical CreateLedger requests racing open one ledger`, async () => {
    const request: CreateLedgerParams = {
      app: declaredApp(),
      ownerId: uniqueOwner(),
      unit: "CREDITS",
      idempotencyKey: uniqueKey(),
    };
    const results = await Promise.all(
      Array.from({ length: RACERS }, () => api().createLedger(request)),
    );
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(new Set(results.map((r) => r.value.id)).size).toBe(1);
    expect(
      (await api().listLedgers({ app: request.app, ownerId: request.ownerId })).items,
    ).toHaveLength(1);
  });

  it(`${RACERS} identical ReverseTransaction requests racing reverse once`, async () => {
    const ledger = await openLedger(api());
    const credit = await post(api(), ledger.id, "CREDIT_ADD", 50n);
    const request = {
      transactionId: credit.transactionId,
      amount: 5n,
      idempotencyKey: uniqueKey(),
    };
    const results = await Promise.all(
      Array.from({ length: RACERS }, () => api().reverseTransaction(request)),
    );
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(new Set(results.map((r) => r.value.id)).size).toBe(1);
    const entries = await allEntries(api(), ledger.id);
    expect(entries.map((e) => e.amount)).toEqual([-5n, 50n]);
  });
});
