/**
 * Every refusal the real server can produce reaches the SDK, over each
 * protocol, as the LedgerRpcError subclass of its ErrorInfo reason
 * (`instanceof`), with its code and its metadata parsed (amounts as bigint).
 */
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  AmountDirectionMismatchError,
  BalanceOverflowError,
  createContentClient,
  IdempotencyKeyReusedError,
  InsufficientFundsError,
  InvalidArgumentError,
  LedgerAlreadyExistsError,
  LedgerNotFoundError,
  LedgerRpcError,
  LedgerTerminatedError,
  PROTOCOLS,
  ReversalExceedsTransactionError,
  TransactionNotFoundError,
  TransactionNotReversibleError,
  UnknownOperationError,
} from "../../src/sdk/index.js";
import { useSdkClients } from "./sdk-clients.js";

const INT64_MAX = 2n ** 63n - 1n;
const MISSING_ID = "00000000-0000-7000-8000-000000000000";

const ledgerClient = useSdkClients();

async function failure(call: Promise<unknown>): Promise<LedgerRpcError> {
  const outcome = await call.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome, "the call should have failed").toBeInstanceOf(LedgerRpcError);
  return outcome as LedgerRpcError;
}

describe.each(PROTOCOLS)("typed errors over %s", (protocol) => {
  let serial = 0;
  const setup = async (unbounded = false) => {
    const client = ledgerClient(protocol);
    const content = createContentClient(client);
    serial += 1;
    const ownerId = `errors-${protocol}-${serial}`;
    const { ledger } = await content.createLedger({ ownerId, unit: "CREDITS", unbounded });
    return { client, content, ledger, ownerId };
  };

  it("INSUFFICIENT_FUNDS with balance, amount and floor", async () => {
    const { content, ledger } = await setup();
    await content.creditAdd(ledger.id, { amountMinor: 4n });
    const error = await failure(content.contentCreation(ledger.id));
    expect(error).toBeInstanceOf(InsufficientFundsError);
    expect(error).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "INSUFFICIENT_FUNDS",
      ledgerId: ledger.id,
      balanceMinor: 4n,
      amountMinor: -5n,
      minBalanceMinor: 0n,
      retryable: false,
    });
  });

  it("LEDGER_TERMINATED, LEDGER_NOT_FOUND, TRANSACTION_NOT_FOUND", async () => {
    const { client, content, ledger } = await setup();
    await client.terminateLedger(ledger.id);
    const terminated = await failure(content.dailyReward(ledger.id));
    expect(terminated).toBeInstanceOf(LedgerTerminatedError);
    expect(terminated).toMatchObject({ code: Code.FailedPrecondition, ledgerId: ledger.id });

    const missing = await failure(client.getLedger(MISSING_ID));
    expect(missing).toBeInstanceOf(LedgerNotFoundError);
    expect(missing).toMatchObject({ code: Code.NotFound, ledgerId: MISSING_ID });

    const noTransaction = await failure(client.reverseTransaction({ transactionId: MISSING_ID }));
    expect(noTransaction).toBeInstanceOf(TransactionNotFoundError);
    expect(noTransaction).toMatchObject({ code: Code.NotFound, transactionId: MISSING_ID });
  });

  it("IDEMPOTENCY_KEY_REUSED and LEDGER_ALREADY_EXISTS", async () => {
    const { client, content, ledger, ownerId } = await setup();
    await content.creditAdd(ledger.id, { idempotencyKey: `key-${protocol}` });
    const reused = await failure(
      content.creditAdd(ledger.id, { idempotencyKey: `key-${protocol}`, amountMinor: 11n }),
    );
    expect(reused).toBeInstanceOf(IdempotencyKeyReusedError);
    expect(reused).toMatchObject({ code: Code.AlreadyExists, idempotencyKey: `key-${protocol}` });

    const exists = await failure(client.createLedger({ app: "content", ownerId, unit: "CREDITS" }));
    expect(exists).toBeInstanceOf(LedgerAlreadyExistsError);
    expect(exists).toMatchObject({ code: Code.AlreadyExists, ledgerId: ledger.id });
  });

  it("REVERSAL_EXCEEDS_TRANSACTION with amounts, TRANSACTION_NOT_REVERSIBLE", async () => {
    const { client, content, ledger } = await setup();
    const { entry } = await content.creditAdd(ledger.id);
    const exceeds = await failure(
      client.reverseTransaction({ transactionId: entry.transactionId, amountMinor: 11n }),
    );
    expect(exceeds).toBeInstanceOf(ReversalExceedsTransactionError);
    expect(exceeds).toMatchObject({
      code: Code.FailedPrecondition,
      transactionId: entry.transactionId,
      amountMinor: 11n,
      reversibleAmountMinor: 10n,
    });

    const { transaction } = await client.reverseTransaction({ transactionId: entry.transactionId });
    const notReversible = await failure(
      client.reverseTransaction({ transactionId: transaction.id }),
    );
    expect(notReversible).toBeInstanceOf(TransactionNotReversibleError);
    expect(notReversible).toMatchObject({ transactionId: transaction.id });
  });

  it("UNKNOWN_OPERATION, AMOUNT_DIRECTION_MISMATCH and INVALID_ARGUMENT name what was wrong", async () => {
    const { client, content, ledger } = await setup();
    const unknown = await failure(
      client.recordEntry({ ledgerId: ledger.id, operation: "REVERSAL" }),
    );
    expect(unknown).toBeInstanceOf(UnknownOperationError);
    expect(unknown).toMatchObject({
      code: Code.InvalidArgument,
      operation: "REVERSAL",
      app: "content",
    });

    const mismatch = await failure(content.creditSpend(ledger.id, { amountMinor: 0n }));
    expect(mismatch).toBeInstanceOf(AmountDirectionMismatchError);
    expect(mismatch).toMatchObject({
      operation: "CREDIT_SPEND",
      direction: "DEBIT",
      amountMinor: 0n,
    });

    const invalid = await failure(content.createLedger({ ownerId: "x", unit: "credits" }));
    expect(invalid).toBeInstanceOf(InvalidArgumentError);
    expect(invalid).toMatchObject({ code: Code.InvalidArgument, field: "unit" });
  });

  it("BALANCE_OVERFLOW with balance and amount", async () => {
    const { content, ledger } = await setup(true);
    await content.creditAdd(ledger.id, { amountMinor: INT64_MAX });
    const overflow = await failure(content.dailyReward(ledger.id));
    expect(overflow).toBeInstanceOf(BalanceOverflowError);
    expect(overflow).toMatchObject({
      code: Code.OutOfRange,
      ledgerId: ledger.id,
      balanceMinor: INT64_MAX,
      amountMinor: 1n,
    });
  });
});
