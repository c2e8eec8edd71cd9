/**
 * The learning app end to end through the SDK and the real server, over each
 * protocol: enrolments paid in SEATS (COURSE_ENROLLMENT's default, one seat)
 * and in USD_CENTS (the price given), seat purchases, the shared operations,
 * the floor refusing an enrolment without seats (InsufficientFundsError), a
 * content operation refused on a learning ledger, and an enrolment reversed
 * under the built-in REVERSAL operation.
 */
import { describe, expect, it } from "vitest";
import {
  createLearningClient,
  InsufficientFundsError,
  LEARNING_APP,
  PROTOCOLS,
  UnknownOperationError,
} from "../../src/sdk/index.js";
import { useSdkClients } from "./sdk-clients.js";

const ledgerClient = useSdkClients();

describe.each(PROTOCOLS)("learning app over %s", (protocol) => {
  it("pays enrolments in SEATS by default and refuses one without seats left", async () => {
    const learning = createLearningClient(ledgerClient(protocol));
    const owner = `school-${protocol}`;
    const { ledger } = await learning.createLedger({ ownerId: owner, unit: "SEATS" });
    expect((await learning.seatPurchase(ledger.id, { amountMinor: 2n })).entry.balanceAfter).toBe(
      2n,
    );

    const first = await learning.courseEnrollment(ledger.id, { reference: "course-101" });
    expect(first.entry).toMatchObject({
      operation: "COURSE_ENROLLMENT",
      amount: -1n,
      balanceAfter: 1n,
    });
    await learning.courseEnrollment(ledger.id);

    const refused = await learning.courseEnrollment(ledger.id).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(InsufficientFundsError);
    expect(refused).toMatchObject({
      reason: "INSUFFICIENT_FUNDS",
      ledgerId: ledger.id,
      balanceMinor: 0n,
      amountMinor: -1n,
      minBalanceMinor: 0n,
    });

    // An enrolment cancelled: the seat comes back as a REVERSAL, not a learning operation.
    const reversed = await learning.ledger.reverseTransaction({
      transactionId: first.entry.transactionId,
    });
    expect(reversed.transaction.entries.map((e) => [e.operation, e.amount])).toEqual([
      ["REVERSAL", 1n],
    ]);
    expect((await learning.getBalance(owner, "SEATS")).balance).toBe(1n);
  });

  it("pays enrolments in USD_CENTS at the given price, beside the shared operations", async () => {
    const learning = createLearningClient(ledgerClient(protocol));
    const owner = `student-${protocol}`;
    const { ledger } = await learning.createLedger({ ownerId: owner, unit: "USD_CENTS" });
    await learning.seatPurchase(ledger.id, { amountMinor: 10_000n, description: "deposit" });
    await learning.courseEnrollment(ledger.id, { amountMinor: -4_999n });
    await learning.signupCredit(ledger.id);
    await learning.dailyReward(ledger.id);
    await learning.creditAdd(ledger.id);
    await learning.creditSpend(ledger.id);
    expect((await learning.getBalance(owner, "USD_CENTS")).balance).toBe(
      10_000n - 4_999n + 3n + 1n + 10n - 1n,
    );

    const { entries } = await learning.ledger.listEntries({ ledgerId: ledger.id });
    expect(new Set(entries.map((e) => e.operation))).toEqual(
      new Set(LEARNING_APP.operations.map((op) => op.name)),
    );
  });

  it("refuses a content operation on a learning ledger", async () => {
    const client = ledgerClient(protocol);
    const learning = createLearningClient(client);
    const { ledger } = await learning.createLedger({ ownerId: `other-${protocol}`, unit: "SEATS" });
    const refused = await client
      .recordEntry({ ledgerId: ledger.id, operation: "CONTENT_CREATION" })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(UnknownOperationError);
    expect(refused).toMatchObject({ operation: "CONTENT_CREATION", app: "learning" });
  });
});
