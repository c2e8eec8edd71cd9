/**
 * Time in a ledger: where a write lands in its history, the validity window
 * that bounds its writes, and the rule of a backdated entry, which takes its
 * place among later entries and recomputes their running balances. Pure
 * functions over the state the write pipeline locked and read.
 */

import { invalidArgument, LedgerError } from "./errors.js";
import { invariant } from "./invariant.js";
import { addInt64 } from "./money.js";
import type { Ledger } from "./types.js";

/** The most later entries one backdated entry may recompute. */
export const BACKDATE_ENTRIES_MAX = 100_000;

/**
 * The created_at of an entry written now: never before the ledger's latest
 * one, because clocks step back (another process's, or this one's), so
 * only an explicit backdate moves history.
 */
export function entryTime(ledger: Ledger, now: Date): Date {
  return ledger.historyAt !== undefined && ledger.historyAt.getTime() > now.getTime()
    ? ledger.historyAt
    : now;
}

/** The ledger's latest history instant once an entry lands at `at`. */
export function historyAfter(ledger: Ledger, at: Date): Date {
  return ledger.historyAt !== undefined && ledger.historyAt.getTime() >= at.getTime()
    ? ledger.historyAt
    : at;
}

/**
 * LEDGER_EXPIRED when the write happens (`now`) at or after valid_until;
 * LEDGER_NOT_YET_VALID when its entry lands (`at`: now, or the instant
 * backdated to) before valid_from. Reads are never refused.
 */
export function assertWithinWindow(ledger: Ledger, now: Date, at: Date): void {
  if (ledger.validUntil !== undefined && now.getTime() >= ledger.validUntil.getTime()) {
    throw new LedgerError(
      "LEDGER_EXPIRED",
      `ledger ${ledger.id} expired at ${ledger.validUntil.toISOString()}: it takes no more writes`,
      { ledger_id: ledger.id, valid_until: ledger.validUntil.toISOString() },
    );
  }
  if (ledger.validFrom !== undefined && at.getTime() < ledger.validFrom.getTime()) {
    throw new LedgerError(
      "LEDGER_NOT_YET_VALID",
      `ledger ${ledger.id} is valid from ${ledger.validFrom.toISOString()}; a write at ${at.toISOString()} comes before it`,
      { ledger_id: ledger.id, valid_from: ledger.validFrom.toISOString() },
    );
  }
}

/** Whether the ledger takes a write made now (see assertWithinWindow). */
export function withinWindow(ledger: Ledger, now: Date): boolean {
  return (
    (ledger.validUntil === undefined || now.getTime() < ledger.validUntil.getTime()) &&
    (ledger.validFrom === undefined || now.getTime() >= ledger.validFrom.getTime())
  );
}

/** A backdate's instant: INVALID_ARGUMENT in the future. */
export function backdateInstant(createdAt: Date, now: Date): Date {
  if (createdAt.getTime() > now.getTime()) {
    throw invalidArgument("created_at", "must not be in the future (it backdates the entry)");
  }
  return createdAt;
}

/** One entry's place in a ledger's history and its running balance there. */
export interface HistoryStep {
  readonly entryId: string;
  readonly createdAt: Date;
  readonly sequence: bigint;
  readonly balanceAfterMinor: bigint;
}

/**
 * The part of a ledger's history a backdate can reach: every entry created
 * after `since`, oldest first, or only the newest BACKDATE_ENTRIES_MAX + 1
 * of them (`truncated`), and the running balance at `since`.
 */
export interface HistoryTail {
  readonly since: Date;
  readonly steps: readonly HistoryStep[];
  readonly truncated: boolean;
  /** The balance after the last entry created at or before `since`; 0 before the first. */
  readonly baseBalanceMinor: bigint;
}

/** Where a backdated entry lands and what it does to the entries after it. */
export interface Backdated {
  /** The new entry's running balance. */
  readonly balanceAfterMinor: bigint;
  /** The tail with the entry in place and every later balance moved by its amount. */
  readonly tail: HistoryTail;
  /** How many later entries were recomputed. */
  readonly recomputed: number;
}

/**
 * Inserts an entry of `amountMinor` at `at` into the ledger's history,
 * after every entry created at or before `at`. BACKDATE_TOO_FAR past
 * BACKDATE_ENTRIES_MAX later entries; for a debit, INSUFFICIENT_FUNDS
 * naming the first entry whose recomputed balance would break the floor;
 * BALANCE_OVERFLOW when one would leave int64. The ledger's own balance,
 * holds included, is checked where it is posted.
 */
export function backdate(
  ledger: Ledger,
  tail: HistoryTail,
  step: Omit<HistoryStep, "balanceAfterMinor">,
  amountMinor: bigint,
): Backdated {
  const at = step.createdAt;
  invariant(at.getTime() >= tail.since.getTime(), "a backdate reaches before its loaded history");
  const index = firstAfter(tail.steps, at);
  const later = tail.steps.length - index;
  if (later > BACKDATE_ENTRIES_MAX || (tail.truncated && index === 0)) {
    throw new LedgerError(
      "BACKDATE_TOO_FAR",
      `backdating to ${at.toISOString()} would recompute more than ${BACKDATE_ENTRIES_MAX} later entries of ledger ${ledger.id}`,
      {
        ledger_id: ledger.id,
        created_at: at.toISOString(),
        entries_max: String(BACKDATE_ENTRIES_MAX),
      },
    );
  }
  const before = tail.steps[index - 1]?.balanceAfterMinor ?? tail.baseBalanceMinor;
  const balanceAfterMinor = shifted(ledger, { ...step, balanceAfterMinor: before }, amountMinor);
  const moved = tail.steps.slice(index).map((next) => ({
    ...next,
    balanceAfterMinor: shifted(ledger, next, amountMinor),
  }));
  return {
    balanceAfterMinor,
    recomputed: later,
    tail: {
      ...tail,
      steps: [...tail.steps.slice(0, index), { ...step, balanceAfterMinor }, ...moved],
    },
  };
}

/** The index of the first step created strictly after `at` (steps are in history order). */
function firstAfter(steps: readonly HistoryStep[], at: Date): number {
  let low = 0;
  let high = steps.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((steps[middle]?.createdAt.getTime() ?? 0) <= at.getTime()) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** A running balance moved by `amountMinor`, refused below the floor (debits) or out of int64. */
function shifted(ledger: Ledger, step: HistoryStep, amountMinor: bigint): bigint {
  const after = addInt64(step.balanceAfterMinor, amountMinor);
  const names = { ledger_id: ledger.id, entry_id: step.entryId, sequence: String(step.sequence) };
  if (after === undefined) {
    throw new LedgerError(
      "BALANCE_OVERFLOW",
      `backdating ${amountMinor} would overflow the int64 balance after entry ${step.entryId} of ledger ${ledger.id}`,
      { ...names, balance: step.balanceAfterMinor.toString(), amount: amountMinor.toString() },
    );
  }
  if (amountMinor < 0n && ledger.minBalanceMinor !== undefined && after < ledger.minBalanceMinor) {
    throw new LedgerError(
      "INSUFFICIENT_FUNDS",
      `backdating ${amountMinor} ${ledger.unit} would take ledger ${ledger.id} to ${after} after entry ${step.entryId} (sequence ${step.sequence}), below its floor of ${ledger.minBalanceMinor}`,
      {
        ...names,
        balance: step.balanceAfterMinor.toString(),
        available: step.balanceAfterMinor.toString(),
        amount: amountMinor.toString(),
        min_balance: ledger.minBalanceMinor.toString(),
        unit: ledger.unit,
      },
    );
  }
  return after;
}
