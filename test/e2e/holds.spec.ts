/**
 * Holds through each client (@grpc/grpc-js, Connect, gRPC-Web): a pending
 * RecordEntry or Transfer reserves a debit against the floor or announces a
 * credit, and moves no balance; PostPendingTransaction posts all or part of
 * it and writes its entries, VoidPendingTransaction releases it; past its
 * deadline it reserves nothing and refuses a post; every refusal names its
 * reason and writes nothing; TerminateLedger refuses open holds unless it
 * voids them. The store's audit finds nothing wrong afterwards.
 */
import { describe, expect, it } from "vitest";
import { verifyInvariants } from "../../src/store/index.js";
import { CLIENT_NAMES, failureOf, type LedgerApi, type Transaction } from "../support/clients.js";
import { declaredApp, uniqueKey } from "../support/fixtures.js";
import { useLedgerServer } from "../support/server.js";
import { expectRefusal, openLedger, post } from "../support/steps.js";

const harness = useLedgerServer();

async function figures(api: LedgerApi, ledgerId: string) {
  const b = await api.getBalance({ ledgerId });
  const ledger = await api.getLedger(ledgerId);
  expect([ledger.balance, ledger.pendingDebits, ledger.pendingCredits, ledger.available]).toEqual([
    b.balance,
    b.pendingDebits,
    b.pendingCredits,
    b.available,
  ]);
  return {
    balance: b.balance,
    debits: b.pendingDebits,
    credits: b.pendingCredits,
    available: b.available,
  };
}

async function holdSpend(api: LedgerApi, ledgerId: string, amount: bigint, deadline?: Date) {
  const { value } = await api.recordEntry({
    ledgerId,
    operation: "CREDIT_SPEND",
    amount: -amount,
    idempotencyKey: uniqueKey("hold"),
    pending: true,
    ...(deadline === undefined ? {} : { pendingExpiresAt: deadline }),
  });
  return value;
}

function postAll(api: LedgerApi, hold: Transaction, amount?: bigint) {
  return api.postPendingTransaction({
    transactionId: hold.id,
    idempotencyKey: uniqueKey("post"),
    ...(amount === undefined ? {} : { amount }),
  });
}

describe.each(CLIENT_NAMES)("holds over %s", (name) => {
  const api = () => harness.client(name);

  it("reserve, then post part: entries for the amount posted, the rest released", async () => {
    const ledger = await openLedger(api());
    await post(api(), ledger.id, "CREDIT_ADD", 10n);
    const hold = await holdSpend(api(), ledger.id, 6n);
    expect(hold).toMatchObject({
      state: "PENDING",
      kind: "ENTRY",
      amount: 6n,
      heldAmount: 6n,
      entries: [],
    });
    expect(hold.pendingEntries.map((leg) => [leg.ledgerId, leg.amount, leg.operation])).toEqual([
      [ledger.id, -6n, "CREDIT_SPEND"],
    ]);
    expect(await figures(api(), ledger.id)).toEqual({
      balance: 10n,
      debits: 6n,
      credits: 0n,
      available: 4n,
    });
    const overdraw = await failureOf(
      api().recordEntry({
        ledgerId: ledger.id,
        operation: "CREDIT_SPEND",
        amount: -5n,
        idempotencyKey: uniqueKey("spend"),
      }),
    );
    expectRefusal(overdraw, "FAILED_PRECONDITION", "INSUFFICIENT_FUNDS", { available: "4" });
    const listed = await api().listPendingTransactions({ ledgerId: ledger.id });
    expect(listed.items.map((t) => t.id)).toEqual([hold.id]);

    const tooMuch = await failureOf(postAll(api(), hold, 7n));
    expectRefusal(tooMuch, "FAILED_PRECONDITION", "HOLD_AMOUNT_EXCEEDED", {
      amount: "7",
      held_amount: "6",
    });
    const { value: posted } = await postAll(api(), hold, 4n);
    expect(posted).toMatchObject({ id: hold.id, state: "POSTED", amount: 4n, heldAmount: 6n });
    expect(posted.entries.map((e) => [e.sequence, e.amount, e.balanceAfter])).toEqual([
      [2n, -4n, 6n],
    ]);
    expect(posted.history.map((event) => [event.state, event.amount])).toEqual([
      ["PENDING", 6n],
      ["POSTED", 4n],
    ]);
    expect(await figures(api(), ledger.id)).toEqual({
      balance: 6n,
      debits: 0n,
      credits: 0n,
      available: 6n,
    });
    const again = await failureOf(postAll(api(), hold));
    expectRefusal(again, "FAILED_PRECONDITION", "HOLD_NOT_PENDING", {
      transaction_id: hold.id,
      state: "POSTED",
    });
  });

  it("a pending transfer: the credit is not spendable until posted; a void releases both legs", async () => {
    const app = declaredApp();
    const from = await openLedger(api(), { app, unbounded: true });
    const to = await openLedger(api(), { app });
    const transfer = (pending: boolean) =>
      api().transfer({
        fromLedgerId: from.id,
        toLedgerId: to.id,
        amount: 5n,
        idempotencyKey: uniqueKey("t"),
        pending,
      });
    const { value: first } = await transfer(true);
    expect(first).toMatchObject({ kind: "TRANSFER", state: "PENDING" });
    expect(await figures(api(), to.id)).toEqual({
      balance: 0n,
      debits: 0n,
      credits: 5n,
      available: 0n,
    });
    expect(await figures(api(), from.id)).toEqual({
      balance: 0n,
      debits: 5n,
      credits: 0n,
      available: -5n,
    });
    const { value: voided } = await api().voidPendingTransaction({
      transactionId: first.id,
      idempotencyKey: uniqueKey("v"),
    });
    expect(voided.state).toBe("VOIDED");
    expect(voided.history.map((event) => event.state)).toEqual(["PENDING", "VOIDED"]);
    expect(await figures(api(), to.id)).toEqual({
      balance: 0n,
      debits: 0n,
      credits: 0n,
      available: 0n,
    });
    const notReversible = await failureOf(
      api().reverseTransaction({ transactionId: first.id, idempotencyKey: uniqueKey("r") }),
    );
    expectRefusal(notReversible, "FAILED_PRECONDITION", "TRANSACTION_NOT_REVERSIBLE");

    const { value: second } = await transfer(true);
    const { value: posted } = await postAll(api(), second);
    expect(posted.entries.map((e) => [e.ledgerId, e.amount])).toEqual([
      [from.id, -5n],
      [to.id, 5n],
    ]);
    expect(await figures(api(), to.id)).toEqual({
      balance: 5n,
      debits: 0n,
      credits: 0n,
      available: 5n,
    });
  });

  it("past its deadline: reserves nothing, reads EXPIRED, refuses a post with HOLD_EXPIRED", async () => {
    const ledger = await openLedger(api());
    await post(api(), ledger.id, "CREDIT_ADD", 3n);
    const deadline = new Date(Date.now() + 800);
    const hold = await holdSpend(api(), ledger.id, 3n, deadline);
    expect(hold.pendingExpiresAt?.getTime()).toBe(deadline.getTime());
    expect((await figures(api(), ledger.id)).available).toBe(0n);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await figures(api(), ledger.id)).toEqual({
      balance: 3n,
      debits: 0n,
      credits: 0n,
      available: 3n,
    });
    const read = await api().getTransaction({ transactionId: hold.id });
    expect(read.state).toBe("EXPIRED");
    expect(read.history.map((event) => [event.state, event.at?.getTime()])).toEqual([
      ["PENDING", hold.createdAt?.getTime()],
      ["EXPIRED", deadline.getTime()],
    ]);
    const late = await failureOf(postAll(api(), hold));
    expectRefusal(late, "FAILED_PRECONDITION", "HOLD_EXPIRED", {
      transaction_id: hold.id,
      pending_expires_at: deadline.toISOString(),
    });
    expect((await api().listPendingTransactions({ ledgerId: ledger.id })).items).toEqual([]);
  });

  it("refuses a deadline without pending, or in the past, as INVALID_ARGUMENT naming the field", async () => {
    const ledger = await openLedger(api());
    const request = {
      ledgerId: ledger.id,
      operation: "CREDIT_ADD",
      amount: 1n,
      idempotencyKey: uniqueKey("x"),
    };
    const withoutPending = await failureOf(
      api().recordEntry({ ...request, pendingExpiresAt: new Date(Date.now() + 60_000) }),
    );
    expectRefusal(withoutPending, "INVALID_ARGUMENT", "INVALID_ARGUMENT", {
      field: "pending_expires_at",
    });
    const past = await failureOf(
      api().recordEntry({
        ...request,
        pending: true,
        pendingExpiresAt: new Date(Date.now() - 1000),
      }),
    );
    expectRefusal(past, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field: "pending_expires_at" });
    const zero = await failureOf(
      api().postPendingTransaction({
        transactionId: ledger.id,
        amount: 0n,
        idempotencyKey: uniqueKey("p"),
      }),
    );
    expectRefusal(zero, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field: "amount" });
    const missing = await failureOf(
      api().voidPendingTransaction({ transactionId: ledger.id, idempotencyKey: uniqueKey("v") }),
    );
    expectRefusal(missing, "NOT_FOUND", "TRANSACTION_NOT_FOUND");
  });

  it("termination refuses open holds, or voids them with void_pending", async () => {
    const ledger = await openLedger(api());
    await post(api(), ledger.id, "CREDIT_ADD", 5n);
    const hold = await holdSpend(api(), ledger.id, 2n);
    const refused = await failureOf(api().terminateLedger(ledger.id));
    expectRefusal(refused, "FAILED_PRECONDITION", "LEDGER_HAS_PENDING_TRANSACTIONS", {
      ledger_id: ledger.id,
      pending_debits: "2",
    });
    const terminated = await api().terminateLedger(ledger.id, { voidPending: true });
    expect(terminated).toMatchObject({ status: "TERMINATED", pendingDebits: 0n, balance: 5n });
    expect((await api().getTransaction({ transactionId: hold.id })).state).toBe("VOIDED");
    expect(await verifyInvariants(harness.server().databaseUrl)).toEqual([]);
  });
});
