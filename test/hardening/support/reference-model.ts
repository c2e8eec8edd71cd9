/**
 * A small in-memory reference of the ledger's rules, written from the
 * contract (proto/ledger/v1/ledger.proto) and not from the implementation:
 * idempotency keys scoped per app (a replay returns the first reply, another
 * request under the key is IDEMPOTENCY_KEY_REUSED, a refused write leaves no
 * key behind), one active ledger per (app, owner, unit), default amounts and
 * directions, floors, int64 overflow, transfers between two ledgers of one
 * app and unit, partial reversals of entries and transfers, termination.
 *
 * The rules of one write are pure functions (`recordRule`, `transferRule`,
 * `reversalRule`, then `postRule` leg by leg), so the concurrent checker
 * (serial-checker.ts) applies the very same rules at the positions it tries.
 * The model predicts each call's outcome; the spec then applies the real reply.
 */
import type { Entry, Ledger, Transaction } from "../../support/clients.js";
import { INT64_MAX, INT64_MIN } from "../../support/fixtures.js";

/** Every app has these (src/domain/operations.ts, SHARED_OPERATIONS). */
export const POLICIES: Readonly<
  Record<string, { readonly sign: 1n | -1n; readonly default: bigint }>
> = {
  DAILY_REWARD: { sign: 1n, default: 1n },
  SIGNUP_CREDIT: { sign: 1n, default: 3n },
  CREDIT_ADD: { sign: 1n, default: 10n },
  CREDIT_SPEND: { sign: -1n, default: -1n },
};

/** What both legs of a transfer record when it names no operation (or names this one). */
export const TRANSFER_OPERATION = "TRANSFER";

/** The gRPC code the contract gives each reason. */
export const REASON_CODES: Readonly<Record<string, string>> = {
  LEDGER_NOT_FOUND: "NOT_FOUND",
  TRANSACTION_NOT_FOUND: "NOT_FOUND",
  INSUFFICIENT_FUNDS: "FAILED_PRECONDITION",
  LEDGER_TERMINATED: "FAILED_PRECONDITION",
  REVERSAL_EXCEEDS_TRANSACTION: "FAILED_PRECONDITION",
  TRANSACTION_NOT_REVERSIBLE: "FAILED_PRECONDITION",
  IDEMPOTENCY_KEY_REUSED: "ALREADY_EXISTS",
  LEDGER_ALREADY_EXISTS: "ALREADY_EXISTS",
  EXTERNAL_ID_ALREADY_USED: "ALREADY_EXISTS",
  UNKNOWN_OPERATION: "INVALID_ARGUMENT",
  AMOUNT_DIRECTION_MISMATCH: "INVALID_ARGUMENT",
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  APP_MISMATCH: "INVALID_ARGUMENT",
  UNIT_MISMATCH: "INVALID_ARGUMENT",
  BALANCE_OVERFLOW: "OUT_OF_RANGE",
};

/** What the rules need to know of a ledger; the model's and the checker's ledgers both are one. */
export interface RuleLedger {
  readonly id: string;
  readonly app: string;
  readonly unit: string;
  /** undefined: unbounded. */
  readonly floor: bigint | undefined;
}

/** A ledger's state as one posting sees it. */
export interface PostingState {
  readonly balance: bigint;
  readonly terminated: boolean;
}

/** One signed amount posted to one ledger. */
export interface Leg<L extends RuleLedger> {
  readonly ledger: L;
  readonly amount: bigint;
}

/** A written transaction, as reversals need it. */
export interface Tx<L extends RuleLedger> {
  readonly id: string;
  readonly kind: "ENTRY" | "TRANSFER" | "REVERSAL";
  readonly magnitude: bigint;
  /** Its entries in posting order: one, or a transfer's debit then credit. */
  readonly legs: readonly Leg<L>[];
  /**
   * True when it created or destroyed money (RecordEntry, and the reversal
   * of one); false when it moved money between ledgers (a transfer and its
   * reversals).
   */
  readonly singleSided: boolean;
  /** Reversed so far (as of the last accepted write). */
  reversed: bigint;
}

export function magnitudeOf(amount: bigint): bigint {
  return amount < 0n ? -amount : amount;
}

/** A write's outcome under the rules: its legs, or a refusal (naming the ledger that refused it). */
export type Ruling<L extends RuleLedger> =
  | { readonly ok: true; readonly legs: readonly Leg<L>[] }
  | { readonly ok: false; readonly reason: string; readonly ledgerId?: string };

function refuse(
  reason: string,
  ledgerId?: string,
): { ok: false; reason: string; ledgerId?: string } {
  return ledgerId === undefined ? { ok: false, reason } : { ok: false, reason, ledgerId };
}

/** RecordEntry: UNKNOWN_OPERATION, AMOUNT_DIRECTION_MISMATCH, else one leg. */
export function recordRule<L extends RuleLedger>(
  ledger: L,
  operation: string,
  amount: bigint | undefined,
): Ruling<L> {
  const policy = POLICIES[operation];
  if (policy === undefined) {
    return refuse("UNKNOWN_OPERATION");
  }
  const resolved = amount ?? policy.default;
  if (resolved === 0n || (resolved > 0n ? 1n : -1n) !== policy.sign) {
    return refuse("AMOUNT_DIRECTION_MISMATCH");
  }
  return { ok: true, legs: [{ ledger, amount: resolved }] };
}

/** The operation a transfer's legs record, or undefined when the app has no such operation. */
export function transferOperation(operation: string | undefined): string | undefined {
  if (operation === undefined || operation === "" || operation === TRANSFER_OPERATION) {
    return TRANSFER_OPERATION;
  }
  return POLICIES[operation] === undefined ? undefined : operation;
}

/**
 * Transfer (two distinct ledgers, a positive amount: the request is valid):
 * APP_MISMATCH, UNIT_MISMATCH, UNKNOWN_OPERATION, else the debit of `from`
 * then the credit of `to`.
 */
export function transferRule<L extends RuleLedger>(
  from: L,
  to: L,
  operation: string | undefined,
  amount: bigint,
): Ruling<L> {
  if (from.app !== to.app) {
    return refuse("APP_MISMATCH");
  }
  if (from.unit !== to.unit) {
    return refuse("UNIT_MISMATCH");
  }
  if (transferOperation(operation) === undefined) {
    return refuse("UNKNOWN_OPERATION");
  }
  return {
    ok: true,
    legs: [
      { ledger: from, amount: -amount },
      { ledger: to, amount },
    ],
  };
}

/**
 * ReverseTransaction of `tx` with `remaining` still unreversed:
 * TRANSACTION_NOT_REVERSIBLE, REVERSAL_EXCEEDS_TRANSACTION, else one
 * compensating leg per leg of the original, in its order.
 */
export function reversalRule<L extends RuleLedger>(
  tx: Tx<L>,
  amount: bigint | undefined,
  remaining: bigint,
): Ruling<L> {
  if (tx.kind === "REVERSAL") {
    return refuse("TRANSACTION_NOT_REVERSIBLE");
  }
  const magnitude = amount ?? remaining;
  if (magnitude <= 0n || magnitude > remaining) {
    return refuse("REVERSAL_EXCEEDS_TRANSACTION");
  }
  return {
    ok: true,
    legs: tx.legs.map((leg) => ({
      ledger: leg.ledger,
      amount: leg.amount > 0n ? -magnitude : magnitude,
    })),
  };
}

/**
 * Posts the legs in order, each against its ledger's state (distinct
 * ledgers, so an earlier leg never changes a later one's): terminated,
 * then int64 overflow, then the floor (debits only), naming the ledger.
 */
export function postRule<L extends RuleLedger>(
  legs: readonly Leg<L>[],
  stateOf: (ledger: L) => PostingState,
): Ruling<L> {
  for (const { ledger, amount } of legs) {
    const state = stateOf(ledger);
    const after = state.balance + amount;
    if (state.terminated) {
      return refuse("LEDGER_TERMINATED", ledger.id);
    }
    if (after > INT64_MAX || after < INT64_MIN) {
      return refuse("BALANCE_OVERFLOW", ledger.id);
    }
    if (amount < 0n && ledger.floor !== undefined && after < ledger.floor) {
      return refuse("INSUFFICIENT_FUNDS", ledger.id);
    }
  }
  return { ok: true, legs };
}

/** Sums `amount` per (app, unit) of `ledger`, as "app unit" → decimal string (readable in a diff). */
export function sumsByAppUnit<L extends RuleLedger>(
  items: readonly Leg<L>[],
): Record<string, string> {
  const sums = new Map<string, bigint>();
  for (const { ledger, amount } of items) {
    const key = `${ledger.app} ${ledger.unit}`;
    sums.set(key, (sums.get(key) ?? 0n) + amount);
  }
  return Object.fromEntries(
    [...sums].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, `${v}`]),
  );
}

/** Every leg of the transactions that created or destroyed money. */
export function singleSidedLegs<L extends RuleLedger>(txs: readonly Tx<L>[]): Leg<L>[] {
  return txs.filter((tx) => tx.singleSided).flatMap((tx) => tx.legs);
}

/**
 * Money is conserved when, per (app, unit), the balances add up to the
 * amounts of the transactions that created or destroyed money: the two
 * sums, to compare.
 */
export function moneyBalance<L extends RuleLedger>(
  ledgers: readonly L[],
  balanceOf: (ledger: L) => bigint,
  txs: readonly Tx<L>[],
): { balances: Record<string, string>; singleSided: Record<string, string> } {
  return {
    balances: sumsByAppUnit(ledgers.map((ledger) => ({ ledger, amount: balanceOf(ledger) }))),
    singleSided: sumsByAppUnit([
      ...ledgers.map((ledger) => ({ ledger, amount: 0n })),
      ...singleSidedLegs(txs),
    ]),
  };
}

// ---------------------------------------------------------------------------
// The sequential model.
// ---------------------------------------------------------------------------

export interface ModelEntry {
  readonly id: string;
  readonly sequence: bigint;
  readonly operation: string;
  readonly amount: bigint;
  readonly balanceAfter: bigint;
}

export interface ModelLedger extends RuleLedger {
  readonly ownerId: string;
  balance: bigint;
  terminated: boolean;
  readonly entries: ModelEntry[];
}

export type ModelTransaction = Tx<ModelLedger>;

export type Method = "CreateLedger" | "RecordEntry" | "Transfer" | "ReverseTransaction";
export type Reply = Ledger | Entry | Transaction;

interface StoredKey {
  readonly method: Method;
  readonly fingerprint: string;
  readonly reply: Reply;
}

export type Prediction =
  | { readonly kind: "fresh"; readonly legs: readonly Leg<ModelLedger>[] }
  | { readonly kind: "replay"; readonly reply: Reply }
  | { readonly kind: "refused"; readonly reason: string; readonly ledgerId?: string };

/** A request's identity for idempotency: every field but the key, in a fixed order. */
export function fingerprint(params: object): string {
  const { idempotencyKey: _key, ...rest } = params as { idempotencyKey?: unknown };
  return JSON.stringify(rest, (_name, value: unknown) => {
    if (typeof value === "bigint") {
      return `${value}n`;
    }
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)),
      );
    }
    return value;
  });
}

/** A ruling as a prediction: refused, or posted against the ledgers as they are now. */
function predictionOf(ruling: Ruling<ModelLedger>): Prediction {
  const posted = ruling.ok ? postRule(ruling.legs, (ledger) => ledger) : ruling;
  if (posted.ok) {
    return { kind: "fresh", legs: posted.legs };
  }
  const { reason, ledgerId } = posted;
  return ledgerId === undefined
    ? { kind: "refused", reason }
    : { kind: "refused", reason, ledgerId };
}

export class ReferenceModel {
  readonly ledgers: ModelLedger[] = [];
  readonly transactions: ModelTransaction[] = [];
  private readonly keys = new Map<string, StoredKey>();

  private keyOf(app: string, key: string): string {
    return `${app}\u0000${key}`;
  }

  /** Replay, reuse, or nothing stored yet under (app, key). */
  checkKey(app: string, key: string, method: Method, params: object): Prediction | undefined {
    const stored = this.keys.get(this.keyOf(app, key));
    if (stored === undefined) {
      return undefined;
    }
    if (stored.method !== method || stored.fingerprint !== fingerprint(params)) {
      return { kind: "refused", reason: "IDEMPOTENCY_KEY_REUSED" };
    }
    return { kind: "replay", reply: stored.reply };
  }

  remember(app: string, key: string, method: Method, params: object, reply: Reply): void {
    this.keys.set(this.keyOf(app, key), { method, fingerprint: fingerprint(params), reply });
  }

  predictCreate(
    app: string,
    ownerId: string,
    unit: string,
    key: string,
    params: object,
  ): Prediction {
    const known = this.checkKey(app, key, "CreateLedger", params);
    if (known !== undefined) {
      return known;
    }
    const active = this.ledgers.find(
      (l) => l.app === app && l.ownerId === ownerId && l.unit === unit && !l.terminated,
    );
    return active === undefined
      ? { kind: "fresh", legs: [] }
      : { kind: "refused", reason: "LEDGER_ALREADY_EXISTS" };
  }

  predictRecord(
    ledger: ModelLedger,
    operation: string,
    amount: bigint | undefined,
    key: string,
    params: object,
  ): Prediction {
    return (
      this.checkKey(ledger.app, key, "RecordEntry", params) ??
      predictionOf(recordRule(ledger, operation, amount))
    );
  }

  /** The same ledger twice is refused as an invalid request, before its key is looked at. */
  predictTransfer(
    from: ModelLedger,
    to: ModelLedger,
    operation: string | undefined,
    amount: bigint,
    key: string,
    params: object,
  ): Prediction {
    if (from === to) {
      return { kind: "refused", reason: "INVALID_ARGUMENT" };
    }
    return (
      this.checkKey(from.app, key, "Transfer", params) ??
      predictionOf(transferRule(from, to, operation, amount))
    );
  }

  predictReverse(
    tx: ModelTransaction,
    amount: bigint | undefined,
    key: string,
    params: object,
  ): Prediction {
    const app = (tx.legs[0] as Leg<ModelLedger>).ledger.app;
    return (
      this.checkKey(app, key, "ReverseTransaction", params) ??
      predictionOf(reversalRule(tx, amount, tx.magnitude - tx.reversed))
    );
  }

  /** Applies an accepted entry (its sequence already checked) to its ledger. */
  applyEntry(ledger: ModelLedger, entry: Entry): void {
    ledger.balance += entry.amount;
    ledger.entries.push({
      id: entry.id,
      sequence: entry.sequence,
      operation: entry.operation,
      amount: entry.amount,
      balanceAfter: entry.balanceAfter,
    });
  }

  /** How many of `count` concurrent debits of `magnitude` the floor admits. */
  admittedDebits(ledger: ModelLedger, count: number, magnitude: bigint): number {
    if (ledger.terminated) {
      return 0;
    }
    // An unbounded ledger's only floor is the int64 range itself.
    const room = ledger.balance - (ledger.floor ?? INT64_MIN);
    return room <= 0n ? 0 : Math.min(count, Number(room / magnitude));
  }

  /** The model's money, or (given the server's balances) the server's: see `moneyBalance`. */
  moneyBalance(
    balanceOf: (ledger: ModelLedger) => bigint = (l) => l.balance,
  ): ReturnType<typeof moneyBalance> {
    return moneyBalance(this.ledgers, balanceOf, this.transactions);
  }
}
