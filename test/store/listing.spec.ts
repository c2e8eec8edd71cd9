/**
 * ListLedgers and ListEntries on PostgreSQL: order, filters, keyset
 * pagination, and page tokens that only continue the listing they came from.
 */
import { describe, expect, it } from "vitest";
import { type Entry, LIMITS, type Page } from "../../src/domain/index.js";
import { entryInput, openLedger, rejection, uniqueApp, useStore } from "./store-fixtures.js";

const harness = useStore();

async function allPages<T>(fetch: (pageToken: string) => Promise<Page<T>>): Promise<T[][]> {
  const pages: T[][] = [];
  let pageToken = "";
  for (let i = 0; i < 100; i += 1) {
    const page = await fetch(pageToken);
    pages.push([...page.items]);
    if (page.nextPageToken === "") {
      return pages;
    }
    pageToken = page.nextPageToken;
  }
  throw new Error("pagination did not end");
}

describe("listLedgers", () => {
  it("lists an app's ledgers oldest first across pages, optionally one owner's", async () => {
    const app = uniqueApp();
    const created = [];
    for (let i = 0; i < 7; i += 1) {
      const ownerId = i % 2 === 0 ? "even" : `odd-${i}`;
      created.push(await openLedger(harness.store(), 0n, { app, ownerId, unit: `UNIT_${i}` }));
    }
    await openLedger(harness.store());
    const pages = await allPages((pageToken) =>
      harness.store().listLedgers({ app, ownerId: "", pageSize: 3, pageToken }),
    );
    expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
    expect(pages.flat().map((ledger) => ledger.id)).toEqual(created.map((ledger) => ledger.id));

    const evens = await harness
      .store()
      .listLedgers({ app, ownerId: "even", pageSize: 0, pageToken: "" });
    expect(evens.items.map((ledger) => ledger.unit)).toEqual([
      "UNIT_0",
      "UNIT_2",
      "UNIT_4",
      "UNIT_6",
    ]);
    expect(evens.nextPageToken).toBe("");
  });

  it("ends with an empty token when the last page is exactly full", async () => {
    const app = uniqueApp();
    await openLedger(harness.store(), 0n, { app });
    await openLedger(harness.store(), 0n, { app });
    const page = await harness
      .store()
      .listLedgers({ app, ownerId: "", pageSize: 2, pageToken: "" });
    expect(page.items).toHaveLength(2);
    expect(page.nextPageToken).toBe("");
  });

  it("includes terminated ledgers", async () => {
    const ledger = await openLedger(harness.store());
    await harness.store().terminateLedger({ ledgerId: ledger.id, voidPending: false });
    const page = await harness
      .store()
      .listLedgers({ app: ledger.app, ownerId: "", pageSize: 0, pageToken: "" });
    expect(page.items.map((item) => item.status)).toEqual(["TERMINATED"]);
  });

  it("refuses a malformed page token, or one from another app or owner, with INVALID_ARGUMENT on page_token", async () => {
    const app = uniqueApp();
    await openLedger(harness.store(), 0n, { app });
    await openLedger(harness.store(), 0n, { app });
    const { nextPageToken } = await harness
      .store()
      .listLedgers({ app, ownerId: "", pageSize: 1, pageToken: "" });
    expect(nextPageToken).not.toBe("");
    for (const pageToken of ["garbage!", "e30", Buffer.from("[1]").toString("base64url")]) {
      const error = await rejection(
        harness.store().listLedgers({ app, ownerId: "", pageSize: 1, pageToken }),
        "INVALID_ARGUMENT",
      );
      expect(error.metadata).toEqual({ field: "page_token" });
    }
    await rejection(
      harness
        .store()
        .listLedgers({ app: uniqueApp(), ownerId: "", pageSize: 1, pageToken: nextPageToken }),
      "INVALID_ARGUMENT",
    );
    await rejection(
      harness.store().listLedgers({ app, ownerId: "x", pageSize: 1, pageToken: nextPageToken }),
      "INVALID_ARGUMENT",
    );
  });
});

describe("listEntries", () => {
  async function ledgerWithEntries(count: number): Promise<{ ledgerId: string; entries: Entry[] }> {
    const ledger = await openLedger(harness.store());
    const entries: Entry[] = [];
    for (let i = 0; i < count; i += 1) {
      const occurredAt = new Date(Date.UTC(2024, 0, 1 + i));
      const input = entryInput(ledger.id, "CREDIT_ADD", BigInt(i + 1), { occurredAt });
      entries.push((await harness.store().recordEntry(input)).value);
    }
    return { ledgerId: ledger.id, entries };
  }

  it("lists newest (highest sequence) first across pages", async () => {
    const { ledgerId, entries } = await ledgerWithEntries(5);
    const pages = await allPages((pageToken) =>
      harness.store().listEntries({
        ledgerId,
        pageSize: 2,
        pageToken,
        occurredAfter: undefined,
        occurredBefore: undefined,
        reference: "",
        externalTransactionId: "",
      }),
    );
    expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
    expect(pages.flat()).toEqual([...entries].reverse());
  });

  it("filters occurred_at to [occurred_after, occurred_before) and keeps the filter across pages", async () => {
    const { ledgerId, entries } = await ledgerWithEntries(6);
    const occurredAfter = new Date(Date.UTC(2024, 0, 2));
    const occurredBefore = new Date(Date.UTC(2024, 0, 6));
    const pages = await allPages((pageToken) =>
      harness.store().listEntries({
        ledgerId,
        pageSize: 3,
        pageToken,
        occurredAfter,
        occurredBefore,
        reference: "",
        externalTransactionId: "",
      }),
    );
    expect(pages.flat().map((entry) => entry.sequence)).toEqual([5n, 4n, 3n, 2n]);
    expect(pages.flat()).toEqual(entries.slice(1, 5).reverse());
  });

  it("uses the default page size for 0 and caps larger ones", async () => {
    const { ledgerId } = await ledgerWithEntries(1);
    const page = await harness.store().listEntries({
      ledgerId,
      pageSize: LIMITS.pageSizeMax + 1000,
      pageToken: "",
      occurredAfter: undefined,
      occurredBefore: undefined,
      reference: "",
      externalTransactionId: "",
    });
    expect(page.items).toHaveLength(1);
    await rejection(
      harness.store().listEntries({
        ledgerId,
        pageSize: -1,
        pageToken: "",
        occurredAfter: undefined,
        occurredBefore: undefined,
        reference: "",
        externalTransactionId: "",
      }),
      "INVALID_ARGUMENT",
    );
  });

  it("returns an empty page for a ledger without entries, and LEDGER_NOT_FOUND for an unknown one", async () => {
    const ledger = await openLedger(harness.store());
    const input = {
      pageSize: 0,
      pageToken: "",
      occurredAfter: undefined,
      occurredBefore: undefined,
      reference: "",
      externalTransactionId: "",
    };
    const page = await harness.store().listEntries({ ...input, ledgerId: ledger.id });
    expect(page).toEqual({ items: [], nextPageToken: "" });
    const ledgerId = "01890000-0000-7000-8000-0000000000aa";
    const error = await rejection(
      harness.store().listEntries({ ...input, ledgerId }),
      "LEDGER_NOT_FOUND",
    );
    expect(error.metadata).toEqual({ ledger_id: ledgerId });
  });

  it("refuses a page token used with other filters or another ledger with INVALID_ARGUMENT on page_token", async () => {
    const { ledgerId } = await ledgerWithEntries(3);
    const { ledgerId: otherLedgerId } = await ledgerWithEntries(1);
    const first = await harness.store().listEntries({
      ledgerId,
      pageSize: 1,
      pageToken: "",
      occurredAfter: undefined,
      occurredBefore: undefined,
      reference: "",
      externalTransactionId: "",
    });
    const { nextPageToken: pageToken } = first;
    const changed = [
      {
        ledgerId: otherLedgerId,
        occurredAfter: undefined,
        occurredBefore: undefined,
        reference: "",
        externalTransactionId: "",
      },
      {
        ledgerId,
        occurredAfter: new Date(0),
        occurredBefore: undefined,
        reference: "",
        externalTransactionId: "",
      },
      {
        ledgerId,
        occurredAfter: undefined,
        occurredBefore: new Date(),
        reference: "",
        externalTransactionId: "",
      },
    ];
    for (const filters of changed) {
      const error = await rejection(
        harness.store().listEntries({ ...filters, pageSize: 1, pageToken }),
        "INVALID_ARGUMENT",
      );
      expect(error.metadata).toEqual({ field: "page_token" });
    }
    const forged = Buffer.from(
      JSON.stringify({
        v: 1,
        f: { ledger_id: ledgerId, occurred_after: "", occurred_before: "" },
        after: "x",
      }),
    ).toString("base64url");
    await rejection(
      harness.store().listEntries({
        ledgerId,
        pageSize: 1,
        pageToken: forged,
        occurredAfter: undefined,
        occurredBefore: undefined,
        reference: "",
        externalTransactionId: "",
      }),
      "INVALID_ARGUMENT",
    );
  });
});
