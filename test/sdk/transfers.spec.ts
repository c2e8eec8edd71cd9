/**
 * Transfers and transaction lookups through the SDK and the real server,
 * over each protocol: transfer makes one TRANSFER transaction, the debit of
 * the source then the credit of the destination, replayed by its key;
 * createTransfers is all or nothing when atomic (the failing item's typed
 * error names it, `transfers[i]: `) and item by item when not;
 * getTransaction shows a transfer's legs, what was reversed of it and its
 * reversals, and a reversal points back at it from the transaction and each
 * entry; findTransactionByExternalId finds an app's transaction or says
 * there is none; and EXTERNAL_ID_ALREADY_USED, APP_MISMATCH and
 * UNIT_MISMATCH reject with their typed errors and fields.
 */
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  AppMismatchError,
  type ContentTransferItem,
  createContentClient,
  createLearningClient,
  ExternalIdAlreadyUsedError,
  InsufficientFundsError,
  InvalidArgumentError,
  PROTOCOLS,
  TransactionKind,
  UnitMismatchError,
} from "../../src/sdk/index.js";
import { okItem, refusedItem, rejection, useSdkClients } from "./sdk-clients.js";

const ledgerClient = useSdkClients();

describe.each(PROTOCOLS)("transfers over %s", (protocol) => {
  let serial = 0;
  /** An unbounded source and two users' ledgers of the content app, in CREDITS. */
  const setup = async () => {
    const client = ledgerClient(protocol);
    const content = createContentClient(client);
    serial += 1;
    const owner = (name: string) => `${name}-${protocol}-${serial}`;
    const open = async (ownerId: string, unbounded = false) =>
      (await content.createLedger({ ownerId, unit: "CREDITS", unbounded })).ledger;
    return {
      client,
      content,
      source: await open(owner("source"), true),
      alice: await open(owner("alice")),
      bob: await open(owner("bob")),
      externalId: (name: string) => `${owner(name)}-${randomUUID()}`,
    };
  };

  it("transfer: one TRANSFER transaction, the source's debit then the destination's credit; its key replays it", async () => {
    const { client, source, alice } = await setup();
    const input = {
      fromLedgerId: source.id,
      toLedgerId: alice.id,
      amountMinor: 7n,
      reference: "welcome",
      idempotencyKey: randomUUID(),
    };
    const first = await client.transfer(input);

    expect(first).toMatchObject({ replayed: false, idempotencyKey: input.idempotencyKey });
    expect(first.transaction).toMatchObject({ kind: TransactionKind.TRANSFER, amount: 7n });
    expect(
      first.transaction.entries.map((entry) => ({
        ledgerId: entry.ledgerId,
        operation: entry.operation,
        amount: entry.amount,
        balanceAfter: entry.balanceAfter,
        reference: entry.reference,
        transactionId: entry.transactionId,
      })),
    ).toEqual([
      {
        ledgerId: source.id,
        operation: "TRANSFER",
        amount: -7n,
        balanceAfter: -7n,
        reference: "welcome",
        transactionId: first.transaction.id,
      },
      {
        ledgerId: alice.id,
        operation: "TRANSFER",
        amount: 7n,
        balanceAfter: 7n,
        reference: "welcome",
        transactionId: first.transaction.id,
      },
    ]);

    const again = await client.transfer(input);
    expect(again.replayed).toBe(true);
    expect(again.transaction.id).toBe(first.transaction.id);
    expect((await client.getBalance({ ledgerId: alice.id })).balance).toBe(7n);
    expect((await client.getBalance({ ledgerId: source.id })).balance).toBe(-7n);
  });

  it("the app client's transfer records one of the app's operations on both legs", async () => {
    const { content, source, alice, bob } = await setup();
    await content.transfer(source.id, alice.id, 10n);
    const { transaction } = await content.transfer(alice.id, bob.id, 4n, {
      operation: "CONTENT_ACCESS",
      description: "a paid article",
    });

    expect(transaction.entries.map((entry) => [entry.operation, entry.amount])).toEqual([
      ["CONTENT_ACCESS", -4n],
      ["CONTENT_ACCESS", 4n],
    ]);
    expect(transaction.entries.map((entry) => entry.description)).toEqual([
      "a paid article",
      "a paid article",
    ]);
    expect((await content.getBalance(`bob-${protocol}-${serial}`, "CREDITS")).balance).toBe(4n);
  });

  it("createTransfers atomic: all okItem, or none with the failing item's typed error prefixed transfers[i]", async () => {
    const { content, source, alice, bob } = await setup();
    const all = await content.createTransfers(
      [
        { fromLedgerId: source.id, toLedgerId: alice.id, amountMinor: 5n },
        { fromLedgerId: alice.id, toLedgerId: bob.id, amountMinor: 2n, operation: "CREDIT_SPEND" },
      ],
      { atomic: true },
    );
    expect(all.map((item) => okItem(item).transaction.entries.map((e) => e.balanceAfter))).toEqual([
      [-5n, 5n],
      [3n, 2n],
    ]);

    const items: ContentTransferItem[] = [
      { fromLedgerId: bob.id, toLedgerId: alice.id, amountMinor: 1n },
      { fromLedgerId: alice.id, toLedgerId: bob.id, amountMinor: 50n },
    ];
    const error = await rejection(content.createTransfers(items, { atomic: true }));
    expect(error).toBeInstanceOf(InsufficientFundsError);
    expect(error).toMatchObject({
      code: Code.FailedPrecondition,
      index: 1,
      ledgerId: alice.id,
      balanceMinor: 4n, // 3 + the first item's 1, undone with the call
      amountMinor: -50n,
    });
    expect((error as Error).message).toContain("transfers[1]: ");
    expect((await content.ledger.getLedger(alice.id)).balance).toBe(3n);
    expect((await content.ledger.getLedger(bob.id)).balance).toBe(2n);
  });

  it("createTransfers not atomic: each item made or refused alone, as transfer alone would be", async () => {
    const { client, source, alice, bob } = await setup();
    const key = randomUUID();
    const results = await client.createTransfers(
      [
        { fromLedgerId: source.id, toLedgerId: alice.id, amountMinor: 6n, idempotencyKey: key },
        { fromLedgerId: bob.id, toLedgerId: alice.id, amountMinor: 50n },
        { fromLedgerId: alice.id, toLedgerId: bob.id, amountMinor: 4n },
      ],
      { atomic: false },
    );

    expect(results.map((result) => result.ok)).toEqual([true, false, true]);
    expect(okItem(results[0])).toMatchObject({ idempotencyKey: key, replayed: false });
    expect(okItem(results[2]).transaction.entries.map((e) => e.balanceAfter)).toEqual([2n, 4n]);
    const error = refusedItem(results[1]);
    expect(error).toBeInstanceOf(InsufficientFundsError);
    expect(error).toMatchObject({ ledgerId: bob.id, balanceMinor: 0n, amountMinor: -50n });
    expect(results[1]?.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);

    // The same item alone (bob now has the third item's 4) fails with the same class.
    const alone = await rejection(
      client.transfer({ fromLedgerId: bob.id, toLedgerId: alice.id, amountMinor: 50n }),
    );
    expect(alone).toBeInstanceOf(InsufficientFundsError);
    expect(alone).toMatchObject({ code: error.code, ledgerId: bob.id, amountMinor: -50n });
  });

  it("getTransaction: a transfer's legs, what was reversed and its reversals; a reversal and its entries point back", async () => {
    const { client, source, alice } = await setup();
    const { transaction: transfer } = await client.transfer({
      fromLedgerId: source.id,
      toLedgerId: alice.id,
      amountMinor: 10n,
    });
    const { transaction: reversal } = await client.reverseTransaction({
      transactionId: transfer.id,
      amountMinor: 3n,
    });

    const read = await client.getTransaction(transfer.id);
    expect(read).toMatchObject({
      id: transfer.id,
      kind: TransactionKind.TRANSFER,
      amount: 10n,
      reversedAmount: 3n,
      reversalIds: [reversal.id],
      reversesTransactionId: "",
    });
    expect(read.entries.map((entry) => [entry.ledgerId, entry.amount])).toEqual([
      [source.id, -10n],
      [alice.id, 10n],
    ]);

    const readReversal = await client.getTransaction(reversal.id);
    expect(readReversal).toMatchObject({
      kind: TransactionKind.REVERSAL,
      amount: 3n,
      reversesTransactionId: transfer.id,
      reversalIds: [],
    });
    expect(
      readReversal.entries.map((entry) => [
        entry.ledgerId,
        entry.operation,
        entry.amount,
        entry.reversesTransactionId,
      ]),
    ).toEqual([
      [source.id, "REVERSAL", 3n, transfer.id],
      [alice.id, "REVERSAL", -3n, transfer.id],
    ]);
    const [newest] = (await client.listEntries({ ledgerId: alice.id })).entries;
    expect(newest).toMatchObject({
      transactionId: reversal.id,
      reversesTransactionId: transfer.id,
    });
  });

  it("a reversal of a transfer the destination has spent is refused, naming the destination", async () => {
    const { content, source, alice } = await setup();
    const { transaction } = await content.transfer(source.id, alice.id, 5n);
    await content.creditSpend(alice.id, { amountMinor: -4n });

    const error = await rejection(
      content.ledger.reverseTransaction({ transactionId: transaction.id }),
    );
    expect(error).toBeInstanceOf(InsufficientFundsError);
    expect(error).toMatchObject({ ledgerId: alice.id, balanceMinor: 1n, amountMinor: -5n });
    expect((await content.ledger.getTransaction(transaction.id)).reversedAmount).toBe(0n);
  });

  it("findTransactionByExternalId: the app's transaction, or undefined; other failures reject", async () => {
    const { client, content, source, alice, externalId } = await setup();
    const paymentId = externalId("payment");
    const { transaction } = await content.transfer(source.id, alice.id, 8n, {
      externalTransactionId: paymentId,
      reference: "order-1",
    });

    const found = await client.findTransactionByExternalId("content", paymentId);
    expect(found).toMatchObject({
      id: transaction.id,
      kind: TransactionKind.TRANSFER,
      externalTransactionId: paymentId,
    });
    expect(await client.findTransactionByExternalId("learning", paymentId)).toBeUndefined();
    expect(await client.findTransactionByExternalId("content", externalId("none"))).toBeUndefined();
    expect(
      await rejection(client.findTransactionByExternalId("Not An App", paymentId)),
    ).toBeInstanceOf(InvalidArgumentError);

    // The same external id and reference filter the ledger's entries.
    const byExternalId = await client.listEntries({
      ledgerId: alice.id,
      externalTransactionId: paymentId,
    });
    expect(byExternalId.entries.map((entry) => entry.transactionId)).toEqual([transaction.id]);
    await content.dailyReward(alice.id);
    const byReference = await client.listEntries({ ledgerId: alice.id, reference: "order-1" });
    expect(byReference.entries.map((entry) => entry.amount)).toEqual([8n]);
  });

  it("ExternalIdAlreadyUsedError names the app, the id and the transaction that has it; a replay is no conflict", async () => {
    const { client, content, source, alice, bob, externalId } = await setup();
    const paymentId = externalId("payment");
    const input = {
      fromLedgerId: source.id,
      toLedgerId: alice.id,
      amountMinor: 3n,
      externalTransactionId: paymentId,
      idempotencyKey: randomUUID(),
    };
    const { transaction } = await client.transfer(input);
    expect((await client.transfer(input)).replayed).toBe(true);

    const byTransfer = await rejection(
      content.transfer(source.id, bob.id, 3n, { externalTransactionId: paymentId }),
    );
    expect(byTransfer).toBeInstanceOf(ExternalIdAlreadyUsedError);
    expect(byTransfer).toMatchObject({
      code: Code.AlreadyExists,
      reason: "EXTERNAL_ID_ALREADY_USED",
      app: "content",
      externalTransactionId: paymentId,
      transactionId: transaction.id,
    });
    const byEntry = await rejection(
      content.creditAdd(bob.id, { externalTransactionId: paymentId }),
    );
    expect(byEntry).toBeInstanceOf(ExternalIdAlreadyUsedError);
    expect(byEntry).toMatchObject({ transactionId: transaction.id });
    expect((await client.getBalance({ ledgerId: bob.id })).balance).toBe(0n);
  });

  it("AppMismatchError and UnitMismatchError name both ledgers and what differs", async () => {
    const { client, content, source, alice } = await setup();
    const learning = createLearningClient(client);
    const { ledger: seats } = await learning.createLedger({
      ownerId: `school-${protocol}-${serial}`,
      unit: "CREDITS",
    });
    const { ledger: cents } = await content.createLedger({
      ownerId: `alice-${protocol}-${serial}`,
      unit: "USD_CENTS",
    });

    const apps = await rejection(content.transfer(source.id, seats.id, 1n));
    expect(apps).toBeInstanceOf(AppMismatchError);
    expect(apps).toMatchObject({
      code: Code.InvalidArgument,
      reason: "APP_MISMATCH",
      fromLedgerId: source.id,
      toLedgerId: seats.id,
      fromApp: "content",
      toApp: "learning",
    });

    const units = await rejection(content.transfer(source.id, cents.id, 1n));
    expect(units).toBeInstanceOf(UnitMismatchError);
    expect(units).toMatchObject({
      code: Code.InvalidArgument,
      reason: "UNIT_MISMATCH",
      fromLedgerId: source.id,
      toLedgerId: cents.id,
      fromUnit: "CREDITS",
      toUnit: "USD_CENTS",
    });
    expect((await client.getLedger(alice.id)).version).toBe(0n);
    expect((await client.getLedger(source.id)).version).toBe(0n);
  });
});
