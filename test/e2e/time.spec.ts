/**
 * Time through each client (@grpc/grpc-js, Connect, gRPC-Web): an entry
 * backdated with created_at takes its place in history (after the entries
 * already at that instant) and recomputes every later balance_after, or is
 * refused (a broken floor naming the first entry, the future, a hold) with
 * nothing written; GetBalance as_of answers the running balance at any past
 * instant, holds open then included, terminated ledgers too; ListEntries
 * filters by created_at and pages in history order; validity windows refuse
 * writes before valid_from and from valid_until on while reads go on;
 * CreateLedger refuses bad windows and expire-to targets; TerminateLedger
 * sweeps a remainder to (or settles it from) another ledger or says what it
 * left; a replayed backdate moves nothing twice. The expiry sweep itself is
 * test/server/expiry-sweep.spec.ts (the sweep is off here, so an expired
 * ledger stays ACTIVE and its refusals are LEDGER_EXPIRED).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { verifyInvariants } from "../../src/store/index.js";
import {
  CLIENT_NAMES,
  type Entry,
  failureOf,
  type LedgerApi,
  type RecordEntryParams,
} from "../support/clients.js";
import { insertEntries } from "../support/database.js";
import { absentId, declaredApp, LEARNING, uniqueKey, uniqueOwner } from "../support/fixtures.js";
import { useLedgerServer } from "../support/server.js";
import { allEntries, expectRefusal, openLedger, post } from "../support/steps.js";

const harness = useLedgerServer({ EXPIRY_SWEEP_INTERVAL_MS: "0" });

const HOUR_MS = 3_600_000;
const ago = (ms: number) => new Date(Date.now() - ms);
const ahead = (ms: number) => new Date(Date.now() + ms);

/** A RecordEntry request under a fresh key, backdated when `createdAt` is given. */
function entry(
  ledgerId: string,
  amount: bigint,
  createdAt?: Date,
  extra: Partial<RecordEntryParams> = {},
): RecordEntryParams {
  return {
    ledgerId,
    operation: amount < 0n ? "CREDIT_SPEND" : "CREDIT_ADD",
    amount,
    idempotencyKey: uniqueKey("time"),
    ...(createdAt === undefined ? {} : { createdAt }),
    ...extra,
  };
}

/** [sequence, amount, balanceAfter] of each entry, oldest first in history order. */
async function chain(api: LedgerApi, ledgerId: string): Promise<[bigint, bigint, bigint][]> {
  const newestFirst = await allEntries(api, ledgerId);
  return newestFirst.reverse().map((e) => [e.sequence, e.amount, e.balanceAfter]);
}

/**
 * The history as ListEntries shows it is in history order (created_at, then
 * sequence, newest first), balance_after chains in that order, and the last
 * one is the ledger's balance; the version is the highest sequence.
 */
async function expectChained(api: LedgerApi, ledgerId: string): Promise<Entry[]> {
  const newestFirst = await allEntries(api, ledgerId);
  const oldestFirst = [...newestFirst].reverse();
  const ordered = [...oldestFirst].sort(
    (a, b) =>
      (a.createdAt?.getTime() ?? 0) - (b.createdAt?.getTime() ?? 0) ||
      Number(a.sequence - b.sequence),
  );
  expect(oldestFirst.map((e) => e.id)).toEqual(ordered.map((e) => e.id));
  let running = 0n;
  for (const e of oldestFirst) {
    running += e.amount;
    expect(e.balanceAfter, `balance_after of sequence ${e.sequence}`).toBe(running);
  }
  const ledger = await api.getLedger(ledgerId);
  expect(ledger.balance).toBe(running);
  expect(ledger.version).toBe(BigInt(oldestFirst.length));
  return newestFirst;
}

/** What a refused write must leave as it was: the ledger's figures and every entry. */
async function state(api: LedgerApi, ledgerId: string) {
  const { balance, version, pendingDebits, pendingCredits, status } = await api.getLedger(ledgerId);
  return {
    ledger: { balance, version, pendingDebits, pendingCredits, status },
    entries: await allEntries(api, ledgerId),
  };
}

/** A ledger with credits of 10, 20 and 30 created 3, 2 and 1 hours ago (each a backdate). */
async function ledgerWithHistory(api: LedgerApi, app = declaredApp()) {
  const ledger = await openLedger(api, { app });
  const entries: Entry[] = [];
  for (const [hours, amount] of [
    [3, 10n],
    [2, 20n],
    [1, 30n],
  ] as const) {
    const written = await api.recordEntry(entry(ledger.id, amount, ago(hours * HOUR_MS)));
    // Each lands after everything there: it recomputes nothing.
    expect(written.recomputedEntries).toBe(0n);
    entries.push(written.value);
  }
  return { ledger, entries };
}

describe.each(CLIENT_NAMES)("time over %s", (name) => {
  const api = () => harness.client(name);

  describe("backdated entries", () => {
    it("take their place in history, recompute every later balance_after and say how many", async () => {
      const { ledger, entries } = await ledgerWithHistory(api());
      const at = ago(2.5 * HOUR_MS);
      const written = await api().recordEntry(entry(ledger.id, -5n, at));
      expect(written).toMatchObject({ replayed: false, recomputedEntries: 2n });
      expect(written.value).toMatchObject({
        sequence: 4n,
        amount: -5n,
        balanceAfter: 5n,
        createdAt: at,
        occurredAt: at,
      });
      expect(await chain(api(), ledger.id)).toEqual([
        [1n, 10n, 10n],
        [4n, -5n, 5n],
        [2n, 20n, 25n],
        [3n, 30n, 55n],
      ]);
      // The transaction keeps the time it was processed.
      const tx = await api().getTransaction({ transactionId: written.value.transactionId });
      expect(tx.createdAt?.getTime()).toBeGreaterThan(Date.now() - 60_000);
      expect(tx.entries.map((e) => [e.sequence, e.balanceAfter, e.createdAt])).toEqual([
        [4n, 5n, at],
      ]);

      // At exactly an entry's instant: after it (and so after the first entry here).
      const [first] = entries;
      const same = await api().recordEntry(entry(ledger.id, 1n, first?.createdAt));
      expect(same).toMatchObject({ recomputedEntries: 3n, value: { balanceAfter: 11n } });
      // Before every entry: all of them recomputed.
      const earliest = await api().recordEntry(entry(ledger.id, 2n, ago(10 * HOUR_MS)));
      expect(earliest).toMatchObject({ recomputedEntries: 5n, value: { balanceAfter: 2n } });
      // A write of now goes last and recomputes nothing.
      const now = await api().recordEntry(entry(ledger.id, 7n));
      expect(now).toMatchObject({
        recomputedEntries: 0n,
        value: { sequence: 7n, balanceAfter: 65n },
      });
      expect(await chain(api(), ledger.id)).toEqual([
        [6n, 2n, 2n],
        [1n, 10n, 12n],
        [5n, 1n, 13n],
        [4n, -5n, 8n],
        [2n, 20n, 28n],
        [3n, 30n, 58n],
        [7n, 7n, 65n],
      ]);
      await expectChained(api(), ledger.id);
    });

    it("apply in order within one RecordEntries call, each item saying what it recomputed", async () => {
      const { ledger } = await ledgerWithHistory(api());
      const results = await api().recordEntries({
        atomic: true,
        entries: [
          entry(ledger.id, 7n),
          entry(ledger.id, -3n, ago(1.5 * HOUR_MS)),
          entry(ledger.id, 4n, ago(2.5 * HOUR_MS)),
        ],
      });
      expect(results.map((r) => (r.ok ? r.recomputedEntries : r.failure.message))).toEqual([
        0n,
        2n,
        4n,
      ]);
      expect((await expectChained(api(), ledger.id)).length).toBe(6);
      expect((await api().getLedger(ledger.id)).balance).toBe(68n);
    });

    it("are refused with INSUFFICIENT_FUNDS naming the first entry that would break the floor, writing nothing", async () => {
      const ledger = await openLedger(api());
      await api().recordEntry(entry(ledger.id, 10n, ago(3 * HOUR_MS)));
      const spend = await api().recordEntry(entry(ledger.id, -8n, ago(2 * HOUR_MS)));
      await api().recordEntry(entry(ledger.id, 50n, ago(HOUR_MS)));
      const before = await state(api(), ledger.id);

      // 10 - 5 = 5 at 2.5 h is fine, but the spend of 8 after it would leave -3.
      const request = entry(ledger.id, -5n, ago(2.5 * HOUR_MS));
      const refused = await failureOf(api().recordEntry(request));
      expectRefusal(refused, "FAILED_PRECONDITION", "INSUFFICIENT_FUNDS", {
        ledger_id: ledger.id,
        entry_id: spend.value.id,
        sequence: "2",
        balance: "2",
        amount: "-5",
        min_balance: "0",
      });
      // The new entry itself is the first to break: it is named (with the sequence it would take).
      const itself = await failureOf(api().recordEntry(entry(ledger.id, -11n, ago(2.5 * HOUR_MS))));
      expectRefusal(itself, "FAILED_PRECONDITION", "INSUFFICIENT_FUNDS", {
        ledger_id: ledger.id,
        sequence: "4",
        balance: "10",
        amount: "-11",
      });
      expect(before.entries.map((e) => e.id)).not.toContain(itself.metadata.entry_id);
      // The same refusal as an item of a non-atomic RecordEntries, and of an atomic one.
      const [item] = await api().recordEntries({ atomic: false, entries: [request] });
      expect(item?.ok).toBe(false);
      if (item?.ok === false) {
        expectRefusal(item.failure, "FAILED_PRECONDITION", "INSUFFICIENT_FUNDS", {
          entry_id: spend.value.id,
          sequence: "2",
        });
      }
      const atomic = await failureOf(
        api().recordEntries({ atomic: true, entries: [entry(ledger.id, 1n), request] }),
      );
      expectRefusal(atomic, "FAILED_PRECONDITION", "INSUFFICIENT_FUNDS", {
        index: "1",
        entry_id: spend.value.id,
      });
      expect(await state(api(), ledger.id)).toEqual(before);

      // The key was not used: once the history allows it, the same request is recorded.
      await api().recordEntry(entry(ledger.id, 100n, ago(5 * HOUR_MS)));
      const accepted = await api().recordEntry(request);
      expect(accepted).toMatchObject({ replayed: false, recomputedEntries: 2n });
      await expectChained(api(), ledger.id);
    });

    it("are refused in the future, and combined with pending, writing nothing", async () => {
      const ledger = await openLedger(api());
      await post(api(), ledger.id, "CREDIT_ADD", 10n);
      const before = await state(api(), ledger.id);
      const future = await failureOf(api().recordEntry(entry(ledger.id, 1n, ahead(60_000))));
      expectRefusal(future, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field: "created_at" });
      const held = await failureOf(
        api().recordEntry(entry(ledger.id, -1n, ago(HOUR_MS), { pending: true })),
      );
      expectRefusal(held, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field: "created_at" });
      const bulk = await failureOf(
        api().recordEntries({
          atomic: false,
          entries: [entry(ledger.id, 1n), entry(ledger.id, -1n, ago(HOUR_MS), { pending: true })],
        }),
      );
      expectRefusal(bulk, "INVALID_ARGUMENT", "INVALID_ARGUMENT", {
        field: "entries[1].created_at",
      });
      const [futureItem] = await api().recordEntries({
        atomic: false,
        entries: [entry(ledger.id, 1n, ahead(60_000))],
      });
      expect(futureItem?.ok === false && futureItem.failure.code).toBe("INVALID_ARGUMENT");
      expect(await state(api(), ledger.id)).toEqual(before);
      expect(await api().listPendingTransactions({ ledgerId: ledger.id })).toMatchObject({
        items: [],
      });
    });

    it("replay with the same key: replayed, nothing recomputed or moved twice; another created_at reuses the key", async () => {
      const { ledger } = await ledgerWithHistory(api());
      const request = entry(ledger.id, -5n, ago(2.5 * HOUR_MS));
      const first = await api().recordEntry(request);
      expect(first).toMatchObject({ replayed: false, recomputedEntries: 2n });
      const after = await state(api(), ledger.id);
      const again = await api().recordEntry(request);
      expect(again).toMatchObject({ replayed: true, recomputedEntries: 0n });
      expect(again.value).toEqual(first.value);
      const [item] = await api().recordEntries({ atomic: false, entries: [request] });
      expect(item).toMatchObject({ ok: true, replayed: true, recomputedEntries: 0n });
      expect(await state(api(), ledger.id)).toEqual(after);
      expect(after.ledger).toMatchObject({ balance: 55n, version: 4n });

      const elsewhen = await failureOf(
        api().recordEntry({ ...request, createdAt: ago(1.5 * HOUR_MS) }),
      );
      expectRefusal(elsewhen, "ALREADY_EXISTS", "IDEMPOTENCY_KEY_REUSED", {
        idempotency_key: request.idempotencyKey,
      });
      const unbackdated = await failureOf(api().recordEntry({ ...request, createdAt: undefined }));
      expect(unbackdated.reason).toBe("IDEMPOTENCY_KEY_REUSED");
      expect(await state(api(), ledger.id)).toEqual(after);
    });
  });

  describe("as_of and created_* filters", () => {
    it("GetBalance as_of answers the running balance in history order at several instants", async () => {
      const { ledger, entries } = await ledgerWithHistory(api());
      const backdated = await api().recordEntry(entry(ledger.id, -5n, ago(2.5 * HOUR_MS)));
      await post(api(), ledger.id, "CREDIT_ADD", 1n);
      const asOf = async (at: Date | undefined) => {
        const b = await api().getBalance({ ledgerId: ledger.id, ...(at ? { asOf: at } : {}) });
        return [b.balance, b.version, b.available];
      };
      expect(await asOf(ago(4 * HOUR_MS))).toEqual([0n, 0n, 0n]);
      expect(await asOf(entries[0]?.createdAt)).toEqual([10n, 1n, 10n]);
      expect(await asOf(ago(2.75 * HOUR_MS))).toEqual([10n, 1n, 10n]);
      expect(await asOf(backdated.value.createdAt)).toEqual([5n, 4n, 5n]);
      expect(await asOf(ago(2.25 * HOUR_MS))).toEqual([5n, 4n, 5n]);
      expect(await asOf(ago(1.5 * HOUR_MS))).toEqual([25n, 2n, 25n]);
      expect(await asOf(ago(0.5 * HOUR_MS))).toEqual([55n, 3n, 55n]);
      expect(await asOf(new Date())).toEqual([56n, 5n, 56n]);
      expect(await asOf(undefined)).toEqual([56n, 5n, 56n]);
      // By owner key, too.
      const byKey = await api().getBalance({
        app: ledger.app,
        ownerId: ledger.ownerId,
        unit: ledger.unit,
        asOf: ago(1.5 * HOUR_MS),
      });
      expect(byKey).toMatchObject({ ledgerId: ledger.id, balance: 25n, unit: "CREDITS" });
      const future = await failureOf(
        api().getBalance({ ledgerId: ledger.id, asOf: ahead(60_000) }),
      );
      expectRefusal(future, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field: "as_of" });
    });

    it("GetBalance as_of counts the holds open at that instant and reads a terminated ledger", async () => {
      const ledger = await openLedger(api());
      await post(api(), ledger.id, "CREDIT_ADD", 20n);
      const { value: hold } = await api().recordEntry(
        entry(ledger.id, -8n, undefined, { pending: true }),
      );
      await sleep(5);
      const whileHeld = new Date();
      await sleep(5);
      await api().voidPendingTransaction({ transactionId: hold.id, idempotencyKey: uniqueKey() });
      await post(api(), ledger.id, "CREDIT_SPEND", -3n);
      await api().terminateLedger(ledger.id);
      const then = await api().getBalance({ ledgerId: ledger.id, asOf: whileHeld });
      expect(then).toMatchObject({
        balance: 20n,
        version: 1n,
        pendingDebits: 8n,
        pendingCredits: 0n,
        available: 12n,
      });
      const now = await api().getBalance({ ledgerId: ledger.id, asOf: new Date() });
      expect(now).toMatchObject({ balance: 17n, version: 2n, pendingDebits: 0n, available: 17n });
      const current = await failureOf(api().getBalance({ ledgerId: ledger.id }));
      expectRefusal(current, "FAILED_PRECONDITION", "LEDGER_TERMINATED", { ledger_id: ledger.id });
      const future = await failureOf(
        api().getBalance({ ledgerId: ledger.id, asOf: ahead(60_000) }),
      );
      expectRefusal(future, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field: "as_of" });
    });

    it("ListEntries filters by created_after (inclusive) and created_before (exclusive) and pages in history order", async () => {
      const ledger = await openLedger(api());
      const byHour = new Map<number, Entry>();
      for (const hours of [6, 5, 4, 3, 2, 1]) {
        const { value } = await api().recordEntry(
          entry(ledger.id, BigInt(hours), ago(hours * HOUR_MS)),
        );
        byHour.set(hours, value);
      }
      const at = (hours: number) => byHour.get(hours)?.createdAt as Date;
      // Sequence 7 at the very instant of sequence 3 (so after it), 8 between 4 h and 3 h.
      await api().recordEntry(entry(ledger.id, 40n, at(4)));
      await api().recordEntry(entry(ledger.id, 35n, ago(3.5 * HOUR_MS)));
      const listAll = async (filter: { createdAfter?: Date; createdBefore?: Date }) => {
        const pages: bigint[][] = [];
        let pageToken = "";
        do {
          const page = await api().listEntries({
            ledgerId: ledger.id,
            pageSize: 2,
            pageToken,
            ...filter,
          });
          pages.push(page.items.map((e) => e.sequence));
          pageToken = page.nextPageToken;
        } while (pageToken !== "" && pages.length < 20);
        return pages;
      };
      expect(await listAll({ createdAfter: at(5), createdBefore: at(2) })).toEqual([
        [4n, 8n],
        [7n, 3n],
        [2n],
      ]);
      expect(await listAll({ createdAfter: at(3) })).toEqual([[6n, 5n], [4n]]);
      expect(await listAll({ createdBefore: at(4) })).toEqual([[2n, 1n]]);
      expect(await listAll({})).toEqual([
        [6n, 5n],
        [4n, 8n],
        [7n, 3n],
        [2n, 1n],
      ]);
      const entries = await expectChained(api(), ledger.id);
      expect(entries.find((e) => e.sequence === 3n)?.balanceAfter).toBe(6n + 5n + 4n);
      const empty = await failureOf(
        api().listEntries({ ledgerId: ledger.id, createdAfter: at(2), createdBefore: at(2) }),
      );
      expectRefusal(empty, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field: "created_before" });
    });
  });

  describe("validity windows", () => {
    it("refuse writes before valid_from and from valid_until on; reads go on", async () => {
      const app = declaredApp();
      const sink = await openLedger(api(), { app, unbounded: true });
      // Long enough for the writes and refusals before it on a loaded machine.
      const until = ahead(3_000);
      const expiring = await openLedger(api(), {
        app,
        validUntil: until,
        expireToLedgerId: sink.id,
      });
      expect(expiring).toMatchObject({
        validUntil: until,
        validFrom: undefined,
        expireToLedgerId: sink.id,
      });
      const from = until;
      const starting = await openLedger(api(), { app, validFrom: from });
      expect(starting).toMatchObject({
        validFrom: from,
        validUntil: undefined,
        expireToLedgerId: "",
      });
      const opened = await openLedger(api(), { app, validFrom: ago(HOUR_MS) });
      await post(api(), expiring.id, "CREDIT_ADD", 9n);
      const { value: hold } = await api().recordEntry(
        entry(expiring.id, -2n, undefined, { pending: true }),
      );

      // Before valid_from: an entry, a hold, a transfer into it.
      const notYet = { ledger_id: starting.id, valid_from: from.toISOString() };
      expectRefusal(
        await failureOf(api().recordEntry(entry(starting.id, 1n))),
        "FAILED_PRECONDITION",
        "LEDGER_NOT_YET_VALID",
        notYet,
      );
      expectRefusal(
        await failureOf(api().recordEntry(entry(starting.id, 1n, undefined, { pending: true }))),
        "FAILED_PRECONDITION",
        "LEDGER_NOT_YET_VALID",
        notYet,
      );
      expectRefusal(
        await failureOf(
          api().transfer({
            fromLedgerId: sink.id,
            toLedgerId: starting.id,
            amount: 1n,
            idempotencyKey: uniqueKey(),
          }),
        ),
        "FAILED_PRECONDITION",
        "LEDGER_NOT_YET_VALID",
        notYet,
      );
      // An entry backdated to before valid_from, on a ledger valid since an hour ago.
      await post(api(), opened.id, "CREDIT_ADD", 1n);
      expectRefusal(
        await failureOf(api().recordEntry(entry(opened.id, 1n, ago(2 * HOUR_MS)))),
        "FAILED_PRECONDITION",
        "LEDGER_NOT_YET_VALID",
        { ledger_id: opened.id, valid_from: opened.validFrom?.toISOString() as string },
      );
      expect(await api().recordEntry(entry(opened.id, 1n, ago(0.5 * HOUR_MS)))).toMatchObject({
        recomputedEntries: 1n,
      });

      await sleep(Math.max(0, until.getTime() - Date.now()) + 50);
      const expiredState = await state(api(), expiring.id);
      const expired = { ledger_id: expiring.id, valid_until: until.toISOString() };
      expectRefusal(
        await failureOf(api().recordEntry(entry(expiring.id, 1n))),
        "FAILED_PRECONDITION",
        "LEDGER_EXPIRED",
        expired,
      );
      expectRefusal(
        await failureOf(api().recordEntry(entry(expiring.id, -1n, ago(60_000)))),
        "FAILED_PRECONDITION",
        "LEDGER_EXPIRED",
        expired,
      );
      for (const [fromLedgerId, toLedgerId] of [
        [expiring.id, sink.id],
        [sink.id, expiring.id],
      ] as const) {
        expectRefusal(
          await failureOf(
            api().transfer({ fromLedgerId, toLedgerId, amount: 1n, idempotencyKey: uniqueKey() }),
          ),
          "FAILED_PRECONDITION",
          "LEDGER_EXPIRED",
          expired,
        );
      }
      // A hold is a write too: none is made, and one made before is not posted.
      expectRefusal(
        await failureOf(api().recordEntry(entry(expiring.id, -1n, undefined, { pending: true }))),
        "FAILED_PRECONDITION",
        "LEDGER_EXPIRED",
        expired,
      );
      expectRefusal(
        await failureOf(
          api().postPendingTransaction({ transactionId: hold.id, idempotencyKey: uniqueKey() }),
        ),
        "FAILED_PRECONDITION",
        "LEDGER_EXPIRED",
        expired,
      );
      expect((await api().getTransaction({ transactionId: hold.id })).state).toBe("PENDING");
      // Reads still work; nothing was written (the sweep is off in this spec).
      expect(await state(api(), expiring.id)).toEqual(expiredState);
      expect(expiredState.ledger).toMatchObject({
        status: "ACTIVE",
        balance: 9n,
        version: 1n,
        pendingDebits: 2n,
      });
      expect((await api().getBalance({ ledgerId: expiring.id })).balance).toBe(9n);
      expect((await api().getBalance({ ledgerId: expiring.id, asOf: ago(0) })).balance).toBe(9n);
      expect((await api().getLedger(sink.id)).balance).toBe(0n);
      // valid_from reached: the ledger takes writes.
      expect((await post(api(), starting.id, "CREDIT_ADD", 3n)).balanceAfter).toBe(3n);
    });

    it("CreateLedger refuses a bad window or expire-to target, creating nothing", async () => {
      const app = declaredApp();
      const ownerId = uniqueOwner();
      const sink = await openLedger(api(), { app, unbounded: true });
      const window = { validUntil: ahead(HOUR_MS), expireToLedgerId: sink.id };
      const idempotencyKey = uniqueKey("window");
      const create = (overrides: object) =>
        failureOf(
          api().createLedger({ app, ownerId, unit: "CREDITS", idempotencyKey, ...overrides }),
        );
      const invalid = async (overrides: object, field: string) =>
        expectRefusal(await create(overrides), "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field });

      await invalid({ validUntil: ahead(HOUR_MS) }, "expire_to_ledger_id");
      await invalid({ expireToLedgerId: sink.id }, "expire_to_ledger_id");
      await invalid({ ...window, expireToLedgerId: "not-a-uuid" }, "expire_to_ledger_id");
      await invalid({ ...window, validFrom: ahead(2 * HOUR_MS) }, "valid_until");
      await invalid({ ...window, validUntil: ago(1_000) }, "valid_until");
      const missing = absentId();
      expectRefusal(
        await create({ ...window, expireToLedgerId: missing }),
        "NOT_FOUND",
        "LEDGER_NOT_FOUND",
        { ledger_id: missing },
      );
      const elsewhere = await openLedger(api(), { app: LEARNING });
      await invalid({ ...window, expireToLedgerId: elsewhere.id }, "expire_to_ledger_id");
      const usd = await openLedger(api(), { app, unit: "USD_CENTS" });
      await invalid({ ...window, expireToLedgerId: usd.id }, "expire_to_ledger_id");
      const expiring = await openLedger(api(), { app, ...window });
      await invalid({ ...window, expireToLedgerId: expiring.id }, "expire_to_ledger_id");
      const closed = await openLedger(api(), { app });
      await api().terminateLedger(closed.id);
      expectRefusal(
        await create({ ...window, expireToLedgerId: closed.id }),
        "FAILED_PRECONDITION",
        "LEDGER_TERMINATED",
        { ledger_id: closed.id },
      );

      expect((await api().listLedgers({ app, ownerId })).items).toEqual([]);
      // The key was never used: the same key opens the ledger once the request is right.
      const made = await api().createLedger({
        app,
        ownerId,
        unit: "CREDITS",
        idempotencyKey,
        ...window,
      });
      expect(made).toMatchObject({ replayed: false, value: { expireToLedgerId: sink.id } });
    });
  });

  describe("TerminateLedger with sweep_to_ledger_id", () => {
    it("moves a positive remainder by a SWEEP transfer, and otherwise says what it left", async () => {
      const app = declaredApp();
      const source = await openLedger(api(), { app });
      await post(api(), source.id, "CREDIT_ADD", 12n);
      const target = await openLedger(api(), { app });
      const closed = await api().terminateLedgerFully(source.id, { sweepToLedgerId: target.id });
      expect(closed).toMatchObject({
        remainingBalance: 0n,
        ledger: { status: "TERMINATED", balance: 0n, version: 2n },
      });
      const sweep = closed.sweepTransaction;
      expect(sweep).toMatchObject({ kind: "TRANSFER", state: "POSTED", amount: 12n });
      expect(
        sweep?.entries.map((e) => [e.ledgerId, e.operation, e.amount, e.balanceAfter]),
      ).toEqual([
        [source.id, "SWEEP", -12n, 0n],
        [target.id, "SWEEP", 12n, 12n],
      ]);
      expect((await api().getTransaction({ transactionId: sweep?.id ?? "" })).entries).toEqual(
        sweep?.entries,
      );
      expect((await api().getLedger(target.id)).balance).toBe(12n);

      const kept = await openLedger(api(), { app });
      await post(api(), kept.id, "CREDIT_ADD", 3n);
      const left = await api().terminateLedgerFully(kept.id);
      expect(left).toMatchObject({
        remainingBalance: 3n,
        sweepTransaction: undefined,
        ledger: { status: "TERMINATED", balance: 3n },
      });
      const empty = await openLedger(api(), { app });
      const nothing = await api().terminateLedgerFully(empty.id, { sweepToLedgerId: target.id });
      expect(nothing).toMatchObject({ remainingBalance: 0n, sweepTransaction: undefined });
      expect((await api().getLedger(target.id)).version).toBe(1n);
    });

    it("settles a negative remainder from the target (its floor applies) and refuses a wrong target, changing nothing", async () => {
      const app = declaredApp();
      const debtor = await openLedger(api(), { app, minBalance: -10n });
      await post(api(), debtor.id, "CREDIT_SPEND", -6n);
      const before = await state(api(), debtor.id);

      const poor = await openLedger(api(), { app });
      await post(api(), poor.id, "CREDIT_ADD", 5n);
      expectRefusal(
        await failureOf(api().terminateLedgerFully(debtor.id, { sweepToLedgerId: poor.id })),
        "FAILED_PRECONDITION",
        "INSUFFICIENT_FUNDS",
        { ledger_id: poor.id, amount: "-6", balance: "5" },
      );
      const other = await openLedger(api(), { app: LEARNING });
      expectRefusal(
        await failureOf(api().terminateLedgerFully(debtor.id, { sweepToLedgerId: other.id })),
        "INVALID_ARGUMENT",
        "APP_MISMATCH",
      );
      const usd = await openLedger(api(), { app, unit: "USD_CENTS" });
      expectRefusal(
        await failureOf(api().terminateLedgerFully(debtor.id, { sweepToLedgerId: usd.id })),
        "INVALID_ARGUMENT",
        "UNIT_MISMATCH",
      );
      const closed = await openLedger(api(), { app, unbounded: true });
      await api().terminateLedger(closed.id);
      expectRefusal(
        await failureOf(api().terminateLedgerFully(debtor.id, { sweepToLedgerId: closed.id })),
        "FAILED_PRECONDITION",
        "LEDGER_TERMINATED",
        { ledger_id: closed.id },
      );
      const missing = absentId();
      expectRefusal(
        await failureOf(api().terminateLedgerFully(debtor.id, { sweepToLedgerId: missing })),
        "NOT_FOUND",
        "LEDGER_NOT_FOUND",
        { ledger_id: missing },
      );
      expectRefusal(
        await failureOf(api().terminateLedgerFully(debtor.id, { sweepToLedgerId: debtor.id })),
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        { field: "sweep_to_ledger_id" },
      );
      expect(await state(api(), debtor.id)).toEqual(before);
      expect((await api().getLedger(poor.id)).balance).toBe(5n);

      const source = await openLedger(api(), { app, unbounded: true });
      const settled = await api().terminateLedgerFully(debtor.id, { sweepToLedgerId: source.id });
      expect(settled).toMatchObject({
        remainingBalance: 0n,
        ledger: { status: "TERMINATED", balance: 0n },
      });
      expect(settled.sweepTransaction?.entries.map((e) => [e.ledgerId, e.amount])).toEqual([
        [source.id, -6n],
        [debtor.id, 6n],
      ]);
      expect((await api().getLedger(source.id)).balance).toBe(-6n);
      expect(await verifyInvariants(harness.server().databaseUrl)).toEqual([]);
    });
  });
});

describe("BACKDATE_TOO_FAR", () => {
  it("refuses a backdate past 100,000 later entries through every client, writing nothing", async () => {
    const api = harness.client("connect");
    const ledger = await openLedger(api);
    const from = ago(HOUR_MS);
    await insertEntries(harness.server().databaseUrl, ledger.id, 100_001, from);
    const before = await api.getLedger(ledger.id);
    expect(before).toMatchObject({ balance: 100_001n, version: 100_001n });
    for (const name of CLIENT_NAMES) {
      const at = ago(2 * HOUR_MS);
      const refused = await failureOf(harness.client(name).recordEntry(entry(ledger.id, 1n, at)));
      expectRefusal(refused, "FAILED_PRECONDITION", "BACKDATE_TOO_FAR", {
        ledger_id: ledger.id,
        created_at: at.toISOString(),
        entries_max: "100000",
      });
    }
    expect(await api.getLedger(ledger.id)).toEqual(before);
  }, 60_000);
});

/*
 * A sweep's target takes a write: inside its own window. The server's own
 * audit (ENTRIES_WITHIN_WINDOW) would flag an entry before its valid_from.
 */
describe("a sweep into a ledger not yet valid", () => {
  const breachesOf = async (ledgerId: string) =>
    (await verifyInvariants(harness.server().databaseUrl)).filter((b) => b.subjectId === ledgerId);

  it("TerminateLedger refuses to sweep into a ledger before its valid_from, writing nothing", async () => {
    const api = harness.client("connect");
    const app = declaredApp();
    const source = await openLedger(api, { app });
    await post(api, source.id, "CREDIT_ADD", 5n);
    const notYet = await openLedger(api, { app, validFrom: ahead(HOUR_MS) });
    const refused = await failureOf(
      api.terminateLedgerFully(source.id, { sweepToLedgerId: notYet.id }),
    );
    expectRefusal(refused, "FAILED_PRECONDITION", "LEDGER_NOT_YET_VALID", {
      ledger_id: notYet.id,
    });
    expect(await api.getLedger(source.id)).toMatchObject({ status: "ACTIVE", balance: 5n });
    expect(await breachesOf(notYet.id)).toEqual([]);
  });

  it("TerminateLedger refuses to sweep into a ledger past its valid_until, writing nothing", async () => {
    const api = harness.client("connect");
    const app = declaredApp();
    const source = await openLedger(api, { app });
    await post(api, source.id, "CREDIT_ADD", 5n);
    const sink = await openLedger(api, { app, unbounded: true });
    const expiring = await openLedger(api, {
      app,
      validUntil: ahead(1_000),
      expireToLedgerId: sink.id,
    });
    await sleep(1_100);
    const refused = await failureOf(
      api.terminateLedgerFully(source.id, { sweepToLedgerId: expiring.id }),
    );
    expectRefusal(refused, "FAILED_PRECONDITION", "LEDGER_EXPIRED", { ledger_id: expiring.id });
    expect(await api.getLedger(source.id)).toMatchObject({ status: "ACTIVE", balance: 5n });
    expect(await api.getLedger(expiring.id)).toMatchObject({ balance: 0n, version: 0n });
  });

  it("the expiry sweep writes no entry before its expire-to ledger's valid_from", async () => {
    const api = harness.client("connect");
    const app = declaredApp();
    const target = await openLedger(api, { app, unbounded: true, validFrom: ahead(HOUR_MS) });
    // Refusing this ledger (INVALID_ARGUMENT) would do as well as leaving the remainder on it.
    const card = await api.createLedger({
      app,
      ownerId: uniqueOwner(),
      unit: "CREDITS",
      idempotencyKey: uniqueKey(),
      validUntil: ahead(1_000),
      expireToLedgerId: target.id,
    });
    await post(api, card.value.id, "CREDIT_ADD", 4n);
    await sleep(1_100);
    const closed = (await harness.server().store.expireLedgers()).find(
      (termination) => termination.ledger.id === card.value.id,
    );
    // Closed all the same, the remainder left on it, as for a target closed since.
    expect(closed).toMatchObject({ remainingMinor: 4n, sweep: undefined });
    expect(await api.getLedger(card.value.id)).toMatchObject({ status: "TERMINATED", balance: 4n });
    expect(await api.getLedger(target.id)).toMatchObject({ balance: 0n, version: 0n });
    expect(await breachesOf(target.id)).toEqual([]);
  });
});
