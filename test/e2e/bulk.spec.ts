/**
 * RecordEntries through each client. Not atomic: one result per item, in
 * order, each recorded or refused alone (a refused item's key stays free).
 * Atomic: every item recorded, or the first failure fails the call with its
 * `index` and nothing is written, no key used. Replays, reused keys, the
 * item count bounds, an invalid item and a key repeated within the request.
 */
import { describe, expect, it } from "vitest";
import {
  CLIENT_NAMES,
  failureOf,
  type ItemOutcome,
  type LedgerApi,
  type RecordEntryParams,
  type RpcFailure,
} from "../support/clients.js";
import { INT64_MIN, uniqueKey } from "../support/fixtures.js";
import { useLedgerServer } from "../support/server.js";
import {
  expectConsistentHistory,
  expectRefusal,
  type LedgerSnapshot,
  openLedger,
  post,
  snapshot,
} from "../support/steps.js";

const harness = useLedgerServer();

/** BULK_ITEMS_MAX, as the contract states it. */
const ITEMS_MAX = 1000;

function item(ledgerId: string, operation: string, amount: bigint): RecordEntryParams {
  return { ledgerId, operation, amount, idempotencyKey: uniqueKey(operation.toLowerCase()) };
}

/** The outcome of an item that must have been recorded. */
function recorded(outcome: ItemOutcome | undefined) {
  if (outcome?.ok !== true) {
    throw new Error(`expected a recorded item, got ${outcome?.failure.message ?? "nothing"}`);
  }
  return outcome;
}

/** The failure of an item that must have been refused. */
function refused(outcome: ItemOutcome | undefined): RpcFailure {
  if (outcome?.ok !== false) {
    throw new Error("expected a refused item, got a recorded one");
  }
  return outcome.failure;
}

async function snapshots(api: LedgerApi, ids: readonly string[]): Promise<LedgerSnapshot[]> {
  return Promise.all(ids.map((id) => snapshot(api, id)));
}

describe.each(CLIENT_NAMES)("RecordEntries through %s", (clientName) => {
  const api = () => harness.client(clientName);

  it("not atomic: a refused item fails alone, its neighbours commit, its key stays free", async () => {
    const wallet = await openLedger(api());
    const other = await openLedger(api());
    const overspend = item(wallet.id, "CREDIT_SPEND", -50n);
    const outcomes = await api().recordEntries({
      entries: [
        item(wallet.id, "CREDIT_ADD", 10n),
        overspend,
        item(other.id, "CREDIT_ADD", 5n),
        item(wallet.id, "CREDIT_SPEND", -4n),
      ],
      atomic: false,
    });

    expect(outcomes).toHaveLength(4);
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true, true]);
    expect([0, 2, 3].map((i) => recorded(outcomes[i]).value.balanceAfter)).toEqual([10n, 5n, 6n]);
    expectRefusal(refused(outcomes[1]), "FAILED_PRECONDITION", "INSUFFICIENT_FUNDS", {
      ledger_id: wallet.id,
      balance: "10",
      amount: "-50",
    });
    expect((await expectConsistentHistory(api(), wallet.id)).length).toBe(2);
    expect((await api().getLedger(other.id)).balance).toBe(5n);

    await post(api(), wallet.id, "CREDIT_ADD", 100n);
    const [retried] = await api().recordEntries({ entries: [overspend], atomic: false });
    expect(recorded(retried)).toMatchObject({ replayed: false, value: { balanceAfter: 56n } });
  });

  it("atomic: the first failing item fails the call with its index; nothing is written, no key used", async () => {
    const wallet = await openLedger(api());
    const other = await openLedger(api());
    await post(api(), wallet.id, "CREDIT_ADD", 10n);
    const entries = [
      item(wallet.id, "CREDIT_ADD", 5n),
      item(other.id, "CREDIT_ADD", 3n),
      item(wallet.id, "CREDIT_SPEND", -100n),
      item(wallet.id, "CREDIT_ADD", 1n),
    ];
    const before = await snapshots(api(), [wallet.id, other.id]);

    const failure = await failureOf(api().recordEntries({ entries, atomic: true }));
    expectRefusal(failure, "FAILED_PRECONDITION", "INSUFFICIENT_FUNDS", {
      index: "2",
      ledger_id: wallet.id,
      amount: "-100",
    });
    expect(failure.rawMessage).toMatch(/^entries\[2\]: /);
    expect(await snapshots(api(), [wallet.id, other.id])).toEqual(before);

    await post(api(), wallet.id, "CREDIT_ADD", 200n);
    const outcomes = await api().recordEntries({ entries, atomic: true });
    expect(outcomes.map((o) => recorded(o).replayed)).toEqual([false, false, false, false]);
    expect(outcomes.map((o) => recorded(o).value.balanceAfter)).toEqual([215n, 3n, 115n, 116n]);
  });

  it("atomic: every item recorded, in order, with consistent histories", async () => {
    const first = await openLedger(api());
    const second = await openLedger(api());
    const outcomes = await api().recordEntries({
      entries: [
        item(first.id, "SIGNUP_CREDIT", 3n),
        item(second.id, "CREDIT_ADD", 20n),
        item(first.id, "CREDIT_SPEND", -2n),
        item(second.id, "CREDIT_SPEND", -7n),
        { ...item(first.id, "DAILY_REWARD", 1n), amount: undefined },
      ],
      atomic: true,
    });

    expect(
      outcomes.map((o) => {
        const { value, replayed } = recorded(o);
        return [value.ledgerId, value.operation, value.amount, value.sequence, replayed];
      }),
    ).toEqual([
      [first.id, "SIGNUP_CREDIT", 3n, 1n, false],
      [second.id, "CREDIT_ADD", 20n, 1n, false],
      [first.id, "CREDIT_SPEND", -2n, 2n, false],
      [second.id, "CREDIT_SPEND", -7n, 2n, false],
      [first.id, "DAILY_REWARD", 1n, 3n, false],
    ]);
    const history = await expectConsistentHistory(api(), first.id);
    expect(history.map((e) => e.id)).toEqual([4, 2, 0].map((i) => recorded(outcomes[i]).value.id));
    expect((await expectConsistentHistory(api(), second.id)).length).toBe(2);
  });

  it.each([false, true])(
    "a whole request repeated (atomic: %s) replays every item with no second effect",
    async (atomic) => {
      const wallet = await openLedger(api());
      const request = {
        entries: [item(wallet.id, "CREDIT_ADD", 8n), item(wallet.id, "CREDIT_SPEND", -3n)],
        atomic,
      };
      const first = await api().recordEntries(request);
      const after = await snapshot(api(), wallet.id);
      const again = await api().recordEntries(request);

      expect(first.map((o) => recorded(o).replayed)).toEqual([false, false]);
      expect(again.map((o) => recorded(o).replayed)).toEqual([true, true]);
      expect(again.map((o) => recorded(o).value)).toEqual(first.map((o) => recorded(o).value));
      expect(await snapshot(api(), wallet.id)).toEqual(after);
      expect(after).toMatchObject({ balance: 5n, entryCount: 2 });
    },
  );

  it("a key used by another request refuses its item (IDEMPOTENCY_KEY_REUSED), or the atomic call", async () => {
    const wallet = await openLedger(api());
    const earlier = item(wallet.id, "CREDIT_ADD", 5n);
    await api().recordEntry(earlier);
    const entries = [
      item(wallet.id, "CREDIT_ADD", 1n),
      { ...earlier, amount: 6n },
      item(wallet.id, "CREDIT_ADD", 2n),
    ];

    const before = await snapshot(api(), wallet.id);
    const atomicFailure = await failureOf(api().recordEntries({ entries, atomic: true }));
    expectRefusal(atomicFailure, "ALREADY_EXISTS", "IDEMPOTENCY_KEY_REUSED", {
      index: "1",
      idempotency_key: earlier.idempotencyKey,
    });
    expect(await snapshot(api(), wallet.id)).toEqual(before);

    const outcomes = await api().recordEntries({ entries, atomic: false });
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
    expectRefusal(refused(outcomes[1]), "ALREADY_EXISTS", "IDEMPOTENCY_KEY_REUSED", {
      idempotency_key: earlier.idempotencyKey,
    });
    expect((await api().getLedger(wallet.id)).balance).toBe(8n);
  });

  it.each([
    [0, "entries"],
    [ITEMS_MAX + 1, "entries"],
  ])("%i items are INVALID_ARGUMENT naming %s", async (count, field) => {
    const wallet = await openLedger(api());
    const entries = Array.from({ length: count }, () => item(wallet.id, "CREDIT_ADD", 1n));
    for (const atomic of [false, true]) {
      const failure = await failureOf(api().recordEntries({ entries, atomic }));
      expectRefusal(failure, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field });
    }
    expect(await snapshot(api(), wallet.id)).toMatchObject({ balance: 0n, entryCount: 0 });
  });

  it("an invalid item refuses the whole call, atomic or not, naming entries[i] and its field", async () => {
    const wallet = await openLedger(api());
    const entries = [
      item(wallet.id, "CREDIT_ADD", 1n),
      item(wallet.id, "CREDIT_ADD", 2n),
      item(wallet.id, "CREDIT_SPEND", INT64_MIN),
    ];
    for (const atomic of [false, true]) {
      const failure = await failureOf(api().recordEntries({ entries, atomic }));
      expectRefusal(failure, "INVALID_ARGUMENT", "INVALID_ARGUMENT", {
        field: "entries[2].amount",
      });
    }
    expect(await snapshot(api(), wallet.id)).toMatchObject({ balance: 0n, entryCount: 0 });
  });

  it("two items with one idempotency key refuse the call, naming both", async () => {
    const wallet = await openLedger(api());
    const repeated = item(wallet.id, "CREDIT_ADD", 1n);
    const entries = [repeated, item(wallet.id, "CREDIT_ADD", 2n), { ...repeated, amount: 3n }];
    for (const atomic of [false, true]) {
      const failure = await failureOf(api().recordEntries({ entries, atomic }));
      expectRefusal(failure, "INVALID_ARGUMENT", "INVALID_ARGUMENT", {
        field: "entries[2].idempotency_key",
      });
      expect(failure.rawMessage).toContain("entries[0].idempotency_key");
    }
    expect(await snapshot(api(), wallet.id)).toMatchObject({ balance: 0n, entryCount: 0 });
  });
});
