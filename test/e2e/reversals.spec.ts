/**
 * ReverseTransaction through each client: a full reversal compensates the
 * whole transaction with an opposite REVERSAL entry; partial reversals add up
 * to at most the original; an absent amount reverses what remains; the floor
 * and the ledger's state still apply to the compensating entry.
 */
import { describe, expect, it } from "vitest";
import { CLIENT_NAMES, ERROR_DOMAIN, failureOf } from "../support/clients.js";
import { uniqueKey } from "../support/fixtures.js";
import { useLedgerServer } from "../support/server.js";
import {
  expectConsistentHistory,
  openLedger,
  post,
  reverse as reverseThrough,
  snapshot,
} from "../support/steps.js";

const harness = useLedgerServer();

describe.each(CLIENT_NAMES)("reversals through %s", (clientName) => {
  const api = () => harness.client(clientName);
  const reverse = (transactionId: string, amount?: bigint) =>
    reverseThrough(api(), transactionId, amount);

  it("a full reversal of a credit is one REVERSAL transaction with the opposite entry", async () => {
    const ledger = await openLedger(api());
    const credit = await post(api(), ledger.id, "CREDIT_ADD", 100n);

    const { value: reversal, replayed } = await api().reverseTransaction({
      transactionId: credit.transactionId,
      idempotencyKey: uniqueKey(),
      description: "refund",
      metadata: { ticket: "T-1" },
    });

    expect(replayed).toBe(false);
    expect(reversal).toMatchObject({
      kind: "REVERSAL",
      reversesTransactionId: credit.transactionId,
      amount: 100n,
    });
    expect(reversal.id).not.toBe(credit.transactionId);
    expect(reversal.entries).toHaveLength(1);
    expect(reversal.entries[0]).toMatchObject({
      transactionId: reversal.id,
      ledgerId: ledger.id,
      operation: "REVERSAL",
      amount: -100n,
      balanceAfter: 0n,
      sequence: 2n,
      description: "refund",
      metadata: { ticket: "T-1" },
    });
    expect(await api().getBalance({ ledgerId: ledger.id })).toMatchObject({
      balance: 0n,
      version: 2n,
    });
    const [newest] = (await api().listEntries({ ledgerId: ledger.id })).items;
    expect(newest).toEqual(reversal.entries[0]);
  });

  it("reversing a debit compensates it with a credit", async () => {
    const ledger = await openLedger(api());
    await post(api(), ledger.id, "CREDIT_ADD", 50n);
    const spend = await post(api(), ledger.id, "CREDIT_SPEND", -30n);

    const { value: reversal } = await reverse(spend.transactionId);
    expect(reversal.amount).toBe(30n);
    expect(reversal.entries.map((e) => [e.amount, e.balanceAfter])).toEqual([[30n, 50n]]);
  });

  it("partial reversals add up: 30, then 20, then an absent amount reverses the remaining 50", async () => {
    const ledger = await openLedger(api());
    const credit = await post(api(), ledger.id, "CREDIT_ADD", 100n);

    const first = await reverse(credit.transactionId, 30n);
    const second = await reverse(credit.transactionId, 20n);
    const rest = await reverse(credit.transactionId);

    expect([first, second, rest].map((r) => r.value.amount)).toEqual([30n, 20n, 50n]);
    expect([first, second, rest].map((r) => r.value.entries[0]?.balanceAfter)).toEqual([
      70n,
      50n,
      0n,
    ]);
    await expectConsistentHistory(api(), ledger.id);

    const before = await snapshot(api(), ledger.id);
    for (const amount of [undefined, 1n]) {
      const exhausted = await failureOf(reverse(credit.transactionId, amount));
      expect(exhausted).toMatchObject({
        code: "FAILED_PRECONDITION",
        reason: "REVERSAL_EXCEEDS_TRANSACTION",
        domain: ERROR_DOMAIN,
        metadata: expect.objectContaining({
          transaction_id: credit.transactionId,
          reversible_amount: "0",
        }),
      });
    }
    expect(await snapshot(api(), ledger.id)).toEqual(before);
  });

  it("a reversal larger than what remains is refused whole, naming what is reversible", async () => {
    const ledger = await openLedger(api());
    const credit = await post(api(), ledger.id, "CREDIT_ADD", 100n);
    await reverse(credit.transactionId, 50n);
    const before = await snapshot(api(), ledger.id);

    const tooMuch = await failureOf(reverse(credit.transactionId, 60n));
    expect(tooMuch).toMatchObject({
      code: "FAILED_PRECONDITION",
      reason: "REVERSAL_EXCEEDS_TRANSACTION",
      domain: ERROR_DOMAIN,
      metadata: expect.objectContaining({
        transaction_id: credit.transactionId,
        amount: "60",
        reversible_amount: "50",
      }),
    });
    expect(await snapshot(api(), ledger.id)).toEqual(before);

    const exact = await reverse(credit.transactionId, 50n);
    expect(exact.value.entries[0]?.balanceAfter).toBe(0n);
  });

  it("a reversal that would take the balance below the floor is refused; a smaller one passes", async () => {
    const ledger = await openLedger(api());
    const credit = await post(api(), ledger.id, "CREDIT_ADD", 10n);
    await post(api(), ledger.id, "CREDIT_SPEND", -8n);
    const before = await snapshot(api(), ledger.id);

    const refused = await failureOf(reverse(credit.transactionId));
    expect(refused).toMatchObject({
      code: "FAILED_PRECONDITION",
      reason: "INSUFFICIENT_FUNDS",
      domain: ERROR_DOMAIN,
      metadata: expect.objectContaining({ ledger_id: ledger.id, balance: "2", amount: "-10" }),
    });
    expect(await snapshot(api(), ledger.id)).toEqual(before);

    const partial = await reverse(credit.transactionId, 2n);
    expect(partial.value.entries[0]?.balanceAfter).toBe(0n);
    const rest = await failureOf(reverse(credit.transactionId));
    expect(rest.reason).toBe("INSUFFICIENT_FUNDS");
  });

  it("a reversal cannot itself be reversed", async () => {
    const ledger = await openLedger(api());
    const credit = await post(api(), ledger.id, "CREDIT_ADD", 20n);
    const { value: reversal } = await reverse(credit.transactionId, 5n);
    const before = await snapshot(api(), ledger.id);

    const refused = await failureOf(reverse(reversal.id));
    expect(refused).toMatchObject({
      code: "FAILED_PRECONDITION",
      reason: "TRANSACTION_NOT_REVERSIBLE",
      domain: ERROR_DOMAIN,
      metadata: expect.objectContaining({ transaction_id: reversal.id }),
    });
    expect(await snapshot(api(), ledger.id)).toEqual(before);
  });
});
