/**
 * Transfer, CreateTransfers, GetTransaction and external ids through each
 * client. A transfer is one TRANSFER transaction: the debit of the source,
 * then the credit of the destination, the source's floor holding (an
 * unbounded source goes negative); every refusal names what refused it and
 * writes nothing. CreateTransfers is all-or-nothing when atomic, item by item
 * otherwise. A reversal compensates both legs, fully or partly, and is refused
 * when the destination has spent the money. GetTransaction shows any
 * transaction with its reversals, by id or by the app's external id, which is
 * unique per app. ListEntries filters by reference and external id. Transfers
 * racing in opposite directions neither deadlock nor create money.
 */
import { describe, expect, it } from "vitest";
import { verifyInvariants } from "../../src/store/index.js";
import {
  CLIENT_NAMES,
  type CreateLedgerParams,
  failureOf,
  type GetTransactionParams,
  type Ledger,
  type LedgerApi,
  type ListEntriesParams,
  type Outcome,
  RpcFailure,
  type TransferParams,
  type Written,
} from "../support/clients.js";
import {
  absentId,
  declaredApp,
  INT64_MAX,
  LEARNING,
  uniqueExternalId,
  uniqueKey,
} from "../support/fixtures.js";
import { useLedgerServer } from "../support/server.js";
import {
  allEntries,
  expectConsistentHistory,
  expectRefusal,
  type LedgerSnapshot,
  openLedger,
  post,
  reverse as reverseThrough,
  snapshot,
} from "../support/steps.js";

const harness = useLedgerServer();

/** BULK_ITEMS_MAX, as the contract states it. */
const ITEMS_MAX = 1000;

/** A transfer request with a fresh idempotency key. */
function transferOf(
  from: Ledger,
  to: Ledger,
  amount: bigint,
  extra: Partial<TransferParams> = {},
): TransferParams {
  return {
    fromLedgerId: from.id,
    toLedgerId: to.id,
    amount,
    idempotencyKey: uniqueKey("transfer"),
    ...extra,
  };
}

/** Ledgers of one declared app (content unless `params` names one), each for its own owner. */
async function openLedgers(
  api: LedgerApi,
  count: number,
  params: Partial<CreateLedgerParams> = {},
): Promise<Ledger[]> {
  const app = params.app ?? declaredApp();
  const ledgers: Ledger[] = [];
  for (let i = 0; i < count; i += 1) {
    ledgers.push(await openLedger(api, { ...params, app }));
  }
  return ledgers;
}

/** A source holding `funds` and a destination, in one declared app (content unless `source` names one). */
async function fundedPair(
  api: LedgerApi,
  funds: bigint,
  source: Partial<CreateLedgerParams> = {},
): Promise<[Ledger, Ledger]> {
  const app = source.app ?? declaredApp();
  const from = await openLedger(api, { ...source, app });
  const to = await openLedger(api, { app });
  if (funds > 0n) {
    await post(api, from.id, "CREDIT_ADD", funds);
  }
  return [from, to];
}

async function snapshots(api: LedgerApi, ids: readonly string[]): Promise<LedgerSnapshot[]> {
  return Promise.all(ids.map((id) => snapshot(api, id)));
}

/** Runs a write that must be refused and proves none of `ledgerIds` changed. */
async function refusedWrite(
  api: LedgerApi,
  ledgerIds: readonly string[],
  write: () => Promise<unknown>,
): Promise<RpcFailure> {
  const before = await snapshots(api, ledgerIds);
  const failure = await failureOf(write());
  expect(await snapshots(api, ledgerIds), `after ${failure.message}`).toEqual(before);
  return failure;
}

/** The outcome of an item that must have been made. */
function made<T>(outcome: Outcome<T> | undefined): Written<T> {
  if (outcome?.ok !== true) {
    throw new Error(`expected a made item, got ${outcome?.failure.message ?? "nothing"}`);
  }
  return outcome;
}

/** The failure of an item that must have been refused. */
function refused<T>(outcome: Outcome<T> | undefined): RpcFailure {
  if (outcome?.ok !== false) {
    throw new Error("expected a refused item, got a made one");
  }
  return outcome.failure;
}

/** A call's result, or its RpcFailure. */
async function outcomeOf<T>(call: Promise<Written<T>>): Promise<Outcome<T>> {
  try {
    return { ok: true, ...(await call) };
  } catch (error) {
    if (error instanceof RpcFailure) {
      return { ok: false, failure: error };
    }
    throw error;
  }
}

async function balances(api: LedgerApi, ledgers: readonly Ledger[]): Promise<bigint[]> {
  return Promise.all(ledgers.map(async (l) => (await api.getBalance({ ledgerId: l.id })).balance));
}

describe.each(CLIENT_NAMES)("Transfer through %s", (clientName) => {
  const api = () => harness.client(clientName);

  it("is one TRANSFER transaction: the debit of the source, then the credit of the destination", async () => {
    const [from, to] = await fundedPair(api(), 100n);
    const occurredAt = new Date("2025-05-06T07:08:09.123Z");
    const annotations = {
      description: "gift",
      reference: "order-9",
      metadata: { channel: "app" },
      externalTransactionId: `psp-${uniqueKey()}`,
      occurredAt,
    };

    const { value: tx, replayed } = await api().transfer(transferOf(from, to, 30n, annotations));

    expect(replayed).toBe(false);
    expect(tx).toMatchObject({
      kind: "TRANSFER",
      amount: 30n,
      reversedAmount: 0n,
      reversesTransactionId: "",
      reversalIds: [],
      externalTransactionId: annotations.externalTransactionId,
    });
    const leg = {
      transactionId: tx.id,
      operation: "TRANSFER",
      reversesTransactionId: "",
      ...annotations,
    };
    expect(tx.entries).toHaveLength(2);
    expect(tx.entries[0]).toMatchObject({
      ...leg,
      ledgerId: from.id,
      amount: -30n,
      balanceAfter: 70n,
      sequence: 2n,
    });
    expect(tx.entries[1]).toMatchObject({
      ...leg,
      ledgerId: to.id,
      amount: 30n,
      balanceAfter: 30n,
      sequence: 1n,
    });
    expect(tx.entries.reduce((sum, e) => sum + e.amount, 0n)).toBe(0n);
    expect(tx.entries.map((e) => e.createdAt)).toEqual([tx.createdAt, tx.createdAt]);

    expect(await balances(api(), [from, to])).toEqual([70n, 30n]);
    const [fromNewest] = await expectConsistentHistory(api(), from.id);
    const [toNewest] = await expectConsistentHistory(api(), to.id);
    expect([fromNewest, toNewest]).toEqual(tx.entries);
  });

  it("holds the source's floor: INSUFFICIENT_FUNDS naming the source, nothing written, no key used", async () => {
    const [from, to] = await fundedPair(api(), 10n);
    const request = transferOf(from, to, 11n);

    const failure = await refusedWrite(api(), [from.id, to.id], () => api().transfer(request));
    expectRefusal(failure, "FAILED_PRECONDITION", "INSUFFICIENT_FUNDS", {
      ledger_id: from.id,
      balance: "10",
      amount: "-11",
      min_balance: "0",
    });

    await post(api(), from.id, "CREDIT_ADD", 1n);
    const retried = await api().transfer(request);
    expect(retried.replayed).toBe(false);
    expect(await balances(api(), [from, to])).toEqual([0n, 11n]);
  });

  it("lets a credit line go down to its floor and no further", async () => {
    const [from, to] = await fundedPair(api(), 0n, { minBalance: -50n });
    await api().transfer(transferOf(from, to, 50n));
    const failure = await refusedWrite(api(), [from.id, to.id], () =>
      api().transfer(transferOf(from, to, 1n)),
    );
    expectRefusal(failure, "FAILED_PRECONDITION", "INSUFFICIENT_FUNDS", {
      ledger_id: from.id,
      balance: "-50",
      min_balance: "-50",
    });
    expect(await balances(api(), [from, to])).toEqual([-50n, 50n]);
  });

  it("lets an unbounded source go negative freely", async () => {
    const [from, to] = await fundedPair(api(), 0n, { unbounded: true });
    const { value: first } = await api().transfer(transferOf(from, to, 500n));
    const { value: second } = await api().transfer(transferOf(from, to, 250n));

    expect(first.entries.map((e) => e.balanceAfter)).toEqual([-500n, 500n]);
    expect(second.entries.map((e) => e.balanceAfter)).toEqual([-750n, 750n]);
    expect(await balances(api(), [from, to])).toEqual([-750n, 750n]);
    await expectConsistentHistory(api(), from.id);
  });

  it("refuses a credit past int64 on the destination (BALANCE_OVERFLOW) and keeps the source's debit unwritten", async () => {
    const [from, to] = await fundedPair(api(), 0n, { unbounded: true });
    await post(api(), to.id, "CREDIT_ADD", INT64_MAX);
    const failure = await refusedWrite(api(), [from.id, to.id], () =>
      api().transfer(transferOf(from, to, 1n)),
    );
    expectRefusal(failure, "OUT_OF_RANGE", "BALANCE_OVERFLOW", {
      ledger_id: to.id,
      balance: INT64_MAX.toString(),
      amount: "1",
    });
  });

  it("refuses the same ledger twice and a non-positive amount as INVALID_ARGUMENT naming the field", async () => {
    const [from, to] = await fundedPair(api(), 10n);
    const ids = [from.id, to.id];

    const same = await refusedWrite(api(), ids, () => api().transfer(transferOf(from, from, 1n)));
    expectRefusal(same, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field: "to_ledger_id" });
    for (const amount of [0n, -5n]) {
      const failure = await refusedWrite(api(), ids, () =>
        api().transfer(transferOf(from, to, amount)),
      );
      expectRefusal(failure, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field: "amount" });
    }
    const future = await refusedWrite(api(), ids, () =>
      api().transfer(transferOf(from, to, 1n, { occurredAt: new Date(Date.now() + 3_600_000) })),
    );
    expectRefusal(future, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field: "occurred_at" });
    const badId = await failureOf(
      api().transfer({ ...transferOf(from, to, 1n), fromLedgerId: "not-a-uuid" }),
    );
    expectRefusal(badId, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field: "from_ledger_id" });
    const noKey = await refusedWrite(api(), ids, () =>
      api().transfer(transferOf(from, to, 1n, { idempotencyKey: "" })),
    );
    expectRefusal(noKey, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field: "idempotency_key" });
  });

  it("refuses ledgers of two apps (APP_MISMATCH) or two units (UNIT_MISMATCH), writing nothing", async () => {
    const [from, to] = await fundedPair(api(), 10n);
    const elsewhere = await openLedger(api(), { app: LEARNING });
    const seats = await openLedger(api(), { app: from.app, unit: "SEATS" });

    const apps = await refusedWrite(api(), [from.id, elsewhere.id], () =>
      api().transfer(transferOf(from, elsewhere, 1n)),
    );
    expectRefusal(apps, "INVALID_ARGUMENT", "APP_MISMATCH", {
      from_ledger_id: from.id,
      to_ledger_id: elsewhere.id,
      from_app: from.app,
      to_app: elsewhere.app,
    });
    const units = await refusedWrite(api(), [from.id, seats.id], () =>
      api().transfer(transferOf(from, seats, 1n)),
    );
    expectRefusal(units, "INVALID_ARGUMENT", "UNIT_MISMATCH", {
      from_ledger_id: from.id,
      to_ledger_id: seats.id,
      from_unit: "CREDITS",
      to_unit: "SEATS",
    });
    expect(await balances(api(), [from, to])).toEqual([10n, 0n]);
  });

  it("refuses an operation the app does not define (UNKNOWN_OPERATION), REVERSAL included", async () => {
    const [from, to] = await fundedPair(api(), 10n);
    for (const operation of ["TELEPORT", "REVERSAL"]) {
      const failure = await refusedWrite(api(), [from.id, to.id], () =>
        api().transfer(transferOf(from, to, 1n, { operation })),
      );
      expectRefusal(failure, "INVALID_ARGUMENT", "UNKNOWN_OPERATION", {
        operation,
        app: from.app,
      });
    }
  });

  it("refuses a terminated source or destination (LEDGER_TERMINATED) naming it", async () => {
    const [from, to] = await fundedPair(api(), 10n);
    const [closedSource, closedDestination] = await openLedgers(api(), 2, { app: from.app });
    await post(api(), closedSource.id, "CREDIT_ADD", 10n);
    await api().terminateLedger(closedSource.id);
    await api().terminateLedger(closedDestination.id);

    const cases: [Ledger, Ledger, Ledger][] = [
      [closedSource, to, closedSource],
      [from, closedDestination, closedDestination],
    ];
    for (const [source, destination, closed] of cases) {
      const failure = await refusedWrite(api(), [source.id, destination.id], () =>
        api().transfer(transferOf(source, destination, 1n)),
      );
      expectRefusal(failure, "FAILED_PRECONDITION", "LEDGER_TERMINATED", { ledger_id: closed.id });
    }
  });

  it("refuses a missing source or destination (LEDGER_NOT_FOUND) naming it", async () => {
    const [from, to] = await fundedPair(api(), 10n);
    const missing = absentId();
    const requests = [
      { ...transferOf(from, to, 1n), fromLedgerId: missing },
      { ...transferOf(from, to, 1n), toLedgerId: missing },
    ];
    for (const request of requests) {
      const failure = await refusedWrite(api(), [from.id, to.id], () => api().transfer(request));
      expectRefusal(failure, "NOT_FOUND", "LEDGER_NOT_FOUND", { ledger_id: missing });
    }
  });

  it("records TRANSFER on both legs by default, or the app's operation it names", async () => {
    const [from, to] = await fundedPair(api(), 50n);
    const { value: plain } = await api().transfer(transferOf(from, to, 5n));
    const { value: named } = await api().transfer(
      transferOf(from, to, 5n, { operation: "CREDIT_SPEND" }),
    );
    expect(plain.entries.map((e) => e.operation)).toEqual(["TRANSFER", "TRANSFER"]);
    expect(named.entries.map((e) => e.operation)).toEqual(["CREDIT_SPEND", "CREDIT_SPEND"]);

    const [reader, author] = await openLedgers(api(), 2, { app: "content" });
    await post(api(), reader.id, "CREDIT_ADD", 20n);
    const { value: access } = await api().transfer(
      transferOf(reader, author, 7n, { operation: "CONTENT_ACCESS" }),
    );
    expect(access.entries.map((e) => [e.ledgerId, e.operation, e.amount])).toEqual([
      [reader.id, "CONTENT_ACCESS", -7n],
      [author.id, "CONTENT_ACCESS", 7n],
    ]);
  });

  it("keeps TRANSFER built in: RecordEntry may not record it (UNKNOWN_OPERATION)", async () => {
    const [ledger] = await fundedPair(api(), 10n);
    const failure = await refusedWrite(api(), [ledger.id], () =>
      post(api(), ledger.id, "TRANSFER", 1n),
    );
    expectRefusal(failure, "INVALID_ARGUMENT", "UNKNOWN_OPERATION", {
      operation: "TRANSFER",
      app: ledger.app,
    });
  });

  it("replays a repeated request with no second effect; the key with another request is IDEMPOTENCY_KEY_REUSED", async () => {
    const [from, to] = await fundedPair(api(), 100n);
    const request = transferOf(from, to, 25n, { reference: "r-1" });
    const first = await api().transfer(request);
    const after = await snapshots(api(), [from.id, to.id]);

    const again = await api().transfer(request);
    expect(again).toEqual({ ...first, replayed: true });
    const [asItem] = await api().createTransfers({ transfers: [request], atomic: false });
    expect(asItem).toEqual({ ok: true, value: first.value, replayed: true });
    expect(await snapshots(api(), [from.id, to.id])).toEqual(after);

    const changed = { ...request, amount: 26n };
    const reused = await refusedWrite(api(), [from.id, to.id], () => api().transfer(changed));
    expectRefusal(reused, "ALREADY_EXISTS", "IDEMPOTENCY_KEY_REUSED", {
      idempotency_key: request.idempotencyKey,
    });
    const [reusedItem] = await api().createTransfers({ transfers: [changed], atomic: false });
    expectRefusal(refused(reusedItem), "ALREADY_EXISTS", "IDEMPOTENCY_KEY_REUSED", {
      idempotency_key: request.idempotencyKey,
    });

    const entryKey = uniqueKey("entry");
    await api().recordEntry({
      ledgerId: from.id,
      operation: "CREDIT_ADD",
      amount: 1n,
      idempotencyKey: entryKey,
    });
    const byAnotherMethod = await refusedWrite(api(), [from.id, to.id], () =>
      api().transfer(transferOf(from, to, 1n, { idempotencyKey: entryKey })),
    );
    expectRefusal(byAnotherMethod, "ALREADY_EXISTS", "IDEMPOTENCY_KEY_REUSED", {
      idempotency_key: entryKey,
    });
  });
});

describe.each(CLIENT_NAMES)("CreateTransfers through %s", (clientName) => {
  const api = () => harness.client(clientName);

  it("atomic: a purchase pays the merchant and the platform fee, both or neither", async () => {
    const [buyer, merchant, platform] = await openLedgers(api(), 3);
    await post(api(), buyer.id, "CREDIT_ADD", 100n);
    const purchase = {
      transfers: [
        transferOf(buyer, merchant, 90n, { reference: "purchase-1" }),
        transferOf(buyer, platform, 10n, { reference: "purchase-1" }),
      ],
      atomic: true,
    };

    const outcomes = await api().createTransfers(purchase);
    const [sale, fee] = outcomes.map((o) => made(o));
    expect([sale?.replayed, fee?.replayed]).toEqual([false, false]);
    expect(sale?.value.entries.map((e) => [e.ledgerId, e.amount, e.balanceAfter])).toEqual([
      [buyer.id, -90n, 10n],
      [merchant.id, 90n, 90n],
    ]);
    expect(fee?.value.entries.map((e) => [e.ledgerId, e.amount, e.balanceAfter])).toEqual([
      [buyer.id, -10n, 0n],
      [platform.id, 10n, 10n],
    ]);
    expect(await balances(api(), [buyer, merchant, platform])).toEqual([0n, 90n, 10n]);
    for (const ledger of [buyer, merchant, platform]) {
      await expectConsistentHistory(api(), ledger.id);
    }

    const after = await snapshots(api(), [buyer.id, merchant.id, platform.id]);
    const again = await api().createTransfers(purchase);
    expect(again).toEqual(outcomes.map((o) => ({ ...o, replayed: true })));
    expect(await snapshots(api(), [buyer.id, merchant.id, platform.id])).toEqual(after);
    const [asTransfer] = purchase.transfers;
    expect(await api().transfer(asTransfer as TransferParams)).toEqual({
      value: sale?.value,
      replayed: true,
    });
  });

  it("atomic: one failing item fails the call with its index; nothing is written, no key used", async () => {
    const [buyer, merchant, platform] = await openLedgers(api(), 3);
    await post(api(), buyer.id, "CREDIT_ADD", 50n);
    const transfers = [transferOf(buyer, merchant, 45n), transferOf(buyer, platform, 10n)];
    const ids = [buyer.id, merchant.id, platform.id];

    const failure = await refusedWrite(api(), ids, () =>
      api().createTransfers({ transfers, atomic: true }),
    );
    expectRefusal(failure, "FAILED_PRECONDITION", "INSUFFICIENT_FUNDS", {
      index: "1",
      ledger_id: buyer.id,
      balance: "5",
      amount: "-10",
    });
    expect(failure.rawMessage).toMatch(/^transfers\[1\]: /);

    await post(api(), buyer.id, "CREDIT_ADD", 5n);
    const outcomes = await api().createTransfers({ transfers, atomic: true });
    expect(outcomes.map((o) => made(o).replayed)).toEqual([false, false]);
    expect(await balances(api(), [buyer, merchant, platform])).toEqual([0n, 45n, 10n]);
  });

  it("not atomic: one result per item, in order; a refused item fails alone and its key stays free", async () => {
    const [from, to, other] = await openLedgers(api(), 3);
    const elsewhere = await openLedger(api(), { app: LEARNING });
    await post(api(), from.id, "CREDIT_ADD", 20n);
    const overdraft = transferOf(from, to, 100n);
    const transfers = [
      transferOf(from, to, 5n),
      overdraft,
      transferOf(from, elsewhere, 1n),
      transferOf(from, other, 10n),
    ];

    const outcomes = await api().createTransfers({ transfers, atomic: false });
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, false, true]);
    expect(made(outcomes[0]).value.entries.map((e) => e.balanceAfter)).toEqual([15n, 5n]);
    expect(made(outcomes[3]).value.entries.map((e) => e.balanceAfter)).toEqual([5n, 10n]);
    expectRefusal(refused(outcomes[1]), "FAILED_PRECONDITION", "INSUFFICIENT_FUNDS", {
      ledger_id: from.id,
      balance: "15",
      amount: "-100",
    });
    expect(refused(outcomes[1]).metadata).not.toHaveProperty("index");
    expectRefusal(refused(outcomes[2]), "INVALID_ARGUMENT", "APP_MISMATCH", {
      from_app: from.app,
      to_app: elsewhere.app,
    });
    expect(await balances(api(), [from, to, other, elsewhere])).toEqual([5n, 5n, 10n, 0n]);

    await post(api(), from.id, "CREDIT_ADD", 100n);
    const [retried] = await api().createTransfers({ transfers: [overdraft], atomic: false });
    expect(made(retried).replayed).toBe(false);
    expect(await balances(api(), [from, to])).toEqual([5n, 105n]);
  });

  it.each([0, ITEMS_MAX + 1])(
    "%i items are INVALID_ARGUMENT naming transfers, atomic or not",
    async (count) => {
      const [from, to] = await fundedPair(api(), 10n);
      const transfers = Array.from({ length: count }, () => transferOf(from, to, 1n));
      for (const atomic of [false, true]) {
        const failure = await refusedWrite(api(), [from.id, to.id], () =>
          api().createTransfers({ transfers, atomic }),
        );
        expectRefusal(failure, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field: "transfers" });
      }
    },
  );

  it(`${ITEMS_MAX} items are accepted`, async () => {
    const [from, to] = await fundedPair(api(), BigInt(ITEMS_MAX));
    const transfers = Array.from({ length: ITEMS_MAX }, () => transferOf(from, to, 1n));
    const outcomes = await api().createTransfers({ transfers, atomic: true });
    expect(outcomes.filter((o) => o.ok)).toHaveLength(ITEMS_MAX);
    expect(await balances(api(), [from, to])).toEqual([0n, BigInt(ITEMS_MAX)]);
  });

  it("an invalid item or a key repeated within the call refuses the whole call, naming transfers[i]", async () => {
    const [from, to] = await fundedPair(api(), 10n);
    const ids = [from.id, to.id];
    const repeated = transferOf(from, to, 1n);
    for (const atomic of [false, true]) {
      const invalid = await refusedWrite(api(), ids, () =>
        api().createTransfers({
          transfers: [transferOf(from, to, 1n), transferOf(from, from, 1n)],
          atomic,
        }),
      );
      expectRefusal(invalid, "INVALID_ARGUMENT", "INVALID_ARGUMENT", {
        field: "transfers[1].to_ledger_id",
      });
      const twice = await refusedWrite(api(), ids, () =>
        api().createTransfers({
          transfers: [repeated, transferOf(from, to, 2n), { ...repeated, amount: 3n }],
          atomic,
        }),
      );
      expectRefusal(twice, "INVALID_ARGUMENT", "INVALID_ARGUMENT", {
        field: "transfers[2].idempotency_key",
      });
      expect(twice.rawMessage).toContain("transfers[0].idempotency_key");
    }
  });
});

describe.each(CLIENT_NAMES)("reversing a transfer through %s", (clientName) => {
  const api = () => harness.client(clientName);
  const reverse = (transactionId: string, amount?: bigint) =>
    reverseThrough(api(), transactionId, amount);

  it("a full reversal compensates both legs: the credit back to the source, the debit of the destination", async () => {
    const [from, to] = await fundedPair(api(), 100n);
    const { value: transfer } = await api().transfer(transferOf(from, to, 40n));

    const { value: reversal } = await reverse(transfer.id);

    expect(reversal).toMatchObject({
      kind: "REVERSAL",
      reversesTransactionId: transfer.id,
      amount: 40n,
    });
    expect(
      reversal.entries.map((e) => [e.ledgerId, e.operation, e.amount, e.balanceAfter]),
    ).toEqual([
      [from.id, "REVERSAL", 40n, 100n],
      [to.id, "REVERSAL", -40n, 0n],
    ]);
    expect(reversal.entries.map((e) => e.reversesTransactionId)).toEqual([
      transfer.id,
      transfer.id,
    ]);
    expect(await balances(api(), [from, to])).toEqual([100n, 0n]);
    expect(await api().getTransaction({ transactionId: transfer.id })).toMatchObject({
      reversedAmount: 40n,
      reversalIds: [reversal.id],
    });
    await expectConsistentHistory(api(), from.id);
    await expectConsistentHistory(api(), to.id);

    const exhausted = await refusedWrite(api(), [from.id, to.id], () => reverse(transfer.id, 1n));
    expectRefusal(exhausted, "FAILED_PRECONDITION", "REVERSAL_EXCEEDS_TRANSACTION", {
      transaction_id: transfer.id,
      reversible_amount: "0",
    });
  });

  it("partial reversals add up on both legs: 15, then what remains", async () => {
    const [from, to] = await fundedPair(api(), 100n);
    const { value: transfer } = await api().transfer(transferOf(from, to, 40n));

    const { value: first } = await reverse(transfer.id, 15n);
    expect(first.entries.map((e) => [e.amount, e.balanceAfter])).toEqual([
      [15n, 75n],
      [-15n, 25n],
    ]);
    expect(await balances(api(), [from, to])).toEqual([75n, 25n]);
    const { value: rest } = await reverse(transfer.id);
    expect(rest.amount).toBe(25n);
    expect(await balances(api(), [from, to])).toEqual([100n, 0n]);

    expect(await api().getTransaction({ transactionId: transfer.id })).toMatchObject({
      amount: 40n,
      reversedAmount: 40n,
      reversalIds: [first.id, rest.id],
    });
  });

  it("is refused with INSUFFICIENT_FUNDS naming the destination once it has spent the money", async () => {
    const [from, to] = await fundedPair(api(), 100n);
    const { value: transfer } = await api().transfer(transferOf(from, to, 40n));
    await post(api(), to.id, "CREDIT_SPEND", -30n);

    const failure = await refusedWrite(api(), [from.id, to.id], () => reverse(transfer.id));
    expectRefusal(failure, "FAILED_PRECONDITION", "INSUFFICIENT_FUNDS", {
      ledger_id: to.id,
      balance: "10",
      amount: "-40",
    });
    expect(await api().getTransaction({ transactionId: transfer.id })).toMatchObject({
      reversedAmount: 0n,
      reversalIds: [],
    });

    const { value: partial } = await reverse(transfer.id, 10n);
    expect(partial.entries.map((e) => e.balanceAfter)).toEqual([70n, 0n]);
  });
});

describe.each(CLIENT_NAMES)("GetTransaction through %s", (clientName) => {
  const api = () => harness.client(clientName);

  it("shows an entry, a transfer and a reversal with their kind, entries and reversals", async () => {
    const [from, to] = await openLedgers(api(), 2);
    const externalId = `psp-${uniqueKey()}`;
    const { value: entry } = await api().recordEntry({
      ledgerId: from.id,
      operation: "CREDIT_ADD",
      amount: 100n,
      idempotencyKey: uniqueKey(),
      externalTransactionId: externalId,
    });
    const { value: transfer } = await api().transfer(transferOf(from, to, 60n));
    const { value: reversal } = await api().reverseTransaction({
      transactionId: transfer.id,
      amount: 20n,
      idempotencyKey: uniqueKey(),
    });

    const ofEntry = await api().getTransaction({ transactionId: entry.transactionId });
    expect(ofEntry).toMatchObject({
      id: entry.transactionId,
      kind: "ENTRY",
      amount: 100n,
      reversedAmount: 0n,
      reversesTransactionId: "",
      reversalIds: [],
      externalTransactionId: externalId,
    });
    expect(ofEntry.entries).toEqual([entry]);

    const ofTransfer = await api().getTransaction({ transactionId: transfer.id });
    expect(ofTransfer).toEqual({ ...transfer, reversedAmount: 20n, reversalIds: [reversal.id] });

    const ofReversal = await api().getTransaction({ transactionId: reversal.id });
    expect(ofReversal).toEqual(reversal);
    expect(ofReversal).toMatchObject({
      kind: "REVERSAL",
      reversesTransactionId: transfer.id,
      reversalIds: [],
    });
    expect(ofReversal.entries.map((e) => e.reversesTransactionId)).toEqual([
      transfer.id,
      transfer.id,
    ]);

    const byExternalId = await api().getTransaction({
      app: from.app,
      externalTransactionId: externalId,
    });
    expect(byExternalId).toEqual(ofEntry);
  });

  it("finds a transfer by (app, external id), and that app's only", async () => {
    const [from, to] = await fundedPair(api(), 10n);
    const externalId = `psp-${uniqueKey()}`;
    const { value: transfer } = await api().transfer(
      transferOf(from, to, 3n, { externalTransactionId: externalId }),
    );
    expect(
      await api().getTransaction({ app: from.app, externalTransactionId: externalId }),
    ).toEqual(transfer);

    const otherApp = LEARNING;
    const failure = await failureOf(
      api().getTransaction({ app: otherApp, externalTransactionId: externalId }),
    );
    expectRefusal(failure, "NOT_FOUND", "TRANSACTION_NOT_FOUND", {
      app: otherApp,
      external_transaction_id: externalId,
    });
  });

  it("TRANSACTION_NOT_FOUND for an unknown id; INVALID_ARGUMENT for both lookups or neither", async () => {
    const [from, to] = await fundedPair(api(), 10n);
    const externalId = uniqueExternalId("psp");
    const { value: transfer } = await api().transfer(
      transferOf(from, to, 1n, { externalTransactionId: externalId }),
    );
    const missing = absentId();
    expectRefusal(
      await failureOf(api().getTransaction({ transactionId: missing })),
      "NOT_FOUND",
      "TRANSACTION_NOT_FOUND",
      { transaction_id: missing },
    );

    const invalid: [GetTransactionParams, string][] = [
      [{}, "transaction_id"],
      [
        { transactionId: transfer.id, app: from.app, externalTransactionId: externalId },
        "transaction_id",
      ],
      [{ transactionId: transfer.id, app: from.app }, "transaction_id"],
      [{ transactionId: transfer.id, externalTransactionId: externalId }, "transaction_id"],
      [{ transactionId: "not-a-uuid" }, "transaction_id"],
      [{ app: from.app }, "external_transaction_id"],
      [{ externalTransactionId: externalId }, "app"],
    ];
    for (const [lookup, field] of invalid) {
      const failure = await failureOf(api().getTransaction(lookup));
      expectRefusal(failure, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field });
    }
  });
});

describe.each(CLIENT_NAMES)("external transaction ids through %s", (clientName) => {
  const api = () => harness.client(clientName);

  it("are unique per app across RecordEntry and Transfer: EXTERNAL_ID_ALREADY_USED names the holder", async () => {
    const [from, to] = await fundedPair(api(), 100n);
    const ids = [from.id, to.id];
    const entryExternalId = `psp-${uniqueKey()}`;
    const transferExternalId = `psp-${uniqueKey()}`;
    const recordRequest = {
      ledgerId: from.id,
      operation: "CREDIT_ADD",
      amount: 5n,
      idempotencyKey: uniqueKey(),
      externalTransactionId: entryExternalId,
    };
    const { value: entry } = await api().recordEntry(recordRequest);
    const transferRequest = transferOf(from, to, 5n, { externalTransactionId: transferExternalId });
    const { value: transfer } = await api().transfer(transferRequest);

    const conflicts: [string, string, () => Promise<unknown>][] = [
      [
        entryExternalId,
        entry.transactionId,
        () => api().recordEntry({ ...recordRequest, idempotencyKey: uniqueKey() }),
      ],
      [
        entryExternalId,
        entry.transactionId,
        () => api().transfer(transferOf(from, to, 1n, { externalTransactionId: entryExternalId })),
      ],
      [
        transferExternalId,
        transfer.id,
        () =>
          api().recordEntry({
            ...recordRequest,
            idempotencyKey: uniqueKey(),
            externalTransactionId: transferExternalId,
          }),
      ],
      [
        transferExternalId,
        transfer.id,
        () => api().transfer({ ...transferRequest, idempotencyKey: uniqueKey() }),
      ],
    ];
    for (const [externalId, holder, write] of conflicts) {
      const failure = await refusedWrite(api(), ids, write);
      expectRefusal(failure, "ALREADY_EXISTS", "EXTERNAL_ID_ALREADY_USED", {
        app: from.app,
        external_transaction_id: externalId,
        transaction_id: holder,
      });
    }

    const replays = [await api().recordEntry(recordRequest), await api().transfer(transferRequest)];
    expect(replays).toEqual([
      { value: entry, replayed: true, recomputedEntries: 0n },
      { value: transfer, replayed: true },
    ]);
  });

  it("refuse a CreateTransfers item that reuses one, also within the call", async () => {
    const [from, to] = await fundedPair(api(), 100n);
    const used = `psp-${uniqueKey()}`;
    const { value: holder } = await api().transfer(
      transferOf(from, to, 1n, { externalTransactionId: used }),
    );
    const fresh = `psp-${uniqueKey()}`;
    const transfers = [
      transferOf(from, to, 1n, { externalTransactionId: used }),
      transferOf(from, to, 2n, { externalTransactionId: fresh }),
      transferOf(from, to, 3n, { externalTransactionId: fresh }),
    ];

    const atomic = await refusedWrite(api(), [from.id, to.id], () =>
      api().createTransfers({ transfers, atomic: true }),
    );
    expectRefusal(atomic, "ALREADY_EXISTS", "EXTERNAL_ID_ALREADY_USED", {
      index: "0",
      transaction_id: holder.id,
    });
    expect(atomic.rawMessage).toMatch(/^transfers\[0\]: /);

    const outcomes = await api().createTransfers({ transfers, atomic: false });
    expect(outcomes.map((o) => o.ok)).toEqual([false, true, false]);
    expectRefusal(refused(outcomes[0]), "ALREADY_EXISTS", "EXTERNAL_ID_ALREADY_USED", {
      external_transaction_id: used,
      transaction_id: holder.id,
    });
    expectRefusal(refused(outcomes[2]), "ALREADY_EXISTS", "EXTERNAL_ID_ALREADY_USED", {
      external_transaction_id: fresh,
      transaction_id: made(outcomes[1]).value.id,
    });
  });

  it("racing writers of one external id on different ledgers: exactly one wins, the others name it", async () => {
    const app = declaredApp();
    const ledgers = await openLedgers(api(), 6, { app });
    for (const ledger of ledgers) {
      await post(api(), ledger.id, "CREDIT_ADD", 10n);
    }
    const externalId = `psp-${uniqueKey()}`;
    const writes = ledgers.flatMap((ledger, i) => {
      const next = ledgers[(i + 1) % ledgers.length] as Ledger;
      return [
        () =>
          api().recordEntry({
            ledgerId: ledger.id,
            operation: "CREDIT_ADD",
            amount: 1n,
            idempotencyKey: uniqueKey(),
            externalTransactionId: externalId,
          }),
        () => api().transfer(transferOf(ledger, next, 1n, { externalTransactionId: externalId })),
      ];
    });

    const outcomes = await Promise.all(writes.map((write) => outcomeOf<unknown>(write())));
    expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
    const winner = await api().getTransaction({ app, externalTransactionId: externalId });
    for (const outcome of outcomes) {
      if (!outcome.ok) {
        expectRefusal(outcome.failure, "ALREADY_EXISTS", "EXTERNAL_ID_ALREADY_USED", {
          external_transaction_id: externalId,
          transaction_id: winner.id,
        });
      }
    }
    const total = (await balances(api(), ledgers)).reduce((sum, b) => sum + b, 0n);
    expect(total).toBe(winner.kind === "ENTRY" ? 61n : 60n);
  });

  it("are free for another app to use", async () => {
    const externalId = `psp-${uniqueKey()}`;
    const [first] = await fundedPair(api(), 0n);
    const [from, to] = await fundedPair(api(), 10n, { app: LEARNING });
    const { value: entry } = await api().recordEntry({
      ledgerId: first.id,
      operation: "CREDIT_ADD",
      amount: 1n,
      idempotencyKey: uniqueKey(),
      externalTransactionId: externalId,
    });
    const { value: transfer } = await api().transfer(
      transferOf(from, to, 1n, { externalTransactionId: externalId }),
    );
    expect(transfer.externalTransactionId).toBe(externalId);
    expect(
      await api().getTransaction({ app: first.app, externalTransactionId: externalId }),
    ).toMatchObject({ id: entry.transactionId });
    expect(
      await api().getTransaction({ app: from.app, externalTransactionId: externalId }),
    ).toMatchObject({ id: transfer.id });
  });
});

describe.each(CLIENT_NAMES)("ListEntries filters through %s", (clientName) => {
  const api = () => harness.client(clientName);

  /** Every page of a filtered listing, `pageSize` at a time. */
  async function pages(params: ListEntriesParams): Promise<(readonly string[])[]> {
    const seen: (readonly string[])[] = [];
    let pageToken = "";
    do {
      const page = await api().listEntries({ ...params, pageToken });
      seen.push(page.items.map((e) => e.id));
      pageToken = page.nextPageToken;
    } while (pageToken !== "" && seen.length < 50);
    return seen;
  }

  it("by reference, page by page, newest first, transfer legs included", async () => {
    const [from, to] = await fundedPair(api(), 100n);
    const tagged: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const { value } = await api().recordEntry({
        ledgerId: from.id,
        operation: "DAILY_REWARD",
        idempotencyKey: uniqueKey(),
        reference: "order-1",
      });
      tagged.push(value.id);
      await post(api(), from.id, "DAILY_REWARD");
    }
    const { value: transfer } = await api().transfer(
      transferOf(from, to, 5n, { reference: "order-1" }),
    );
    await api().transfer(transferOf(from, to, 5n, { reference: "order-2" }));
    const sourceLeg = transfer.entries[0]?.id ?? "";
    const destinationLeg = transfer.entries[1]?.id ?? "";

    expect(await pages({ ledgerId: from.id, reference: "order-1", pageSize: 2 })).toEqual([
      [sourceLeg, tagged[2]],
      [tagged[1], tagged[0]],
    ]);
    expect(await pages({ ledgerId: to.id, reference: "order-1", pageSize: 2 })).toEqual([
      [destinationLeg],
    ]);
    expect(await pages({ ledgerId: from.id, reference: "none", pageSize: 2 })).toEqual([[]]);
    expect((await allEntries(api(), from.id)).length).toBe(9);
  });

  it("by external id: the one entry of a ledger that carries it; a page token keeps its filters", async () => {
    const [from, to] = await fundedPair(api(), 100n);
    const externalId = `psp-${uniqueKey()}`;
    for (let i = 0; i < 3; i += 1) {
      await api().transfer(transferOf(from, to, 1n, { reference: "batch" }));
    }
    const { value: transfer } = await api().transfer(
      transferOf(from, to, 7n, { externalTransactionId: externalId, reference: "batch" }),
    );
    await api().transfer(transferOf(from, to, 1n, { reference: "batch" }));

    for (const [ledger, leg] of [
      [from, transfer.entries[0]],
      [to, transfer.entries[1]],
    ] as const) {
      const page = await api().listEntries({
        ledgerId: ledger.id,
        externalTransactionId: externalId,
        pageSize: 1,
      });
      expect(page).toEqual({ items: [leg], nextPageToken: "" });
    }

    const first = await api().listEntries({ ledgerId: to.id, reference: "batch", pageSize: 2 });
    expect(first.items).toHaveLength(2);
    expect(first.nextPageToken).not.toBe("");
    for (const changed of [
      { reference: "other" },
      { reference: "batch", externalTransactionId: externalId },
    ]) {
      const failure = await failureOf(
        api().listEntries({
          ledgerId: to.id,
          pageSize: 2,
          pageToken: first.nextPageToken,
          ...changed,
        }),
      );
      expectRefusal(failure, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field: "page_token" });
    }
    expect(await pages({ ledgerId: to.id, reference: "batch", pageSize: 2 })).toHaveLength(3);
  });
});

describe.each(CLIENT_NAMES)("opposite transfers racing through %s", (clientName) => {
  const api = () => harness.client(clientName);

  it("40 at once between two ledgers, both ways: no deadlock, each made or INSUFFICIENT_FUNDS, no money created", async () => {
    const [a, b] = await openLedgers(api(), 2);
    await post(api(), a.id, "CREDIT_ADD", 50n);
    await post(api(), b.id, "CREDIT_ADD", 50n);
    const requests = Array.from({ length: 40 }, (_, i) =>
      i % 2 === 0 ? transferOf(a, b, BigInt(5 + i)) : transferOf(b, a, BigInt(5 + i)),
    );

    const outcomes = await Promise.all(
      requests.map((request) => outcomeOf(api().transfer(request))),
    );

    let expectedA = 50n;
    outcomes.forEach((outcome, i) => {
      const request = requests[i] as TransferParams;
      if (outcome.ok) {
        expectedA += request.fromLedgerId === a.id ? -request.amount : request.amount;
      } else {
        expectRefusal(outcome.failure, "FAILED_PRECONDITION", "INSUFFICIENT_FUNDS", {
          ledger_id: request.fromLedgerId,
        });
      }
    });
    expect(outcomes.some((o) => o.ok)).toBe(true);
    expect(await balances(api(), [a, b])).toEqual([expectedA, 100n - expectedA]);
    const madeCount = outcomes.filter((o) => o.ok).length;
    expect((await expectConsistentHistory(api(), a.id)).length).toBe(1 + madeCount);
    expect((await expectConsistentHistory(api(), b.id)).length).toBe(1 + madeCount);
    expect(await verifyInvariants(harness.server().store)).toEqual([]);
  });
});
