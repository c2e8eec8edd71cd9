/**
 * Every page is bounded: page_size 0 means the default of 50, and anything
 * above 500 is capped at 500, for ListEntries and ListLedgers alike; paging
 * on from a capped page loses and repeats nothing.
 */
import { describe, expect, it } from "vitest";
import type { Entry } from "../support/clients.js";
import { declaredApp, mapBounded, uniqueKey, uniqueOwner } from "../support/fixtures.js";
import { useLedgerServer } from "../support/server.js";
import { openLedger } from "../support/steps.js";

const harness = useLedgerServer();

const PAGE_SIZE_DEFAULT = 50;
const PAGE_SIZE_MAX = 500;

describe("page size bounds (over gRPC)", () => {
  const api = () => harness.client("grpc-js");

  it("ListEntries: 0 gives 50, 10000 gives 500, and the next page holds the rest", async () => {
    const ledger = await openLedger(api());
    const total = PAGE_SIZE_MAX + 20;
    await mapBounded(
      Array.from({ length: total }, (_, i) => i),
      16,
      (i) =>
        api().recordEntry({
          ledgerId: ledger.id,
          operation: "DAILY_REWARD",
          idempotencyKey: uniqueKey(`reward-${i}`),
        }),
    );

    const byDefault = await api().listEntries({ ledgerId: ledger.id, pageSize: 0 });
    expect(byDefault.items).toHaveLength(PAGE_SIZE_DEFAULT);
    expect(byDefault.nextPageToken).not.toBe("");

    const capped = await api().listEntries({ ledgerId: ledger.id, pageSize: 10_000 });
    expect(capped.items).toHaveLength(PAGE_SIZE_MAX);
    expect(capped.nextPageToken).not.toBe("");
    const rest = await api().listEntries({
      ledgerId: ledger.id,
      pageSize: 10_000,
      pageToken: capped.nextPageToken,
    });
    expect(rest.items).toHaveLength(total - PAGE_SIZE_MAX);
    expect(rest.nextPageToken).toBe("");

    const all: Entry[] = [...capped.items, ...rest.items];
    expect(all.map((e) => e.sequence)).toEqual(all.map((_, i) => BigInt(total - i)));
    expect(all[0]?.balanceAfter).toBe(BigInt(total));
  }, 120_000);

  it("ListLedgers: 0 gives 50, a large page_size returns all 51 at once", async () => {
    // The app is shared with the file's other tests: one owner's 51 ledgers (one per unit) are counted.
    const app = declaredApp();
    const ownerId = uniqueOwner();
    const total = PAGE_SIZE_DEFAULT + 1;
    await mapBounded(
      Array.from({ length: total }, (_, i) => i),
      8,
      (i) =>
        api().createLedger({
          app,
          ownerId,
          unit: `UNIT_${i}`,
          idempotencyKey: uniqueKey(),
        }),
    );

    const byDefault = await api().listLedgers({ app, ownerId, pageSize: 0 });
    expect(byDefault.items).toHaveLength(PAGE_SIZE_DEFAULT);
    expect(byDefault.nextPageToken).not.toBe("");
    const next = await api().listLedgers({ app, ownerId, pageToken: byDefault.nextPageToken });
    expect(next.items).toHaveLength(1);
    expect(next.nextPageToken).toBe("");

    const large = await api().listLedgers({ app, ownerId, pageSize: 2_000_000_000 });
    expect(large.items).toHaveLength(total);
    expect(large.nextPageToken).toBe("");
    expect(large.items.map((l) => l.id)).toEqual(
      [...byDefault.items, ...next.items].map((l) => l.id),
    );
  }, 60_000);
});
