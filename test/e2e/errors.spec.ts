/**
 * Every refusal through each client carries its gRPC code and a
 * google.rpc.ErrorInfo with domain "ledger.v1", a stable reason and the
 * metadata the contract lists; and a refused write leaves no trace (balance,
 * version and entry count unchanged). Bad input is INVALID_ARGUMENT naming
 * the field, never INTERNAL.
 */
import { describe, expect, it } from "vitest";
import {
  CLIENT_NAMES,
  ERROR_DOMAIN,
  failureOf,
  type LedgerApi,
  type RpcFailure,
} from "../support/clients.js";
import {
  absentId,
  declaredApp,
  INT64_MAX,
  INT64_MIN,
  uniqueKey,
  uniqueOwner,
} from "../support/fixtures.js";
import { useLedgerServer } from "../support/server.js";
import { expectRefusal, openLedger, post, snapshot } from "../support/steps.js";

const harness = useLedgerServer();

/** Runs a write that must be refused and proves the ledger did not change. */
async function refusedWrite(
  api: LedgerApi,
  ledgerId: string,
  write: () => Promise<unknown>,
): Promise<RpcFailure> {
  const before = await snapshot(api, ledgerId);
  const failure = await failureOf(write());
  expect(await snapshot(api, ledgerId), `after ${failure.message}`).toEqual(before);
  return failure;
}

describe.each(CLIENT_NAMES)("refusals through %s", (clientName) => {
  const api = () => harness.client(clientName);

  it("LEDGER_NOT_FOUND (NOT_FOUND) for every call naming an unknown ledger", async () => {
    const missing = absentId();
    const calls: (() => Promise<unknown>)[] = [
      () => api().getLedger(missing),
      () =>
        api().recordEntry({
          ledgerId: missing,
          operation: "DAILY_REWARD",
          idempotencyKey: uniqueKey(),
        }),
      () => api().getBalance({ ledgerId: missing }),
      () => api().listEntries({ ledgerId: missing }),
      () => api().terminateLedger(missing),
    ];
    for (const call of calls) {
      expectRefusal(await failureOf(call()), "NOT_FOUND", "LEDGER_NOT_FOUND", {
        ledger_id: missing,
      });
    }

    const known = await openLedger(api());
    const byOwner = await failureOf(
      api().getBalance({ app: known.app, ownerId: `${known.ownerId}-x`, unit: known.unit }),
    );
    expectRefusal(byOwner, "NOT_FOUND", "LEDGER_NOT_FOUND");
    const byUnit = await failureOf(
      api().getBalance({ app: known.app, ownerId: known.ownerId, unit: "SEATS" }),
    );
    expectRefusal(byUnit, "NOT_FOUND", "LEDGER_NOT_FOUND");
  });

  it("TRANSACTION_NOT_FOUND (NOT_FOUND) when reversing an unknown transaction", async () => {
    const missing = absentId();
    const failure = await failureOf(
      api().reverseTransaction({ transactionId: missing, idempotencyKey: uniqueKey() }),
    );
    expectRefusal(failure, "NOT_FOUND", "TRANSACTION_NOT_FOUND", { transaction_id: missing });
  });

  it("INSUFFICIENT_FUNDS (FAILED_PRECONDITION) names the balance, the amount and the floor", async () => {
    const ledger = await openLedger(api());
    await post(api(), ledger.id, "CREDIT_ADD", 5n);

    const failure = await refusedWrite(api(), ledger.id, () =>
      post(api(), ledger.id, "CREDIT_SPEND", -6n),
    );
    expectRefusal(failure, "FAILED_PRECONDITION", "INSUFFICIENT_FUNDS", {
      ledger_id: ledger.id,
      balance: "5",
      amount: "-6",
      min_balance: "0",
    });
  });

  it("UNKNOWN_OPERATION (INVALID_ARGUMENT) for an operation the app does not define, REVERSAL included", async () => {
    const ledger = await openLedger(api());
    await post(api(), ledger.id, "CREDIT_ADD");

    for (const operation of ["TELEPORT", "REVERSAL"]) {
      const failure = await refusedWrite(api(), ledger.id, () =>
        post(api(), ledger.id, operation, operation === "REVERSAL" ? -1n : undefined),
      );
      expectRefusal(failure, "INVALID_ARGUMENT", "UNKNOWN_OPERATION", {
        operation,
        app: ledger.app,
      });
    }
  });

  it("AMOUNT_DIRECTION_MISMATCH (INVALID_ARGUMENT) when the sign contradicts the operation, zero included", async () => {
    const ledger = await openLedger(api(), { unbounded: true });
    const cases: [string, bigint, string][] = [
      ["CREDIT_SPEND", 5n, "DEBIT"],
      ["DAILY_REWARD", -1n, "CREDIT"],
      ["CREDIT_ADD", 0n, "CREDIT"],
      ["CREDIT_SPEND", 0n, "DEBIT"],
    ];
    for (const [operation, amount, direction] of cases) {
      const failure = await refusedWrite(api(), ledger.id, () =>
        post(api(), ledger.id, operation, amount),
      );
      expectRefusal(failure, "INVALID_ARGUMENT", "AMOUNT_DIRECTION_MISMATCH", {
        operation,
        direction,
        amount: amount.toString(),
      });
    }
  });

  it("AMOUNT_NOT_ALLOWED (INVALID_ARGUMENT) for DAILY_REWARD with 1000: it is fixed at +1; the key stays unused", async () => {
    const ledger = await openLedger(api());
    const request = {
      ledgerId: ledger.id,
      operation: "DAILY_REWARD",
      amount: 1000n,
      idempotencyKey: uniqueKey("reward"),
    };
    const failure = await refusedWrite(api(), ledger.id, () => api().recordEntry(request));
    expectRefusal(failure, "INVALID_ARGUMENT", "AMOUNT_NOT_ALLOWED", {
      operation: "DAILY_REWARD",
      amount: "1000",
      fixed_amount: "1",
    });
    const { amount, ...withoutAmount } = request;
    const recorded = await api().recordEntry(withoutAmount);
    expect([recorded.replayed, recorded.value.amount]).toEqual([false, 1n]);

    // A transfer under a fixed operation moves exactly its |default|.
    const to = await openLedger(api(), { app: ledger.app });
    const transfer = await refusedWrite(api(), ledger.id, () =>
      api().transfer({
        fromLedgerId: ledger.id,
        toLedgerId: to.id,
        amount: 2n,
        operation: "SIGNUP_CREDIT",
        idempotencyKey: uniqueKey("transfer"),
      }),
    );
    expectRefusal(transfer, "INVALID_ARGUMENT", "AMOUNT_NOT_ALLOWED", {
      operation: "SIGNUP_CREDIT",
      amount: "2",
      fixed_amount: "3",
    });
  });

  it("LEDGER_ALREADY_EXISTS (ALREADY_EXISTS) for a second active ledger of one owner in one unit", async () => {
    const existing = await openLedger(api());
    const failure = await failureOf(
      api().createLedger({
        app: existing.app,
        ownerId: existing.ownerId,
        unit: existing.unit,
        idempotencyKey: uniqueKey(),
      }),
    );
    expectRefusal(failure, "ALREADY_EXISTS", "LEDGER_ALREADY_EXISTS", {
      ledger_id: existing.id,
      app: existing.app,
      owner_id: existing.ownerId,
      unit: existing.unit,
    });
    const listed = await api().listLedgers({ app: existing.app, ownerId: existing.ownerId });
    expect(listed.items.map((l) => l.id)).toEqual([existing.id]);
  });

  it("BALANCE_OVERFLOW (OUT_OF_RANGE) past int64 on an unbounded ledger, both ways", async () => {
    const up = await openLedger(api(), { unbounded: true });
    await post(api(), up.id, "CREDIT_ADD", INT64_MAX);
    const over = await refusedWrite(api(), up.id, () => post(api(), up.id, "DAILY_REWARD"));
    expectRefusal(over, "OUT_OF_RANGE", "BALANCE_OVERFLOW", {
      ledger_id: up.id,
      balance: INT64_MAX.toString(),
      amount: "1",
    });
    expect((await api().getLedger(up.id)).balance).toBe(INT64_MAX);

    const down = await openLedger(api(), { unbounded: true });
    await post(api(), down.id, "CREDIT_SPEND", INT64_MIN / 2n);
    await post(api(), down.id, "CREDIT_SPEND", INT64_MIN / 2n);
    const under = await refusedWrite(api(), down.id, () => post(api(), down.id, "CREDIT_SPEND"));
    expectRefusal(under, "OUT_OF_RANGE", "BALANCE_OVERFLOW", {
      ledger_id: down.id,
      balance: INT64_MIN.toString(),
      amount: "-1",
    });
  });

  it("an amount of int64 min, whose magnitude is no int64, is refused as bad input, not INTERNAL", async () => {
    const ledger = await openLedger(api(), { unbounded: true });
    const failure = await refusedWrite(api(), ledger.id, () =>
      post(api(), ledger.id, "CREDIT_SPEND", INT64_MIN),
    );
    expect(failure.domain, failure.message).toBe(ERROR_DOMAIN);
    expect(["INVALID_ARGUMENT/INVALID_ARGUMENT", "OUT_OF_RANGE/BALANCE_OVERFLOW"]).toContain(
      `${failure.code}/${failure.reason}`,
    );
  });

  it("BALANCE_OVERFLOW (OUT_OF_RANGE) on a credit ledger and for a reversal past int64", async () => {
    const credit = await openLedger(api(), { minBalance: INT64_MIN });
    expect(credit.minBalance).toBe(INT64_MIN);
    await post(api(), credit.id, "CREDIT_ADD", INT64_MAX - 1n);
    await post(api(), credit.id, "DAILY_REWARD");
    const over = await refusedWrite(api(), credit.id, () =>
      post(api(), credit.id, "CREDIT_ADD", 10n),
    );
    expectRefusal(over, "OUT_OF_RANGE", "BALANCE_OVERFLOW", { ledger_id: credit.id });

    const source = await openLedger(api(), { unbounded: true });
    const spend = await post(api(), source.id, "CREDIT_SPEND", -10n);
    await post(api(), source.id, "CREDIT_ADD", INT64_MAX);
    await post(api(), source.id, "CREDIT_ADD", 10n);
    const reversal = await refusedWrite(api(), source.id, () =>
      api().reverseTransaction({ transactionId: spend.transactionId, idempotencyKey: uniqueKey() }),
    );
    expectRefusal(reversal, "OUT_OF_RANGE", "BALANCE_OVERFLOW", {
      ledger_id: source.id,
      balance: INT64_MAX.toString(),
      amount: "10",
    });
  });

  describe("INVALID_ARGUMENT names the offending field in metadata.field", () => {
    const expectInvalid = async (call: Promise<unknown>, field: string) => {
      expectRefusal(await failureOf(call), "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field });
    };

    it("CreateLedger: app, owner_id, unit, min_balance, idempotency_key, annotations", async () => {
      const valid = {
        app: declaredApp(),
        ownerId: uniqueOwner(),
        unit: "CREDITS",
        idempotencyKey: uniqueKey(),
      };
      await expectInvalid(api().createLedger({ ...valid, idempotencyKey: "" }), "idempotency_key");
      await expectInvalid(api().createLedger({ ...valid, app: "" }), "app");
      await expectInvalid(api().createLedger({ ...valid, app: "Content App" }), "app");
      await expectInvalid(api().createLedger({ ...valid, app: "a".repeat(65) }), "app");
      await expectInvalid(api().createLedger({ ...valid, ownerId: "" }), "owner_id");
      await expectInvalid(api().createLedger({ ...valid, ownerId: "o".repeat(257) }), "owner_id");
      await expectInvalid(api().createLedger({ ...valid, unit: "credits" }), "unit");
      await expectInvalid(api().createLedger({ ...valid, unit: "" }), "unit");
      await expectInvalid(api().createLedger({ ...valid, minBalance: 1n }), "min_balance");
      await expectInvalid(
        api().createLedger({ ...valid, unbounded: true, minBalance: -5n }),
        "min_balance",
      );
      await expectInvalid(
        api().createLedger({ ...valid, description: "d".repeat(1025) }),
        "description",
      );
      await expectInvalid(api().createLedger({ ...valid, reference: "bad\u0000ref" }), "reference");
      const tooMany = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"]));
      await expectInvalid(api().createLedger({ ...valid, metadata: tooMany }), "metadata");

      expect((await api().listLedgers({ app: valid.app, ownerId: valid.ownerId })).items).toEqual(
        [],
      );
    });

    it("RecordEntry: ledger_id, operation, idempotency_key, a future occurred_at", async () => {
      const ledger = await openLedger(api());
      await post(api(), ledger.id, "CREDIT_ADD");
      const valid = { ledgerId: ledger.id, operation: "DAILY_REWARD", idempotencyKey: uniqueKey() };
      const before = await snapshot(api(), ledger.id);

      await expectInvalid(api().recordEntry({ ...valid, idempotencyKey: "" }), "idempotency_key");
      await expectInvalid(
        api().recordEntry({ ...valid, idempotencyKey: "k".repeat(257) }),
        "idempotency_key",
      );
      await expectInvalid(api().recordEntry({ ...valid, ledgerId: "" }), "ledger_id");
      await expectInvalid(api().recordEntry({ ...valid, ledgerId: "not-a-uuid" }), "ledger_id");
      await expectInvalid(
        api().recordEntry({ ...valid, ledgerId: ledger.id.toUpperCase() }),
        "ledger_id",
      );
      await expectInvalid(api().recordEntry({ ...valid, operation: "" }), "operation");
      await expectInvalid(api().recordEntry({ ...valid, operation: "daily_reward" }), "operation");
      await expectInvalid(
        api().recordEntry({ ...valid, occurredAt: new Date(Date.now() + 60 * 60 * 1000) }),
        "occurred_at",
      );
      await expectInvalid(
        api().recordEntry({ ...valid, externalTransactionId: "x".repeat(257) }),
        "external_transaction_id",
      );
      expect(await snapshot(api(), ledger.id)).toEqual(before);
    });

    it("ReverseTransaction: transaction_id, a non-positive amount, idempotency_key", async () => {
      const ledger = await openLedger(api());
      const credit = await post(api(), ledger.id, "CREDIT_ADD");
      const valid = { transactionId: credit.transactionId, idempotencyKey: uniqueKey() };
      const before = await snapshot(api(), ledger.id);

      await expectInvalid(
        api().reverseTransaction({ ...valid, idempotencyKey: "" }),
        "idempotency_key",
      );
      await expectInvalid(
        api().reverseTransaction({ ...valid, transactionId: "" }),
        "transaction_id",
      );
      await expectInvalid(
        api().reverseTransaction({ ...valid, transactionId: "123" }),
        "transaction_id",
      );
      await expectInvalid(api().reverseTransaction({ ...valid, amount: 0n }), "amount");
      await expectInvalid(api().reverseTransaction({ ...valid, amount: -5n }), "amount");
      expect(await snapshot(api(), ledger.id)).toEqual(before);
    });

    it("GetLedger, TerminateLedger: ledger_id", async () => {
      await expectInvalid(api().getLedger(""), "ledger_id");
      await expectInvalid(api().getLedger("../etc/passwd"), "ledger_id");
      await expectInvalid(api().terminateLedger("not-a-uuid"), "ledger_id");
    });

    it("GetBalance: a bad ledger_id, a bad unit, or ledger_id together with app", async () => {
      const ledger = await openLedger(api());
      await expectInvalid(api().getBalance({ ledgerId: "nope" }), "ledger_id");
      await expectInvalid(
        api().getBalance({ app: ledger.app, ownerId: ledger.ownerId, unit: "lower" }),
        "unit",
      );
      await expectInvalid(
        api().getBalance({ app: ledger.app, ownerId: ledger.ownerId, unit: "" }),
        "unit",
      );
      const both = await failureOf(
        api().getBalance({
          ledgerId: ledger.id,
          app: ledger.app,
          ownerId: ledger.ownerId,
          unit: ledger.unit,
        }),
      );
      expectRefusal(both, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field: "ledger_id" });
      await expectInvalid(api().getBalance({}), "ledger_id");
      await expectInvalid(api().getBalance({ app: ledger.app, unit: ledger.unit }), "owner_id");
    });

    it("ListLedgers, ListEntries: a negative page_size, a foreign page_token, an empty time window", async () => {
      const ledger = await openLedger(api());
      await post(api(), ledger.id, "CREDIT_ADD");
      await expectInvalid(api().listLedgers({ app: ledger.app, pageSize: -1 }), "page_size");
      await expectInvalid(api().listEntries({ ledgerId: ledger.id, pageSize: -1 }), "page_size");
      await expectInvalid(api().listLedgers({ app: "" }), "app");
      await expectInvalid(
        api().listLedgers({ app: ledger.app, pageToken: "not a token" }),
        "page_token",
      );
      await expectInvalid(
        api().listEntries({ ledgerId: ledger.id, pageToken: "not a token" }),
        "page_token",
      );
      const instant = new Date("2023-01-01T00:00:00Z");
      await expectInvalid(
        api().listEntries({ ledgerId: ledger.id, occurredAfter: instant, occurredBefore: instant }),
        "occurred_before",
      );
    });
  });
});
