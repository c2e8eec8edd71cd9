/**
 * The content app end to end through the SDK and the real server, over each
 * protocol: every operation of its generated client records with its proto
 * default (CONTENT_CREATION -5, CONTENT_ACCESS 0), explicit amounts follow the
 * operation's direction, and the server refuses another app's operation
 * (UNKNOWN_OPERATION), a sign against the direction (AMOUNT_DIRECTION_MISMATCH)
 * and another amount than a fixed operation's (AMOUNT_NOT_ALLOWED); another
 * declared app has only its own and the shared operations.
 */
import { describe, expect, it } from "vitest";
import {
  AmountDirectionMismatchError,
  AmountNotAllowedError,
  CONTENT_APP,
  createContentClient,
  PROTOCOLS,
  UnknownOperationError,
} from "../../src/sdk/index.js";
import { useSdkClients } from "./sdk-clients.js";

const ledgerClient = useSdkClients();

describe.each(PROTOCOLS)("content app over %s", (protocol) => {
  it("records each of its operations with the proto's default amounts", async () => {
    const content = createContentClient(ledgerClient(protocol));
    const { ledger } = await content.createLedger({
      ownerId: `writer-${protocol}`,
      unit: "CREDITS",
    });
    expect(ledger.app).toBe("content");

    const steps: [string, () => ReturnType<typeof content.record>, bigint][] = [
      ["SIGNUP_CREDIT", () => content.signupCredit(ledger.id), 3n],
      ["CREDIT_ADD", () => content.creditAdd(ledger.id), 10n],
      ["DAILY_REWARD", () => content.dailyReward(ledger.id), 1n],
      ["CONTENT_CREATION", () => content.contentCreation(ledger.id), -5n],
      ["CONTENT_ACCESS", () => content.contentAccess(ledger.id), 0n],
      ["CREDIT_SPEND", () => content.creditSpend(ledger.id), -1n],
    ];
    let balance = 0n;
    for (const [operation, record, amount] of steps) {
      const { entry, replayed } = await record();
      balance += amount;
      expect({
        operation: entry.operation,
        amount: entry.amount,
        balanceAfter: entry.balanceAfter,
        replayed,
      }).toEqual({
        operation,
        amount,
        balanceAfter: balance,
        replayed: false,
      });
    }
    // Every declared operation was exercised: the list above follows the proto.
    expect(steps.map(([name]) => name).sort()).toEqual(
      CONTENT_APP.operations.map((op) => op.name).sort(),
    );
    expect((await content.getBalance(`writer-${protocol}`, "CREDITS")).balance).toBe(balance);
  });

  it("takes explicit amounts in the operation's direction, 0 and both signs for CONTENT_ACCESS", async () => {
    const content = createContentClient(ledgerClient(protocol));
    const { ledger } = await content.createLedger({
      ownerId: `reader-${protocol}`,
      unit: "CREDITS",
    });
    await content.creditAdd(ledger.id, { amountMinor: 20n });
    expect((await content.creditSpend(ledger.id, { amountMinor: -7n })).entry.balanceAfter).toBe(
      13n,
    );
    expect((await content.contentAccess(ledger.id, { amountMinor: -2n })).entry.balanceAfter).toBe(
      11n,
    );
    expect((await content.contentAccess(ledger.id, { amountMinor: 4n })).entry.balanceAfter).toBe(
      15n,
    );
    expect((await content.contentAccess(ledger.id, { amountMinor: 0n })).entry.balanceAfter).toBe(
      15n,
    );
  });

  it("refuses a learning operation on a content ledger and a credit amount for CONTENT_CREATION", async () => {
    const client = ledgerClient(protocol);
    const content = createContentClient(client);
    const { ledger } = await content.createLedger({
      ownerId: `mixed-${protocol}`,
      unit: "CREDITS",
    });
    await content.creditAdd(ledger.id);

    // The typed client cannot even express it; the untyped one reaches the server.
    const unknown = await client
      .recordEntry({ ledgerId: ledger.id, operation: "COURSE_ENROLLMENT" })
      .catch((error: unknown) => error);
    expect(unknown).toBeInstanceOf(UnknownOperationError);
    expect(unknown).toMatchObject({
      code: 3,
      reason: "UNKNOWN_OPERATION",
      operation: "COURSE_ENROLLMENT",
      app: "content",
    });

    // contentCreation() takes no amount (CONTENT_CREATION is fixed); record() reaches the server.
    const mismatch = await content
      .record(ledger.id, "CONTENT_CREATION", { amountMinor: 5n })
      .catch((error: unknown) => error);
    expect(mismatch).toBeInstanceOf(AmountDirectionMismatchError);
    expect(mismatch).toMatchObject({
      code: 3,
      operation: "CONTENT_CREATION",
      direction: "DEBIT",
      amountMinor: 5n,
    });
    expect((await content.getBalance(`mixed-${protocol}`, "CREDITS")).balance).toBe(10n);
  });

  it("holds CONTENT_CREATION to its fixed -5: exactly -5 is taken, another amount is AmountNotAllowedError", async () => {
    const content = createContentClient(ledgerClient(protocol));
    const { ledger } = await content.createLedger({
      ownerId: `fixed-${protocol}`,
      unit: "CREDITS",
    });
    await content.creditAdd(ledger.id, { amountMinor: 20n });

    const exact = await content.record(ledger.id, "CONTENT_CREATION", { amountMinor: -5n });
    expect(exact.entry.amount).toBe(-5n);
    const refused = await content
      .record(ledger.id, "CONTENT_CREATION", { amountMinor: -7n })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AmountNotAllowedError);
    expect(refused).toMatchObject({
      code: 3,
      reason: "AMOUNT_NOT_ALLOWED",
      operation: "CONTENT_CREATION",
      amountMinor: -7n,
      fixedAmountMinor: -5n,
      amountMinAbsMinor: undefined,
      amountMaxAbsMinor: undefined,
    });
    expect((await content.getBalance(`fixed-${protocol}`, "CREDITS")).balance).toBe(15n);
  });

  it("keeps CONTENT_CREATION to content: another app has only its own and the shared operations", async () => {
    const client = ledgerClient(protocol);
    const { ledger } = await client.createLedger({
      app: "learning",
      ownerId: `plain-${protocol}`,
      unit: "CREDITS",
    });
    expect(
      (await client.recordEntry({ ledgerId: ledger.id, operation: "CREDIT_ADD" })).entry.amount,
    ).toBe(10n);
    const refused = await client
      .recordEntry({ ledgerId: ledger.id, operation: "CONTENT_CREATION" })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(UnknownOperationError);
    expect(refused).toMatchObject({ operation: "CONTENT_CREATION", app: "learning" });
  });
});
