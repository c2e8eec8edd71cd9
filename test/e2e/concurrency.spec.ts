/**
 * Concurrent writes through the real server and PostgreSQL never overspend,
 * never over-reverse and never break a ledger's chain: exactly as many
 * debits succeed as the balance allows, the rest are INSUFFICIENT_FUNDS,
 * sequences stay gapless, and the store's own invariant check agrees with
 * what ListEntries shows.
 */
import { describe, expect, it } from "vitest";
import { verifyInvariants } from "../../src/store/index.js";
import {
  type ClientName,
  ERROR_DOMAIN,
  failureOf,
  type LedgerApi,
  RpcFailure,
} from "../support/clients.js";
import { uniqueKey } from "../support/fixtures.js";
import { useLedgerServer } from "../support/server.js";
import { expectConsistentHistory, openLedger, post } from "../support/steps.js";

const harness = useLedgerServer();

type Outcome = { ok: true } | { ok: false; failure: RpcFailure };

async function outcome(call: Promise<unknown>): Promise<Outcome> {
  try {
    await call;
    return { ok: true };
  } catch (error) {
    if (error instanceof RpcFailure) {
      return { ok: false, failure: error };
    }
    throw error;
  }
}

function tally(outcomes: readonly Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) {
    const label = o.ok ? "OK" : `${o.failure.code}/${o.failure.reason}`;
    counts[label] = (counts[label] ?? 0) + 1;
  }
  return counts;
}

async function expectStoreInvariants(): Promise<void> {
  const report = await verifyInvariants(harness.server().store);
  expect(report).toEqual([]);
}

/**
 * `spenders` concurrent CREDIT_SPEND -1, each with its own key, against a
 * ledger holding `funds`: exactly `funds` succeed.
 */
async function raceSpends(api: LedgerApi, funds: bigint, spenders: number): Promise<string> {
  const ledger = await openLedger(api);
  await post(api, ledger.id, "CREDIT_ADD", funds);

  const outcomes = await Promise.all(
    Array.from({ length: spenders }, (_, i) =>
      outcome(
        api.recordEntry({
          ledgerId: ledger.id,
          operation: "CREDIT_SPEND",
          amount: -1n,
          idempotencyKey: uniqueKey(`spend-${i}`),
        }),
      ),
    ),
  );

  expect(tally(outcomes)).toEqual({
    OK: Number(funds),
    "FAILED_PRECONDITION/INSUFFICIENT_FUNDS": spenders - Number(funds),
  });
  for (const o of outcomes) {
    if (!o.ok) {
      expect(o.failure.domain).toBe(ERROR_DOMAIN);
      expect(o.failure.metadata).toMatchObject({
        ledger_id: ledger.id,
        balance: "0",
        amount: "-1",
      });
    }
  }
  expect(await api.getBalance({ ledgerId: ledger.id })).toMatchObject({
    balance: 0n,
    version: funds + 1n,
  });
  const history = await expectConsistentHistory(api, ledger.id);
  expect(history).toHaveLength(Number(funds) + 1);
  expect(history.reduce((sum, e) => sum + e.amount, 0n)).toBe(0n);
  expect(history.filter((e) => e.operation === "CREDIT_SPEND")).toHaveLength(Number(funds));
  return ledger.id;
}

describe("concurrent writes", () => {
  const api = (name: ClientName) => harness.client(name);

  it("200 concurrent spends of 1 over gRPC against a balance of 50: exactly 50 succeed", async () => {
    await raceSpends(api("grpc-js"), 50n, 200);
    await expectStoreInvariants();
  }, 60_000);

  it("40 concurrent spends of 1 over Connect (HTTP/1.1) against a balance of 10: exactly 10 succeed", async () => {
    await raceSpends(api("connect"), 10n, 40);
    await expectStoreInvariants();
  }, 60_000);

  it("20 concurrent reversals of 10 of a 100 credit: exactly 10 succeed, never more than the credit", async () => {
    const grpc = api("grpc-js");
    const ledger = await openLedger(grpc);
    const credit = await post(grpc, ledger.id, "CREDIT_ADD", 100n);

    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        outcome(
          grpc.reverseTransaction({
            transactionId: credit.transactionId,
            amount: 10n,
            idempotencyKey: uniqueKey(`reverse-${i}`),
          }),
        ),
      ),
    );

    expect(tally(outcomes)).toEqual({
      OK: 10,
      "FAILED_PRECONDITION/REVERSAL_EXCEEDS_TRANSACTION": 10,
    });
    const history = await expectConsistentHistory(grpc, ledger.id);
    const reversed = history
      .filter((e) => e.operation === "REVERSAL")
      .reduce((sum, e) => sum - e.amount, 0n);
    expect(reversed).toBe(100n);
    expect((await grpc.getLedger(ledger.id)).balance).toBe(0n);

    const more = await failureOf(
      grpc.reverseTransaction({ transactionId: credit.transactionId, idempotencyKey: uniqueKey() }),
    );
    expect(more).toMatchObject({
      reason: "REVERSAL_EXCEEDS_TRANSACTION",
      metadata: expect.objectContaining({ reversible_amount: "0" }),
    });
    await expectStoreInvariants();
  }, 60_000);

  it("credits from all three clients at once on one ledger all land, in one gapless chain", async () => {
    const names: ClientName[] = ["grpc-js", "connect", "grpc-web"];
    const ledger = await openLedger(api("grpc-js"));
    const writes = Array.from({ length: 45 }, (_, i) => {
      const client = api(names[i % names.length] ?? "grpc-js");
      return client.recordEntry({
        ledgerId: ledger.id,
        operation: "CREDIT_ADD",
        amount: BigInt(i + 1),
        idempotencyKey: uniqueKey(`credit-${i}`),
      });
    });
    const results = await Promise.all(writes);

    expect(results.every((r) => !r.replayed)).toBe(true);
    expect(results.map((r) => r.value.sequence).sort((a, b) => Number(a - b))).toEqual(
      results.map((_, i) => BigInt(i + 1)),
    );
    const history = await expectConsistentHistory(api("connect"), ledger.id);
    expect(history[0]?.balanceAfter).toBe(BigInt((45 * 46) / 2));
    await expectStoreInvariants();
  }, 60_000);
});
