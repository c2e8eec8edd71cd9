/**
 * Holds (pending transactions) through the SDK and the real server, over
 * each protocol: recordEntry and transfer with `pending: true` reserve
 * without moving the posted balance (available = balance - pendingDebits,
 * a held credit not spendable), postPendingTransaction posts all or part,
 * voidPendingTransaction releases, an expired hold reserves nothing and
 * refuses a post at once; the bulk forms hold per item; the typed errors of
 * HOLD_NOT_PENDING, HOLD_EXPIRED, HOLD_AMOUNT_EXCEEDED and
 * LEDGER_HAS_PENDING_TRANSACTIONS; and the app clients' Hold handle.
 */
import { randomUUID } from "node:crypto";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  createContentClient,
  createLearningClient,
  Hold,
  HoldAmountExceededError,
  HoldExpiredError,
  HoldNotPendingError,
  InsufficientFundsError,
  InvalidArgumentError,
  type LedgerClient,
  LedgerHasPendingTransactionsError,
  PROTOCOLS,
  type Transaction,
  TransactionKind,
  TransactionNotReversibleError,
  TransactionState,
} from "../../src/sdk/index.js";
import { okItem, refusedItem, rejection, useSdkClients } from "./sdk-clients.js";

const ledgerClient = useSdkClients();

/** A hold's deadline this far ahead outlives no test's wait but the expiry test's. */
const EXPIRY_MS = 1_200;

/** A ledger's posted balance and what its holds reserve and await, from GetBalance. */
async function figures(client: LedgerClient, ledgerId: string) {
  const { balance, pendingDebits, pendingCredits, available } = await client.getBalance({
    ledgerId,
  });
  return { balance, pendingDebits, pendingCredits, available };
}

/** A hold's history as [state, amount] pairs. */
function history(transaction: Transaction): [string, bigint][] {
  return transaction.history.map((event) => [TransactionState[event.state], event.amount]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe.each(PROTOCOLS)("holds over %s", (protocol) => {
  let serial = 0;
  /** A learning SEATS ledger with `seats` seats, and the clients. */
  const setup = async (seats = 10n, unit = "SEATS") => {
    const client = ledgerClient(protocol);
    const learning = createLearningClient(client);
    serial += 1;
    const ownerId = `holds-${protocol}-${serial}`;
    const { ledger } = await learning.createLedger({ ownerId, unit });
    await learning.seatPurchase(ledger.id, { amountMinor: seats });
    /** Another ledger of the app in the same unit, empty. */
    const other = async () =>
      (await learning.createLedger({ ownerId: `${ownerId}-other`, unit })).ledger;
    return { client, learning, ledger, ownerId, other };
  };

  it("recordEntry pending: a PENDING transaction with no entry that reserves, then posted in full", async () => {
    const { client, ledger } = await setup(3n);
    const held = await client.recordEntry({
      ledgerId: ledger.id,
      operation: "COURSE_ENROLLMENT",
      pending: true,
      reference: "course-101",
    });

    expect(held).toMatchObject({ replayed: false, idempotencyKey: expect.any(String) });
    expect(held.transaction).toMatchObject({
      kind: TransactionKind.ENTRY,
      state: TransactionState.PENDING,
      amount: 1n,
      heldAmount: 1n,
      entries: [],
    });
    expect(held.transaction.pendingEntries.map((e) => [e.ledgerId, e.amount, e.reference])).toEqual(
      [[ledger.id, -1n, "course-101"]],
    );
    expect(held.transaction.pendingExpiresAt).toBeDefined();
    expect(await figures(client, ledger.id)).toEqual({
      balance: 3n,
      pendingDebits: 1n,
      pendingCredits: 0n,
      available: 2n,
    });
    expect((await client.getLedger(ledger.id)).available).toBe(2n);
    const pending = await client.listPendingTransactions(ledger.id);
    expect(pending.transactions.map((t) => t.id)).toEqual([held.transaction.id]);
    expect((await client.listEntries({ ledgerId: ledger.id })).entries).toHaveLength(1);

    const posted = await client.postPendingTransaction(held.transaction.id);
    expect(posted).toMatchObject({ replayed: false, idempotencyKey: expect.any(String) });
    expect(posted.transaction).toMatchObject({
      state: TransactionState.POSTED,
      amount: 1n,
      heldAmount: 1n,
    });
    expect(posted.transaction.entries.map((e) => [e.operation, e.amount, e.balanceAfter])).toEqual([
      ["COURSE_ENROLLMENT", -1n, 2n],
    ]);
    expect(await figures(client, ledger.id)).toEqual({
      balance: 2n,
      pendingDebits: 0n,
      pendingCredits: 0n,
      available: 2n,
    });
    expect(history(await client.getTransaction(held.transaction.id))).toEqual([
      ["PENDING", 1n],
      ["POSTED", 1n],
    ]);
    expect((await client.listPendingTransactions(ledger.id)).transactions).toEqual([]);
  });

  it("a partial post writes the amount posted and releases the rest; the posted hold reverses up to it", async () => {
    const { client, learning, ledger } = await setup(10_000n, "USD_CENTS");
    const { transaction: hold } = await client.recordEntry({
      ledgerId: ledger.id,
      operation: "COURSE_ENROLLMENT",
      amountMinor: -5_000n,
      pending: true,
    });
    expect((await figures(client, ledger.id)).available).toBe(5_000n);

    const { transaction } = await client.postPendingTransaction(hold.id, { amountMinor: 3_000n });
    expect(transaction).toMatchObject({ amount: 3_000n, heldAmount: 5_000n });
    expect(transaction.entries.map((e) => e.amount)).toEqual([-3_000n]);
    expect(await figures(client, ledger.id)).toMatchObject({
      balance: 7_000n,
      pendingDebits: 0n,
      available: 7_000n,
    });
    expect(history(await client.getTransaction(hold.id))).toEqual([
      ["PENDING", 5_000n],
      ["POSTED", 3_000n],
    ]);

    await client.reverseTransaction({ transactionId: hold.id });
    expect((await learning.getBalance(ledger.ownerId, "USD_CENTS")).balance).toBe(10_000n);
    expect((await client.getTransaction(hold.id)).reversedAmount).toBe(3_000n);
  });

  it("a void releases the hold: VOIDED, the balance never moved; no second void or post", async () => {
    const { client, ledger } = await setup(2n);
    const { transaction: hold } = await client.recordEntry({
      ledgerId: ledger.id,
      operation: "COURSE_ENROLLMENT",
      amountMinor: -2n,
      pending: true,
    });
    const voided = await client.voidPendingTransaction(hold.id);
    expect(voided.transaction).toMatchObject({ state: TransactionState.VOIDED, entries: [] });
    expect(history(voided.transaction)).toEqual([
      ["PENDING", 2n],
      ["VOIDED", 2n],
    ]);
    expect(await figures(client, ledger.id)).toEqual({
      balance: 2n,
      pendingDebits: 0n,
      pendingCredits: 0n,
      available: 2n,
    });

    // One at a time: a call made up front could reject before anything awaits it.
    for (const call of [
      () => client.voidPendingTransaction(hold.id),
      () => client.postPendingTransaction(hold.id),
    ]) {
      const error = await rejection(call());
      expect(error).toBeInstanceOf(HoldNotPendingError);
      expect(error).toMatchObject({
        code: Code.FailedPrecondition,
        reason: "HOLD_NOT_PENDING",
        transactionId: hold.id,
        state: "VOIDED",
      });
    }
  });

  it("a held debit counts against the floor at once; an ordinary write or another hold is refused", async () => {
    const { client, learning, ledger } = await setup(2n);
    await learning.courseEnrollment(ledger.id, { amountMinor: -2n, pending: true });

    for (const call of [
      () => learning.courseEnrollment(ledger.id),
      () => learning.courseEnrollment(ledger.id, { pending: true }),
    ]) {
      const error = await rejection(call());
      expect(error).toBeInstanceOf(InsufficientFundsError);
      expect(error).toMatchObject({ ledgerId: ledger.id, balanceMinor: 2n, amountMinor: -1n });
    }
    expect(await figures(client, ledger.id)).toMatchObject({ balance: 2n, available: 0n });

    // A held credit awaits its post: it makes no seat available.
    await learning.seatPurchase(ledger.id, { amountMinor: 5n, pending: true });
    expect(await rejection(learning.courseEnrollment(ledger.id))).toBeInstanceOf(
      InsufficientFundsError,
    );
    expect(await figures(client, ledger.id)).toEqual({
      balance: 2n,
      pendingDebits: 2n,
      pendingCredits: 5n,
      available: 0n,
    });
  });

  it("a post racing a void, or another post: exactly one wins, the other is HOLD_NOT_PENDING", async () => {
    const { client, learning, ledger } = await setup(4n);
    for (const race of ["post", "void"] as const) {
      const hold = await learning.courseEnrollment(ledger.id, { pending: true });
      const outcomes = await Promise.allSettled([
        hold.post(),
        race === "post" ? hold.post() : hold.void(),
      ]);
      const lost = outcomes.filter((outcome) => outcome.status === "rejected");
      expect(lost).toHaveLength(1);
      expect(lost[0]?.reason).toBeInstanceOf(HoldNotPendingError);
    }
    expect((await figures(client, ledger.id)).pendingDebits).toBe(0n);
  });

  it("transfer pending: the source's debit reserved, the destination's credit awaited and not spendable until posted", async () => {
    const client = ledgerClient(protocol);
    const content = createContentClient(client);
    serial += 1;
    const open = async (name: string, unbounded = false) =>
      (
        await content.createLedger({
          ownerId: `${name}-${protocol}-${serial}`,
          unit: "CREDITS",
          unbounded,
        })
      ).ledger;
    const source = await open("source", true);
    const alice = await open("alice");
    const bob = await open("bob");
    await content.transfer(source.id, alice.id, 10n);

    const { transaction: hold } = await client.transfer({
      fromLedgerId: alice.id,
      toLedgerId: bob.id,
      amountMinor: 6n,
      pending: true,
    });
    expect(hold).toMatchObject({
      kind: TransactionKind.TRANSFER,
      state: TransactionState.PENDING,
      entries: [],
      heldAmount: 6n,
    });
    expect(hold.pendingEntries.map((e) => [e.ledgerId, e.amount])).toEqual([
      [alice.id, -6n],
      [bob.id, 6n],
    ]);
    expect(await figures(client, alice.id)).toEqual({
      balance: 10n,
      pendingDebits: 6n,
      pendingCredits: 0n,
      available: 4n,
    });
    expect(await figures(client, bob.id)).toEqual({
      balance: 0n,
      pendingDebits: 0n,
      pendingCredits: 6n,
      available: 0n,
    });
    expect(await rejection(content.creditSpend(bob.id))).toBeInstanceOf(InsufficientFundsError);
    expect((await client.listPendingTransactions(bob.id)).transactions.map((t) => t.id)).toEqual([
      hold.id,
    ]);

    const { transaction } = await client.postPendingTransaction(hold.id);
    expect(transaction.entries.map((e) => [e.ledgerId, e.amount, e.balanceAfter])).toEqual([
      [alice.id, -6n, 4n],
      [bob.id, 6n, 6n],
    ]);
    expect(await figures(client, bob.id)).toMatchObject({ balance: 6n, available: 6n });
  });

  it("keys: a hold, a post and a void replay by their keys; another post is HOLD_NOT_PENDING", async () => {
    const { client, ledger } = await setup();
    const input = {
      ledgerId: ledger.id,
      operation: "COURSE_ENROLLMENT",
      pending: true,
      idempotencyKey: randomUUID(),
    } as const;
    const first = await client.recordEntry(input);
    const again = await client.recordEntry(input);
    expect(again).toMatchObject({ replayed: true, idempotencyKey: input.idempotencyKey });
    expect(again.transaction.id).toBe(first.transaction.id);
    expect((await figures(client, ledger.id)).pendingDebits).toBe(1n);

    const postKey = randomUUID();
    await client.postPendingTransaction(first.transaction.id, { idempotencyKey: postKey });
    const replayed = await client.postPendingTransaction(first.transaction.id, {
      idempotencyKey: postKey,
    });
    expect(replayed).toMatchObject({ replayed: true, idempotencyKey: postKey });
    expect(replayed.transaction.state).toBe(TransactionState.POSTED);
    const other = await rejection(client.postPendingTransaction(first.transaction.id));
    expect(other).toBeInstanceOf(HoldNotPendingError);
    expect(other).toMatchObject({ state: "POSTED" });
    expect((await figures(client, ledger.id)).balance).toBe(9n);
  });

  it("HOLD_AMOUNT_EXCEEDED names the amount and what is held; a hold is not reversible, an entry not a hold", async () => {
    const { client, learning, ledger } = await setup(5n);
    const hold = await learning.courseEnrollment(ledger.id, { amountMinor: -3n, pending: true });

    const exceeded = await rejection(hold.post(4n));
    expect(exceeded).toBeInstanceOf(HoldAmountExceededError);
    expect(exceeded).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "HOLD_AMOUNT_EXCEEDED",
      transactionId: hold.transactionId,
      amountMinor: 4n,
      heldAmountMinor: 3n,
    });
    const zero = await rejection(hold.post(0n));
    expect(zero).toBeInstanceOf(InvalidArgumentError);

    const reversal = await rejection(
      client.reverseTransaction({ transactionId: hold.transactionId }),
    );
    expect(reversal).toBeInstanceOf(TransactionNotReversibleError);

    const { entry } = await learning.courseEnrollment(ledger.id);
    const notHold = await rejection(client.voidPendingTransaction(entry.transactionId));
    expect(notHold).toBeInstanceOf(HoldNotPendingError);
    expect(notHold).toMatchObject({ transactionId: entry.transactionId, state: "POSTED" });
  });

  it("pendingExpiresAt without pending is INVALID_ARGUMENT naming the field", async () => {
    const { client, ledger, other } = await setup();
    const error = await rejection(
      client.transfer({
        fromLedgerId: ledger.id,
        toLedgerId: (await other()).id,
        amountMinor: 1n,
        pendingExpiresAt: new Date(Date.now() + 60_000),
      }),
    );
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ field: "pending_expires_at" });
  });

  it("a hold past its deadline reserves nothing, reads EXPIRED and refuses a post or void with HOLD_EXPIRED", async () => {
    const { client, learning, ledger } = await setup(1n);
    const pendingExpiresAt = new Date(Date.now() + EXPIRY_MS);
    const hold = await learning.courseEnrollment(ledger.id, { pending: true, pendingExpiresAt });
    const deadline = hold.transaction.pendingExpiresAt;
    expect(deadline && timestampDate(deadline).getTime()).toBe(pendingExpiresAt.getTime());
    expect((await figures(client, ledger.id)).available).toBe(0n);

    await sleep(EXPIRY_MS + 300);
    expect(await figures(client, ledger.id)).toEqual({
      balance: 1n,
      pendingDebits: 0n,
      pendingCredits: 0n,
      available: 1n,
    });
    const read = await client.getTransaction(hold.transactionId);
    expect(read.state).toBe(TransactionState.EXPIRED);
    expect(history(read)).toEqual([
      ["PENDING", 1n],
      ["EXPIRED", 1n],
    ]);
    expect((await client.listPendingTransactions(ledger.id)).transactions).toEqual([]);
    // One at a time: a second call made up front could reject before anything awaits it.
    for (const call of [() => hold.post(), () => hold.void()]) {
      const error = await rejection(call());
      // Swept or not (HOLD_SWEEP_INTERVAL_MS), the refusal is the same.
      expect(error).toBeInstanceOf(HoldExpiredError);
      expect(error).toMatchObject({
        code: Code.FailedPrecondition,
        transactionId: hold.transactionId,
      });
      expect((error as HoldExpiredError).pendingExpiresAt?.getTime()).toBe(
        pendingExpiresAt.getTime(),
      );
    }
    // The seat is free again.
    expect((await learning.courseEnrollment(ledger.id)).entry.balanceAfter).toBe(0n);
  });

  it("LEDGER_HAS_PENDING_TRANSACTIONS refuses to terminate a ledger with open holds, unless voidPending", async () => {
    const { client, learning, ledger } = await setup(4n);
    const hold = await learning.courseEnrollment(ledger.id, { amountMinor: -3n, pending: true });

    const error = await rejection(client.terminateLedger(ledger.id));
    expect(error).toBeInstanceOf(LedgerHasPendingTransactionsError);
    expect(error).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "LEDGER_HAS_PENDING_TRANSACTIONS",
      ledgerId: ledger.id,
      pendingDebitsMinor: 3n,
      pendingCreditsMinor: 0n,
    });

    const terminated = await client.terminateLedger(ledger.id, { voidPending: true });
    expect(terminated.ledger).toMatchObject({ balance: 4n, pendingDebits: 0n, available: 4n });
    expect(terminated.remainingBalanceMinor).toBe(4n);
    expect((await client.getTransaction(hold.transactionId)).state).toBe(TransactionState.VOIDED);
  });

  it("recordEntries and createTransfers hold per item; an atomic failure holds nothing", async () => {
    const { client, learning, ledger, other } = await setup(3n);
    const held = await learning.recordEntries(
      [
        { ledgerId: ledger.id, operation: "COURSE_ENROLLMENT", pending: true },
        { ledgerId: ledger.id, operation: "COURSE_ENROLLMENT", amountMinor: -2n, pending: true },
      ],
      { atomic: true },
    );
    const [one, two] = held.map((item) => okItem(item).transaction);
    expect([one?.state, two?.state, two?.heldAmount]).toEqual([
      TransactionState.PENDING,
      TransactionState.PENDING,
      2n,
    ]);
    expect((await figures(client, ledger.id)).available).toBe(0n);

    const mixed = await client.recordEntries(
      [
        { ledgerId: ledger.id, operation: "SEAT_PURCHASE", amountMinor: 1n },
        { ledgerId: ledger.id, operation: "COURSE_ENROLLMENT", amountMinor: -2n, pending: true },
      ],
      { atomic: false },
    );
    expect(mixed[0]?.ok && "entry" in mixed[0] && mixed[0].entry.balanceAfter).toBe(4n);
    expect(refusedItem(mixed[1])).toBeInstanceOf(InsufficientFundsError);

    const toLedgerId = (await other()).id;
    const error = await rejection(
      client.createTransfers(
        [
          { fromLedgerId: ledger.id, toLedgerId, amountMinor: 1n, pending: true },
          { fromLedgerId: ledger.id, toLedgerId, amountMinor: 5n, pending: true },
        ],
        { atomic: true },
      ),
    );
    expect(error).toBeInstanceOf(InsufficientFundsError);
    expect(error).toMatchObject({ index: 1, availableMinor: 0n });
    expect((await figures(client, toLedgerId)).pendingCredits).toBe(0n);
    expect((await client.listPendingTransactions(ledger.id)).transactions.map((t) => t.id)).toEqual(
      [one?.id, two?.id],
    );
  });

  it("the app client's hold: a Hold handle whose post and void resolve it", async () => {
    const { client, learning, ledger, ownerId } = await setup(2n);
    const seat = await learning.courseEnrollment(ledger.id, { pending: true, reference: "c-1" });
    expect(seat).toBeInstanceOf(Hold);
    expect(seat.transaction.state).toBe(TransactionState.PENDING);
    expect((await learning.getBalance(ownerId, "SEATS")).available).toBe(1n);

    const key = randomUUID();
    const posted = await seat.post(undefined, { idempotencyKey: key });
    expect(posted).toMatchObject({ idempotencyKey: key, replayed: false });
    expect(posted.transaction.entries.map((e) => [e.reference, e.balanceAfter])).toEqual([
      ["c-1", 1n],
    ]);
    expect((await seat.post(undefined, { idempotencyKey: key })).replayed).toBe(true);

    const other = await learning.record(ledger.id, "COURSE_ENROLLMENT", { pending: true });
    const voided = await other.void();
    expect(voided.transaction.state).toBe(TransactionState.VOIDED);
    expect(await rejection(other.post())).toBeInstanceOf(HoldNotPendingError);

    const source = (
      await learning.createLedger({ ownerId: `${ownerId}-org`, unit: "SEATS", unbounded: true })
    ).ledger;
    const moved = await learning.transfer(source.id, ledger.id, 3n, {
      pending: true,
      operation: "SEAT_PURCHASE",
    });
    expect(moved).toBeInstanceOf(Hold);
    expect((await figures(client, ledger.id)).pendingCredits).toBe(3n);
    const { transaction } = await moved.post(2n);
    expect(transaction.entries.map((e) => [e.operation, e.amount])).toEqual([
      ["SEAT_PURCHASE", -2n],
      ["SEAT_PURCHASE", 2n],
    ]);
    expect(await figures(client, ledger.id)).toEqual({
      balance: 3n,
      pendingDebits: 0n,
      pendingCredits: 0n,
      available: 3n,
    });
  });
});
