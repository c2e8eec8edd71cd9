/**
 * Time in the ledger through the SDK and the real server, over each
 * protocol: a backdated entry (`createdAt`) takes its place in history
 * order (createdAt, then sequence; after the entries already at its
 * instant) and recomputes the later entries' balanceAfter
 * (`recomputedEntries`), or is refused whole when a later balance would
 * break the floor; getBalance `asOf` reads the balance at a past instant,
 * terminated ledgers included; listEntries filters by createdAfter /
 * createdBefore; a ledger's validity window (validFrom, validUntil,
 * expireToLedgerId) refuses writes outside it with LedgerNotYetValidError
 * and LedgerExpiredError, and the expiry sweep (run here by hand: the
 * server's own is off, so nothing closes a ledger behind a test's back)
 * closes an expired one; terminateLedger reports what remained, or sweeps
 * it to another ledger (operation SWEEP). The types: a hold is never
 * backdated, a transfer has no createdAt, and the results carry the new
 * fields.
 */
import { type Timestamp, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, describe, expect, expectTypeOf, it } from "vitest";
import {
  createContentClient,
  createLearningClient,
  createLedgerClient,
  type Entry,
  type HoldEntryInput,
  InsufficientFundsError,
  InvalidArgumentError,
  type Ledger,
  type LedgerClient,
  LedgerExpiredError,
  LedgerNotYetValidError,
  LedgerStatus,
  LedgerTerminatedError,
  PROTOCOLS,
  type Protocol,
  type RecordedEntry,
  type TerminatedLedger,
  type Transaction,
  TransactionState,
} from "../../src/sdk/index.js";
import { useLedgerServer } from "../support/server.js";
import { okItem, rejection } from "./sdk-clients.js";

/** The server's expiry sweep off: the tests run it (store.expireLedgers) when they mean to. */
const harness = useLedgerServer({ EXPIRY_SWEEP_INTERVAL_MS: "0" });
const clients: LedgerClient[] = [];
afterAll(() => {
  for (const client of clients) {
    client.close();
  }
});

function ledgerClient(protocol: Protocol): LedgerClient {
  const client = createLedgerClient({ baseUrl: harness.server().url, protocol });
  clients.push(client);
  return client;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** A ledger's entries newest first, as [operation, amount, balanceAfter]. */
async function history(client: LedgerClient, ledgerId: string) {
  const { entries } = await client.listEntries({ ledgerId });
  return entries.map((e) => [e.operation, e.amount, e.balanceAfter]);
}

/** What a ledger's entries look like to compare before and after a refused write. */
async function snapshot(client: LedgerClient, ledgerId: string) {
  const { entries } = await client.listEntries({ ledgerId });
  const { balance, version } = await client.getBalance({ ledgerId });
  return { entries: entries.map((e) => [e.id, e.sequence, e.balanceAfter]), balance, version };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe.each(PROTOCOLS)("time over %s", (protocol) => {
  let serial = 0;
  /** A content CREDITS ledger of a new owner, and instants `hours` before the setup. */
  const setup = async (input: { validFrom?: Date } = {}) => {
    const client = ledgerClient(protocol);
    const content = createContentClient(client);
    serial += 1;
    const ownerId = `time-${protocol}-${serial}`;
    const { ledger } = await content.createLedger({ ownerId, unit: "CREDITS", ...input });
    const setUpAtMs = Date.now();
    const hoursAgo = (hours: number) => new Date(setUpAtMs - hours * HOUR_MS);
    /** Another ledger of the app in CREDITS: unbounded, to fund or receive. */
    const other = async (name: string, unbounded = true) =>
      (await content.createLedger({ ownerId: `${ownerId}-${name}`, unit: "CREDITS", unbounded }))
        .ledger;
    return { client, content, ledger, ownerId, hoursAgo, other };
  };

  it("a backdated entry lands in history order, counts and recomputes the later balances", async () => {
    const { client, content, ledger, hoursAgo } = await setup();
    const first = await content.creditAdd(ledger.id, { amountMinor: 10n, createdAt: hoursAgo(3) });
    expect(first.recomputedEntries).toBe(0);
    await content.contentCreation(ledger.id, { createdAt: hoursAgo(1) }); // -5
    const now = await content.dailyReward(ledger.id); // +1, now
    expect(now).toMatchObject({ recomputedEntries: 0, entry: { balanceAfter: 6n } });

    // A late +3 two hours ago: after the +10, before the -5 and the reward.
    const late = await content.creditAdd(ledger.id, { amountMinor: 3n, createdAt: hoursAgo(2) });
    expect(late.recomputedEntries).toBe(2);
    expect(late.entry).toMatchObject({ sequence: 4n, amount: 3n, balanceAfter: 13n });
    expect(await history(client, ledger.id)).toEqual([
      ["DAILY_REWARD", 1n, 9n],
      ["CONTENT_CREATION", -5n, 8n],
      ["CREDIT_ADD", 3n, 13n],
      ["CREDIT_ADD", 10n, 10n],
    ]);
    const { entries } = await client.listEntries({ ledgerId: ledger.id });
    expect(entries.map((e) => e.sequence)).toEqual([3n, 2n, 4n, 1n]);
    expect(await client.getBalance({ ledgerId: ledger.id })).toMatchObject({
      balance: 9n,
      version: 4n,
    });

    // Another at the very instant of the first: after it, before the +3.
    const same = await client.recordEntry({
      ledgerId: ledger.id,
      operation: "CREDIT_SPEND",
      amountMinor: -2n,
      createdAt: hoursAgo(3),
    });
    expect(same).toMatchObject({ recomputedEntries: 3, entry: { balanceAfter: 8n } });
    expect(await history(client, ledger.id)).toEqual([
      ["DAILY_REWARD", 1n, 7n],
      ["CONTENT_CREATION", -5n, 6n],
      ["CREDIT_ADD", 3n, 11n],
      ["CREDIT_SPEND", -2n, 8n],
      ["CREDIT_ADD", 10n, 10n],
    ]);
  });

  it("listEntries filters by createdAfter (inclusive) and createdBefore (exclusive)", async () => {
    const { client, content, ledger, hoursAgo } = await setup();
    for (const hours of [4, 3, 2, 1]) {
      await content.creditAdd(ledger.id, {
        amountMinor: BigInt(hours),
        createdAt: hoursAgo(hours),
      });
    }
    const between = await client.listEntries({
      ledgerId: ledger.id,
      createdAfter: hoursAgo(3),
      createdBefore: hoursAgo(1),
    });
    expect(between.entries.map((e) => e.amount)).toEqual([2n, 3n]);
    const createdAt = (e: Entry | undefined) => e?.createdAt && Number(e.createdAt.seconds);
    expect(createdAt(between.entries[1])).toBe(Math.floor(hoursAgo(3).getTime() / 1000));
  });

  it("recordEntries backdates per item, each item counting its recomputed entries", async () => {
    const { client, content, ledger, hoursAgo } = await setup();
    await content.creditAdd(ledger.id, { amountMinor: 5n }); // now
    const items = await content.recordEntries(
      [
        { ledgerId: ledger.id, operation: "CREDIT_ADD", amountMinor: 1n, createdAt: hoursAgo(2) },
        { ledgerId: ledger.id, operation: "CREDIT_ADD", amountMinor: 2n, createdAt: hoursAgo(1) },
      ],
      { atomic: true },
    );
    expect(items.map((item) => okItem(item).recomputedEntries)).toEqual([1, 1]);
    expect(await history(client, ledger.id)).toEqual([
      ["CREDIT_ADD", 5n, 8n],
      ["CREDIT_ADD", 2n, 3n],
      ["CREDIT_ADD", 1n, 1n],
    ]);
  });

  it("a backdated debit that would break a later entry's floor is refused and changes nothing", async () => {
    const { client, content, ledger, hoursAgo } = await setup();
    await content.creditAdd(ledger.id, { amountMinor: 10n, createdAt: hoursAgo(3) });
    const spend = await content.creditSpend(ledger.id, {
      amountMinor: -8n,
      createdAt: hoursAgo(1),
    });
    const before = await snapshot(client, ledger.id);

    // 10 - 5 = 5 two hours ago is fine, but the later -8 would leave -3.
    const error = await rejection(
      content.creditSpend(ledger.id, { amountMinor: -5n, createdAt: hoursAgo(2) }),
    );
    expect(error).toBeInstanceOf(InsufficientFundsError);
    expect(error).toMatchObject({
      code: Code.FailedPrecondition,
      ledgerId: ledger.id,
      balanceMinor: 2n,
      amountMinor: -5n,
      entryId: spend.entry.id,
      sequence: 2n,
    });
    expect(await snapshot(client, ledger.id)).toEqual(before);
  });

  it("createdAt in the future, or on a hold, is an invalid argument", async () => {
    const { client, content, ledger, hoursAgo } = await setup();
    const future = await rejection(
      content.creditAdd(ledger.id, { createdAt: new Date(Date.now() + HOUR_MS) }),
    );
    expect(future).toBeInstanceOf(InvalidArgumentError);
    // The types refuse it (see below); a caller without them reaches the server.
    const backdatedHold = {
      ledgerId: ledger.id,
      operation: "CREDIT_SPEND",
      pending: true,
      createdAt: hoursAgo(1),
    } as unknown as HoldEntryInput;
    await content.creditAdd(ledger.id);
    const held = await rejection(client.recordEntry(backdatedHold));
    expect(held).toBeInstanceOf(InvalidArgumentError);
    expect((await client.getBalance({ ledgerId: ledger.id })).pendingDebits).toBe(0n);
  });

  it("getBalance asOf: 0 before the first entry, then each entry's balanceAfter up to now", async () => {
    const { client, content, ledger, ownerId, hoursAgo } = await setup();
    await content.creditAdd(ledger.id, { amountMinor: 10n, createdAt: hoursAgo(3) });
    await content.creditSpend(ledger.id, { amountMinor: -4n, createdAt: hoursAgo(2) });
    await content.dailyReward(ledger.id, { createdAt: hoursAgo(1) });
    const asOf = async (at: Date) => {
      const { balance, version } = await client.getBalance({ ledgerId: ledger.id, asOf: at });
      return [balance, version];
    };
    expect(await asOf(hoursAgo(4))).toEqual([0n, 0n]);
    expect(await asOf(hoursAgo(2.5))).toEqual([10n, 1n]);
    expect(await asOf(hoursAgo(2))).toEqual([6n, 2n]); // at or before: the -4 counts
    expect(await asOf(hoursAgo(0.5))).toEqual([7n, 3n]);
    expect(await asOf(new Date())).toEqual([7n, 3n]);
    const byOwner = await content.getBalance(ownerId, "CREDITS", { asOf: hoursAgo(2.5) });
    expect(byOwner).toMatchObject({ ledgerId: ledger.id, balance: 10n });

    const future = await rejection(
      client.getBalance({ ledgerId: ledger.id, asOf: new Date(Date.now() + HOUR_MS) }),
    );
    expect(future).toBeInstanceOf(InvalidArgumentError);
  });

  it("terminateLedger without sweepTo reports the remaining balance; asOf still reads the closed ledger", async () => {
    const { client, content, ledger, hoursAgo } = await setup();
    await content.creditAdd(ledger.id, { amountMinor: 7n, createdAt: hoursAgo(1) });
    const terminated = await client.terminateLedger(ledger.id);
    expect(terminated.remainingBalanceMinor).toBe(7n);
    expect(terminated.sweepTransaction).toBeUndefined();
    expect(terminated.ledger).toMatchObject({ status: LedgerStatus.TERMINATED, balance: 7n });

    const now = await rejection(client.getBalance({ ledgerId: ledger.id }));
    expect(now).toBeInstanceOf(LedgerTerminatedError);
    const then = await client.getBalance({ ledgerId: ledger.id, asOf: hoursAgo(0.5) });
    expect(then.balance).toBe(7n);
  });

  it("terminateLedger with sweepToLedgerId moves the balance under SWEEP, then closes", async () => {
    const { client, content, ledger, other } = await setup();
    await content.creditAdd(ledger.id, { amountMinor: 7n });
    const keep = await other("keep", false);
    const {
      ledger: closed,
      remainingBalanceMinor,
      sweepTransaction,
    } = await client.terminateLedger(ledger.id, { sweepToLedgerId: keep.id });
    expect(remainingBalanceMinor).toBe(0n);
    expect(closed).toMatchObject({ status: LedgerStatus.TERMINATED, balance: 0n });
    const legs = (sweepTransaction as Transaction).entries;
    expect(legs.map((e) => [e.ledgerId, e.operation, e.amount, e.balanceAfter])).toEqual([
      [ledger.id, "SWEEP", -7n, 0n],
      [keep.id, "SWEEP", 7n, 7n],
    ]);
    expect((await client.getBalance({ ledgerId: keep.id })).balance).toBe(7n);
  });

  it("createLedger with a window exposes it; without one, nothing", async () => {
    const { content, ledger, other } = await setup();
    expect([ledger.validFrom, ledger.validUntil, ledger.expireToLedgerId]).toEqual([
      undefined,
      undefined,
      "",
    ]);
    const expired = await other("expired");
    const validFrom = new Date(Date.now() + HOUR_MS);
    const validUntil = new Date(Date.now() + 2 * HOUR_MS);
    const { ledger: card } = await content.createLedger({
      ownerId: `${ledger.ownerId}-card`,
      unit: "CREDITS",
      validFrom,
      validUntil,
      expireToLedgerId: expired.id,
    });
    const window = {
      validFrom: timestampFromDate(validFrom),
      validUntil: timestampFromDate(validUntil),
      expireToLedgerId: expired.id,
    };
    expect(card).toMatchObject(window);
    expect(await content.ledger.getLedger(card.id)).toMatchObject(window);
    const page = await content.listLedgers({ ownerId: card.ownerId });
    expect(page.ledgers.map((l) => l.validUntil)).toEqual([window.validUntil]);

    // Not valid yet: a write now is before its window.
    const early = await rejection(content.creditAdd(card.id));
    expect(early).toBeInstanceOf(LedgerNotYetValidError);
    expect(early).toMatchObject({ ledgerId: card.id, validFrom });
  });

  it("an entry backdated before validFrom is not yet valid; one inside the window is", async () => {
    const { content, ledger, hoursAgo } = await setup({
      validFrom: new Date(Date.now() - HOUR_MS),
    });
    const early = await rejection(content.creditAdd(ledger.id, { createdAt: hoursAgo(2) }));
    expect(early).toBeInstanceOf(LedgerNotYetValidError);
    expect(early).toMatchObject({
      ledgerId: ledger.id,
      validFrom: ledger.validFrom && timestampDate(ledger.validFrom),
    });
    const inside = await content.creditAdd(ledger.id, { createdAt: hoursAgo(0.5) });
    expect(inside.entry.balanceAfter).toBe(10n);
  });

  it("from validUntil, writes are refused (LedgerExpiredError); the expiry sweep then voids the holds, moves the remainder under EXPIRY and closes the ledger", async () => {
    const { client, content, ledger, other } = await setup();
    const expired = await other("expired");
    const validUntil = new Date(Date.now() + 1_000);
    const { ledger: card } = await content.createLedger({
      ownerId: `${ledger.ownerId}-card`,
      unit: "CREDITS",
      validUntil,
      expireToLedgerId: expired.id,
    });
    expect((await content.creditAdd(card.id)).entry.balanceAfter).toBe(10n);
    const hold = await content.creditSpend(card.id, { amountMinor: -4n, pending: true });
    await sleep(validUntil.getTime() - Date.now() + 100);
    const late = await rejection(content.creditAdd(card.id));
    expect(late).toBeInstanceOf(LedgerExpiredError);
    expect(late).toMatchObject({ ledgerId: card.id, validUntil });
    expect(await client.getLedger(card.id)).toMatchObject({ status: LedgerStatus.ACTIVE });

    await harness.server().store.expireLedgers();
    expect(await client.getLedger(card.id)).toMatchObject({
      status: LedgerStatus.TERMINATED,
      balance: 0n,
      pendingDebits: 0n,
    });
    expect((await client.getTransaction(hold.transactionId)).state).toBe(TransactionState.VOIDED);
    expect(await history(client, expired.id)).toEqual([["EXPIRY", 10n, 10n]]);
  });

  it("a window must end in the future and name where the remainder goes", async () => {
    const { content, ledger, other } = await setup();
    const expired = await other("expired");
    const open = (input: { validUntil?: Date; expireToLedgerId?: string }) =>
      rejection(
        content.createLedger({ ownerId: `${ledger.ownerId}-x`, unit: "CREDITS", ...input }),
      );
    const past = await open({
      validUntil: new Date(Date.now() - 1_000),
      expireToLedgerId: expired.id,
    });
    expect(past).toBeInstanceOf(InvalidArgumentError);
    const nowhere = await open({ validUntil: new Date(Date.now() + HOUR_MS) });
    expect(nowhere).toBeInstanceOf(InvalidArgumentError);
  });

  it("an app client's operation methods take createdAt (learning)", async () => {
    const client = ledgerClient(protocol);
    const learning = createLearningClient(client);
    serial += 1;
    const { ledger } = await learning.createLedger({
      ownerId: `time-learning-${protocol}-${serial}`,
      unit: "SEATS",
    });
    await learning.seatPurchase(ledger.id, { amountMinor: 2n });
    const early = await learning.seatPurchase(ledger.id, {
      amountMinor: 3n,
      createdAt: new Date(Date.now() - HOUR_MS),
    });
    expect(early).toMatchObject({ recomputedEntries: 1, entry: { balanceAfter: 3n } });
    expect((await learning.getBalance(ledger.ownerId, "SEATS")).balance).toBe(5n);
  });
});

describe("time types", () => {
  it("carry the new fields, refuse a backdated hold or transfer (checked by tsc)", () => {
    expectTypeOf<RecordedEntry["recomputedEntries"]>().toEqualTypeOf<number>();
    expectTypeOf<Ledger["validFrom"]>().toEqualTypeOf<Timestamp | undefined>();
    expectTypeOf<Ledger["validUntil"]>().toEqualTypeOf<Timestamp | undefined>();
    expectTypeOf<Ledger["expireToLedgerId"]>().toEqualTypeOf<string>();
    expectTypeOf<TerminatedLedger["remainingBalanceMinor"]>().toEqualTypeOf<bigint>();
    expectTypeOf<TerminatedLedger["sweepTransaction"]>().toEqualTypeOf<Transaction | undefined>();

    // Never called: the body only has to compile, with the errors expected.
    const neverRun = (ledger: LedgerClient, ledgerId: string, at: Date) => {
      const learning = createLearningClient(ledger);
      learning.courseEnrollment(ledgerId, { createdAt: at });
      learning.record(ledgerId, "SEAT_PURCHASE", { createdAt: at });
      ledger.recordEntry({ ledgerId, operation: "X", createdAt: at });
      learning.getBalance("owner", "SEATS", { asOf: at });
      // @ts-expect-error a hold is never backdated
      learning.courseEnrollment(ledgerId, { pending: true, createdAt: at });
      // @ts-expect-error a hold is never backdated, on the general client either
      ledger.recordEntry({ ledgerId, operation: "X", pending: true, createdAt: at });
      // @ts-expect-error an instant is a Date, not milliseconds
      learning.courseEnrollment(ledgerId, { createdAt: 1_000 });
      // @ts-expect-error a transfer is not backdated: only RecordEntry takes createdAt
      learning.transfer(ledgerId, ledgerId, 1n, { createdAt: at });
      // @ts-expect-error a balance's instant is a Date
      ledger.getBalance({ ledgerId, asOf: "2026-01-01" });
    };
    expectTypeOf(neverRun).toBeFunction();
  });
});
