/**
 * Concurrent backdates and appends on the same ledgers (issue 14), for
 * concurrent-model.spec.ts. Who wins a race for the floor is the server's
 * choice, so single replies are not predicted; what every interleaving
 * must leave is checked after each round, when the ledgers are quiet:
 *
 * - ListEntries lists the history in history order (created_at, then
 *   sequence), newest first; its sequences are exactly 1..n;
 * - balance_after chains in that order (each is the one before plus its
 *   amount, the first its amount), and the ledger's balance is the last one,
 *   its version n, and what the accepted writes add up to;
 * - a bounded ledger (no holds here, its floor fixed) never shows a running
 *   balance below its floor: an append is checked at the end of history, a
 *   backdated debit at every running balance from its instant on;
 * - every accepted backdate sits at the instant asked for, and its
 *   recomputed_entries is the number of entries the ledger had already
 *   processed (lower sequence) that lie after it in history; an append
 *   recomputes nothing and lies last among the entries processed before it;
 * - a refusal is INSUFFICIENT_FUNDS of a debit of a bounded ledger (or a
 *   CONCURRENCY_CONFLICT, rarely): a credit and an unbounded ledger are
 *   never refused; a backdate's names an entry of the ledger by its id and
 *   sequence, or the entry it would have been (a sequence past the ledger's
 *   entries then);
 * - GetBalance as_of random instants of the final history (at, between and
 *   before entries) answers the running balance there.
 *
 * Instants come from the entries the server answered with, read as each
 * round starts, so none is in the future for the server.
 */
import fc from "fast-check";
import { expect } from "vitest";
import { type Entry, type LedgerApi, RpcFailure } from "../../support/clients.js";
import { declaredApp, uniqueOwner } from "../../support/fixtures.js";
import { allEntries } from "../../support/steps.js";

type Instant = "before" | "at" | "between" | "after";

export type BackdateCall =
  | { t: "append"; ledger: number; amount: number; client: number }
  | {
      t: "backdate";
      ledger: number;
      amount: number;
      at: Instant;
      pick: number;
      client: number;
    }
  | { t: "read"; ledger: number; pick: number; client: number };

export interface BackdateScenario {
  readonly floors: readonly ("zero" | "credit" | "unbounded")[];
  readonly openings: readonly number[];
  readonly rounds: readonly (readonly BackdateCall[])[];
}

const FLOORS = { zero: 0n, credit: -20n, unbounded: undefined } as const;

const call: fc.Arbitrary<BackdateCall> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("append" as const),
      ledger: fc.nat(9),
      amount: fc.integer({ min: -30, max: 30 }).filter((n) => n !== 0),
      client: fc.nat(2),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant("backdate" as const),
      ledger: fc.nat(9),
      amount: fc.integer({ min: -40, max: 30 }).filter((n) => n !== 0),
      at: fc.constantFrom<Instant>("before", "at", "at", "between", "between", "after"),
      pick: fc.nat(1000),
      client: fc.nat(2),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("read" as const),
      ledger: fc.nat(9),
      pick: fc.nat(1000),
      client: fc.nat(2),
    }),
  },
);

export const backdateScenarioArb: fc.Arbitrary<BackdateScenario> = fc
  .integer({ min: 2, max: 3 })
  .chain((ledgers) =>
    fc.record({
      floors: fc.array(fc.constantFrom("zero", "credit", "unbounded"), {
        minLength: ledgers,
        maxLength: ledgers,
      }),
      openings: fc.array(fc.integer({ min: 0, max: 60 }), {
        minLength: ledgers,
        maxLength: ledgers,
      }),
      rounds: fc.array(fc.array(call, { minLength: 6, maxLength: 12 }), {
        minLength: 2,
        maxLength: 4,
      }),
    }),
  );

interface RunLedger {
  readonly id: string;
  readonly floor: bigint | undefined;
  /** What the accepted writes add up to. */
  sum: bigint;
  /** The replies of its accepted writes, shown when a check fails. */
  readonly replies: string[];
}

/** What one accepted write must show once the round is over. */
interface Accepted {
  readonly ledger: RunLedger;
  readonly entry: Entry;
  readonly recomputed: bigint;
  /** The instant a backdate asked for (undefined: an append). */
  readonly at: Date | undefined;
}

/** History order: created_at, then sequence. */
function historyCompare(a: Entry, b: Entry): number {
  const at = (a.createdAt?.getTime() ?? 0) - (b.createdAt?.getTime() ?? 0);
  return at !== 0 ? at : a.sequence < b.sequence ? -1 : a.sequence > b.sequence ? 1 : 0;
}

/** An instant of `history` (oldest first) as asked, or undefined when there is no entry to take it from. */
function instantOf(history: readonly Entry[], at: Instant, pick: number, serverNow: number): Date {
  const times = history.map((e) => e.createdAt?.getTime() ?? 0);
  const first = times[0];
  const last = times.at(-1);
  if (first === undefined || last === undefined) {
    return new Date(serverNow - 1 - (pick % 1000));
  }
  switch (at) {
    case "before":
      return new Date(first - 1 - (pick % 50));
    case "at":
      return new Date(times[pick % times.length] as number);
    case "between": {
      const gaps = times.flatMap((t, i) => {
        const next = times[i + 1];
        return next !== undefined && next - t >= 2 ? [[t, next] as const] : [];
      });
      const gap = gaps[pick % Math.max(gaps.length, 1)];
      return gap === undefined
        ? new Date(times[pick % times.length] as number)
        : new Date(gap[0] + 1 + (pick % (gap[1] - gap[0] - 1)));
    }
    case "after":
      return new Date(serverNow > last ? last + 1 + (pick % (serverNow - last)) : last);
  }
}

/**
 * One scenario: its ledgers opened in a declared app under owners and keys of
 * its own (the app is shared with every other scenario), its rounds fired,
 * each checked once quiet.
 */
export async function runBackdateScenario(
  clients: readonly LedgerApi[],
  scenario: BackdateScenario,
  counts: Map<string, number>,
): Promise<void> {
  const count = (what: string) => counts.set(what, (counts.get(what) ?? 0) + 1);
  const api = (n: number) => clients[n % clients.length] as LedgerApi;
  const app = declaredApp();
  const run = uniqueOwner("backdates");
  let keyNo = 0;
  const key = () => {
    keyNo += 1;
    return `${run}-b${keyNo}`;
  };
  const ledgers: RunLedger[] = [];
  for (const [i, floorName] of scenario.floors.entries()) {
    const floor = FLOORS[floorName];
    const { value } = await api(i).createLedger({
      app,
      ownerId: `${run}-owner-${i}`,
      unit: "CREDITS",
      idempotencyKey: key(),
      ...(floor === undefined ? { unbounded: true } : { minBalance: floor }),
    });
    const ledger: RunLedger = { id: value.id, floor, sum: 0n, replies: [] };
    ledgers.push(ledger);
    const opening = BigInt(scenario.openings[i] ?? 0);
    if (opening > 0n) {
      await api(i).recordEntry({
        ledgerId: ledger.id,
        operation: "CREDIT_ADD",
        amount: opening,
        idempotencyKey: key(),
      });
      ledger.sum += opening;
    }
  }
  const histories = new Map<string, Entry[]>();
  const readHistories = async () => {
    for (const ledger of ledgers) {
      histories.set(ledger.id, (await allEntries(api(0), ledger.id)).reverse());
    }
  };
  await readHistories();
  const accepted: Accepted[] = [];
  for (const [r, round] of scenario.rounds.entries()) {
    const serverNow = Math.max(
      0,
      ...[...histories.values()].flat().map((e) => e.createdAt?.getTime() ?? 0),
    );
    const fired = round.map((c) => {
      const ledger = ledgers[c.ledger % ledgers.length] as RunLedger;
      const history = histories.get(ledger.id) ?? [];
      if (c.t === "read") {
        const asOf = instantOf(history, "between", c.pick, serverNow);
        return {
          c,
          ledger,
          at: asOf,
          result: settle(api(c.client).getBalance({ ledgerId: ledger.id, asOf })),
        };
      }
      const at = c.t === "backdate" ? instantOf(history, c.at, c.pick, serverNow) : undefined;
      const amount = BigInt(c.amount);
      return {
        c,
        ledger,
        at,
        result: settle(
          api(c.client).recordEntry({
            ledgerId: ledger.id,
            operation: amount > 0n ? "CREDIT_ADD" : "CREDIT_SPEND",
            amount,
            idempotencyKey: key(),
            ...(at === undefined ? {} : { createdAt: at }),
          }),
        ),
      };
    });
    // Every call settles (none rejects), so awaiting them together leaves nothing unhandled.
    const results = await Promise.all(fired.map((f) => f.result));
    const what = (i: number) => {
      const f = fired[i] as (typeof fired)[number];
      return `round ${r + 1} call ${i}: ${JSON.stringify(f.c)} on ${f.ledger.id} (floor ${f.ledger.floor})${f.at === undefined ? "" : ` at ${f.at.toISOString()}`}`;
    };
    const refusals: { i: number; failure: RpcFailure }[] = [];
    results.forEach((result, i) => {
      const f = fired[i] as (typeof fired)[number];
      if (f.c.t === "read") {
        expect(result, `${what(i)}: a read as of a past instant is answered`).not.toBeInstanceOf(
          RpcFailure,
        );
        count("as_of read");
        return;
      }
      const kind = f.c.t === "backdate" ? `backdate ${f.c.at}` : "append";
      if (result instanceof RpcFailure) {
        count(`${kind}: ${result.reason}`);
        refusals.push({ i, failure: result });
        return;
      }
      const { value, recomputedEntries } = result as { value: Entry; recomputedEntries: bigint };
      count(`${kind}: ${recomputedEntries > 0n ? "recomputed" : "fresh"}`);
      accepted.push({ ledger: f.ledger, entry: value, recomputed: recomputedEntries, at: f.at });
      f.ledger.sum += value.amount;
      f.ledger.replies.push(
        `r${r + 1}:#${value.sequence}@${value.createdAt?.getTime()}${f.at === undefined ? " append" : ` backdated to ${f.at.getTime()}`}:${value.amount}→${value.balanceAfter} recomputed ${recomputedEntries}`,
      );
    });
    await readHistories();
    for (const { i, failure } of refusals) {
      const f = fired[i] as (typeof fired)[number];
      const amount = BigInt((f.c as { amount: number }).amount);
      if (failure.reason === "CONCURRENCY_CONFLICT") {
        continue;
      }
      expect(
        [failure.code, failure.reason, amount < 0n, f.ledger.floor !== undefined],
        `${what(i)}: only a debit of a bounded ledger is refused (${failure.message})`,
      ).toEqual(["FAILED_PRECONDITION", "INSUFFICIENT_FUNDS", true, true]);
      const { entry_id: id, sequence } = failure.metadata;
      if (f.c.t === "backdate" && id !== undefined) {
        const history = histories.get(f.ledger.id) ?? [];
        const named = history.find((e) => e.id === id);
        expect(
          named === undefined ? BigInt(sequence ?? "0") > 0n : `${named.sequence}` === sequence,
          `${what(i)}: names an entry of the ledger by id and sequence, or the one it would have been (${failure.message})`,
        ).toBe(true);
      } else if (f.c.t === "append") {
        expect(id, `${what(i)}: an append's refusal names no entry`).toBeUndefined();
      }
    }
    for (const ledger of ledgers) {
      await expectChained(api(r), ledger, histories.get(ledger.id) ?? [], `round ${r + 1}`);
    }
    for (const a of accepted.filter((x) => x.entry.sequence > 0n)) {
      const history = histories.get(a.ledger.id) ?? [];
      const stored = history.find((e) => e.id === a.entry.id);
      const where = `round ${r + 1}: entry #${a.entry.sequence} of ${a.ledger.id}${a.at === undefined ? "" : ` backdated to ${a.at.toISOString()}`}`;
      expect(stored, `${where}: in the history`).toBeDefined();
      const e = stored as Entry;
      const processedBefore = history.filter((f) => f.sequence < e.sequence);
      const laterInHistory = processedBefore.filter((f) => historyCompare(f, e) > 0);
      if (a.at !== undefined) {
        expect(
          [e.createdAt, a.recomputed],
          `${where}: at the instant asked, recomputing the entries processed before it that lie after it`,
        ).toEqual([a.at, BigInt(laterInHistory.length)]);
      } else {
        expect(
          [a.recomputed, laterInHistory.length],
          `${where}: an append recomputes nothing and lies after every entry processed before it`,
        ).toEqual([0n, 0]);
      }
    }
    accepted.length = 0;
  }
  // As of random instants of the final histories: the running balance there.
  for (const [i, ledger] of ledgers.entries()) {
    const history = histories.get(ledger.id) ?? [];
    for (const [j, at] of (["before", "at", "between", "at"] as const).entries()) {
      const asOf = instantOf(history, at, i * 31 + j * 17, Date.now());
      const before = history.filter((e) => (e.createdAt?.getTime() ?? 0) <= asOf.getTime());
      const last = before.at(-1);
      const read = await api(i + j).getBalance({ ledgerId: ledger.id, asOf });
      expect(
        [read.balance, read.version],
        `GetBalance of ${ledger.id} as of ${asOf.toISOString()} = ${asOf.getTime()} (${at}) in ${describe(history)}; replies: ${ledger.replies.join(", ")}`,
      ).toEqual([last?.balanceAfter ?? 0n, last?.sequence ?? 0n]);
      count(`final as_of ${at}`);
    }
  }
}

/** A history (oldest first) compactly: #sequence@ms:amount→balance_after. */
function describe(history: readonly Entry[]): string {
  return history
    .map((e) => `#${e.sequence}@${e.createdAt?.getTime()}:${e.amount}→${e.balanceAfter}`)
    .join(" ");
}

/** The checks of the history of one quiet ledger (oldest first). */
async function expectChained(
  api: LedgerApi,
  ledger: RunLedger,
  history: readonly Entry[],
  when: string,
): Promise<void> {
  const what = `${when}: ledger ${ledger.id} (floor ${ledger.floor})`;
  const shown = [describe(history), "; replies:", ...ledger.replies];
  const ordered = [...history].sort(historyCompare);
  expect(
    history.map((e) => e.id),
    `${what}: ListEntries lists in history order, newest first (${shown.join(" ")})`,
  ).toEqual(ordered.map((e) => e.id));
  expect(
    history.map((e) => e.sequence).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    `${what}: sequences 1..n`,
  ).toEqual(history.map((_, i) => BigInt(i + 1)));
  let running = 0n;
  const chain = history.map((e) => {
    running += e.amount;
    return running;
  });
  expect(
    history.map((e) => e.balanceAfter),
    `${what}: balance_after chains in history order (${shown.join(" ")})`,
  ).toEqual(chain);
  if (ledger.floor !== undefined) {
    const floor = ledger.floor;
    expect(
      history.filter((e) => e.balanceAfter < floor).map((e) => `#${e.sequence}`),
      `${what}: no running balance below the floor (${shown.join(" ")})`,
    ).toEqual([]);
  }
  const stored = await api.getLedger(ledger.id);
  expect(
    [stored.balance, stored.version],
    `${what}: balance is the last balance_after and what the writes add up to`,
  ).toEqual([chain.at(-1) ?? 0n, BigInt(history.length)]);
  expect(stored.balance, `${what}: the accepted writes' sum`).toBe(ledger.sum);
}

async function settle<T>(call: Promise<T>): Promise<T | RpcFailure> {
  try {
    return await call;
  } catch (error) {
    if (error instanceof RpcFailure) {
      return error;
    }
    throw error;
  }
}
