/**
 * Recording entries and reading them back through each client: default and
 * explicit amounts per operation, occurred_at (default now, backdating),
 * gapless sequences and running balance_after, GetBalance by id and by
 * (app, owner_id, unit), and ListEntries (newest first, pages, time filters).
 */
import { describe, expect, it } from "vitest";
import { CLIENT_NAMES, type Entry } from "../support/clients.js";
import { uniqueExternalId, uniqueKey } from "../support/fixtures.js";
import { useLedgerServer } from "../support/server.js";
import { allEntries, expectConsistentHistory, openLedger, post } from "../support/steps.js";

const harness = useLedgerServer();

describe.each(CLIENT_NAMES)("entries through %s", (clientName) => {
  const api = () => harness.client(clientName);

  it("an absent amount is the operation's default: DAILY_REWARD +1, SIGNUP_CREDIT +3, CREDIT_ADD +10, CREDIT_SPEND -1", async () => {
    const ledger = await openLedger(api());
    const entries = [
      await post(api(), ledger.id, "DAILY_REWARD"),
      await post(api(), ledger.id, "SIGNUP_CREDIT"),
      await post(api(), ledger.id, "CREDIT_ADD"),
      await post(api(), ledger.id, "CREDIT_SPEND"),
    ];

    expect(entries.map((e) => [e.operation, e.amount, e.sequence, e.balanceAfter])).toEqual([
      ["DAILY_REWARD", 1n, 1n, 1n],
      ["SIGNUP_CREDIT", 3n, 2n, 4n],
      ["CREDIT_ADD", 10n, 3n, 14n],
      ["CREDIT_SPEND", -1n, 4n, 13n],
    ]);
    const after = await api().getLedger(ledger.id);
    expect([after.balance, after.version]).toEqual([13n, 4n]);
  });

  it("an explicit amount with the operation's sign is recorded as given", async () => {
    const ledger = await openLedger(api());
    const entries = [
      await post(api(), ledger.id, "CREDIT_ADD", 250n),
      await post(api(), ledger.id, "CREDIT_SPEND", -75n),
      await post(api(), ledger.id, "CREDIT_ADD", 5n),
      await post(api(), ledger.id, "CREDIT_SPEND", -180n),
    ];
    expect(entries.map((e) => e.amount)).toEqual([250n, -75n, 5n, -180n]);
    expect(entries.map((e) => e.balanceAfter)).toEqual([250n, 175n, 180n, 0n]);
    expect(entries.map((e) => e.sequence)).toEqual([1n, 2n, 3n, 4n]);
    await expectConsistentHistory(api(), ledger.id);
  });

  it("an entry carries its annotations, its own transaction and occurred_at defaulting to now", async () => {
    const ledger = await openLedger(api());
    const externalId = uniqueExternalId("psp");
    const before = Date.now();
    const { value: entry, replayed } = await api().recordEntry({
      ledgerId: ledger.id,
      operation: "CREDIT_ADD",
      amount: 12n,
      idempotencyKey: uniqueKey(),
      description: "top-up",
      reference: "invoice-7",
      metadata: { channel: "web", "x-trace": "abc" },
      externalTransactionId: externalId,
    });
    const after = Date.now();

    expect(replayed).toBe(false);
    expect(entry).toMatchObject({
      ledgerId: ledger.id,
      operation: "CREDIT_ADD",
      amount: 12n,
      balanceAfter: 12n,
      sequence: 1n,
      description: "top-up",
      reference: "invoice-7",
      metadata: { channel: "web", "x-trace": "abc" },
      externalTransactionId: externalId,
    });
    expect(entry.id).not.toBe("");
    expect(entry.transactionId).not.toBe("");
    expect(entry.transactionId).not.toBe(entry.id);
    for (const instant of [entry.occurredAt, entry.createdAt]) {
      expect(instant?.getTime()).toBeGreaterThanOrEqual(before - 1000);
      expect(instant?.getTime()).toBeLessThanOrEqual(after + 1000);
    }
    const [listed] = (await api().listEntries({ ledgerId: ledger.id })).items;
    expect(listed).toEqual(entry);
  });

  it("occurred_at may be backdated (kept exactly) or slightly ahead for clock skew; created_at is now", async () => {
    const ledger = await openLedger(api());
    const past = new Date("2021-03-04T05:06:07.089Z");
    const { value: backdated } = await api().recordEntry({
      ledgerId: ledger.id,
      operation: "DAILY_REWARD",
      occurredAt: past,
      idempotencyKey: uniqueKey(),
    });
    expect(backdated.occurredAt).toEqual(past);
    expect(Math.abs((backdated.createdAt?.getTime() ?? 0) - Date.now())).toBeLessThan(10_000);

    const skewed = new Date(Date.now() + 60_000);
    const { value: ahead } = await api().recordEntry({
      ledgerId: ledger.id,
      operation: "DAILY_REWARD",
      occurredAt: skewed,
      idempotencyKey: uniqueKey(),
    });
    expect(ahead.occurredAt).toEqual(skewed);
    expect(ahead.sequence).toBe(2n);
  });

  it("GetBalance names a ledger by id or by (app, owner_id, unit) with the same answer", async () => {
    const ledger = await openLedger(api(), { unit: "SEATS" });
    const other = await openLedger(api(), {
      app: ledger.app,
      ownerId: ledger.ownerId,
      unit: "CREDITS",
    });
    await post(api(), ledger.id, "CREDIT_ADD", 7n);
    await post(api(), ledger.id, "CREDIT_SPEND", -2n);
    await post(api(), other.id, "CREDIT_ADD", 1000n);

    const expected = {
      ledgerId: ledger.id,
      balance: 5n,
      unit: "SEATS",
      version: 2n,
      pendingDebits: 0n,
      pendingCredits: 0n,
      available: 5n,
    };
    expect(await api().getBalance({ ledgerId: ledger.id })).toEqual(expected);
    expect(
      await api().getBalance({ app: ledger.app, ownerId: ledger.ownerId, unit: "SEATS" }),
    ).toEqual(expected);
    expect(
      await api().getBalance({ app: ledger.app, ownerId: ledger.ownerId, unit: "CREDITS" }),
    ).toEqual({
      ledgerId: other.id,
      balance: 1000n,
      unit: "CREDITS",
      version: 1n,
      pendingDebits: 0n,
      pendingCredits: 0n,
      available: 1000n,
    });
  });

  it("ListEntries returns newest first, page by page, only the ledger's own entries", async () => {
    const ledger = await openLedger(api());
    const neighbour = await openLedger(api());
    const written: Entry[] = [];
    for (let i = 1n; i <= 7n; i += 1n) {
      written.push(await post(api(), ledger.id, "CREDIT_ADD", i));
      await post(api(), neighbour.id, "DAILY_REWARD");
    }

    const pages: Entry[][] = [];
    let pageToken = "";
    do {
      const page = await api().listEntries({ ledgerId: ledger.id, pageSize: 3, pageToken });
      pages.push([...page.items]);
      pageToken = page.nextPageToken;
    } while (pageToken !== "" && pages.length < 10);

    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat()).toEqual([...written].reverse());
    expect(pages.flat().map((e) => e.sequence)).toEqual([7n, 6n, 5n, 4n, 3n, 2n, 1n]);
    const history = await expectConsistentHistory(api(), ledger.id);
    expect(history.at(0)?.balanceAfter).toBe(28n);
  });

  it("ListEntries filters on occurred_at: at or after occurred_after, strictly before occurred_before", async () => {
    const ledger = await openLedger(api());
    const jan = new Date("2022-01-01T00:00:00.000Z");
    const feb = new Date("2022-02-01T00:00:00.000Z");
    const mar = new Date("2022-03-01T00:00:00.000Z");
    const byMonth = new Map<string, Entry>();
    for (const [label, occurredAt] of [
      ["jan", jan],
      ["feb", feb],
      ["feb-late", new Date("2022-02-20T12:00:00.000Z")],
      ["mar", mar],
    ] as const) {
      const { value } = await api().recordEntry({
        ledgerId: ledger.id,
        operation: "DAILY_REWARD",
        occurredAt,
        idempotencyKey: uniqueKey(),
      });
      byMonth.set(label, value);
    }
    const today = await post(api(), ledger.id, "DAILY_REWARD");
    const ids = (entries: readonly Entry[]) => entries.map((e) => e.id);
    const idOf = (label: string) => byMonth.get(label)?.id;

    const february = await api().listEntries({
      ledgerId: ledger.id,
      occurredAfter: feb,
      occurredBefore: mar,
    });
    expect(ids(february.items)).toEqual([idOf("feb-late"), idOf("feb")]);

    const fromFebruary = await api().listEntries({ ledgerId: ledger.id, occurredAfter: feb });
    expect(ids(fromFebruary.items)).toEqual([today.id, idOf("mar"), idOf("feb-late"), idOf("feb")]);

    const beforeFebruary = await api().listEntries({ ledgerId: ledger.id, occurredBefore: feb });
    expect(ids(beforeFebruary.items)).toEqual([idOf("jan")]);

    const first = await api().listEntries({
      ledgerId: ledger.id,
      occurredAfter: feb,
      occurredBefore: mar,
      pageSize: 1,
    });
    expect(ids(first.items)).toEqual([idOf("feb-late")]);
    expect(first.nextPageToken).not.toBe("");
    const second = await api().listEntries({
      ledgerId: ledger.id,
      occurredAfter: feb,
      occurredBefore: mar,
      pageSize: 1,
      pageToken: first.nextPageToken,
    });
    expect(ids(second.items)).toEqual([idOf("feb")]);
    if (second.nextPageToken !== "") {
      const third = await api().listEntries({
        ledgerId: ledger.id,
        occurredAfter: feb,
        occurredBefore: mar,
        pageSize: 1,
        pageToken: second.nextPageToken,
      });
      expect(third).toEqual({ items: [], nextPageToken: "" });
    }
    expect(await allEntries(api(), ledger.id)).toHaveLength(5);
  });
});
