/**
 * The balance chart reads ListEntries' newest-first page back oldest first:
 * one point per entry at its created_at and balance_after, a step line that
 * starts from the balance before the first entry drawn and holds the last
 * one until now, an amount axis that includes 0, and a caption that says
 * when older entries were left out.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { EntrySchema } from "../../gen/ledger/v1/ledger_pb.js";
import { chartCaption, chartModel, stepPath } from "./balance-chart.js";

const T0_MS = Date.UTC(2026, 11, 3, 12, 0, 0);

function entry(sequence: bigint, atMs: number, amount: bigint, balanceAfter: bigint) {
  return create(EntrySchema, {
    sequence,
    amount,
    balanceAfter,
    createdAt: timestampFromMs(atMs),
  });
}

/** +3, -2, +5 a second apart, newest first as ListEntries returns them. */
const NEWEST_FIRST = [
  entry(3n, T0_MS + 2000, 5n, 6n),
  entry(2n, T0_MS + 1000, -2n, 1n),
  entry(1n, T0_MS, 3n, 3n),
];

describe("chartModel", () => {
  it("has one point per entry, oldest first, and holds the last balance until now", () => {
    const model = chartModel(NEWEST_FIRST, false, T0_MS + 4000);
    expect(model?.points.map((p) => [p.sequence, p.balanceAfterMinor])).toEqual([
      [1n, 3n],
      [2n, 1n],
      [3n, 6n],
    ]);
    expect(model).toMatchObject({
      startBalanceMinor: 0n,
      fromMs: T0_MS,
      untilMs: T0_MS + 4000,
      lowMinor: 0n,
      highMinor: 6n,
    });
  });

  it("starts a truncated history from the balance before its first entry, and spans below 0", () => {
    const model = chartModel([entry(9n, T0_MS, -10n, -4n)], true, T0_MS);
    expect(model).toMatchObject({ startBalanceMinor: 6n, lowMinor: -4n, highMinor: 6n });
  });

  it("has nothing to draw without entries", () => {
    expect(chartModel([], false, T0_MS)).toBeUndefined();
  });
});

describe("stepPath", () => {
  it("steps: flat until each entry, then straight to its balance, then flat until the end", () => {
    const model = chartModel(NEWEST_FIRST, false, T0_MS + 2000);
    if (model === undefined) {
      throw new Error("no model");
    }
    const commands = stepPath(model).split(" ");
    expect(commands.filter((c) => c.startsWith("V"))).toHaveLength(NEWEST_FIRST.length);
    expect(commands[0]).toMatch(/^M/);
    expect(commands.at(-1)).toMatch(/^H/);
    // Balances 3, 1, 6 on an axis from 0 (bottom) to 6 (top): the last step is the highest.
    const ys = commands.filter((c) => c.startsWith("V")).map((c) => Number(c.slice(1)));
    expect(ys[2]).toBeLessThan(ys[0] ?? 0);
    expect(ys[0]).toBeLessThan(ys[1] ?? 0);
  });
});

describe("chartCaption", () => {
  it("counts the entries drawn, and says when older ones were left out", () => {
    expect(chartCaption(chartModel(NEWEST_FIRST, false, T0_MS))).toMatch(
      /^.*3 entries, oldest first/,
    );
    expect(chartCaption(chartModel(NEWEST_FIRST, true, T0_MS))).toMatch(
      /latest 3 entries; older entries are not drawn/,
    );
    expect(chartCaption(undefined)).toBe("No entries yet.");
  });
});
