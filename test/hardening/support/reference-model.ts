/**
 * A small in-memory reference of the ledger's rules, written from the
 * contract (proto/ledger/v1/ledger.proto) and not from the implementation:
 * idempotency keys scoped per app (a replay returns the first reply, another
 * request under the key is IDEMPOTENCY_KEY_REUSED, a refused write leaves no
 * key behind), one active ledger per (app, owner, unit), default amounts and
 * directions, floors, int64 overflow, transfers between two ledgers of one
 * app and unit, partial reversals of entries and transfers, termination.
 *
 * Holds (pending transactions, issue 11): a RecordEntry or Transfer with
 * `pending` reserves its legs instead of posting them (`reserveRule`: a held
 * debit counts against the floor at once, available = balance - pending
 * debits; a held credit is not spendable); `postPendingRule` posts all or
 * part of it (its legs scaled, against the ledgers with its own reservation
 * released), `voidRule` releases it. Post or void of anything but an open
 * hold: HOLD_NOT_PENDING; of a hold past its deadline: HOLD_EXPIRED (a
 * lapsed hold reserves nothing any more); more than held:
 * HOLD_AMOUNT_EXCEEDED. Only a POSTED hold can be reversed (up to what was
 * posted). A ledger with open holds is terminated only with void_pending.
 * Time enters only through `now`: a hold is lapsed when its deadline is at
 * or before it, and the specs only ask at instants well away from any
 * deadline.
 *
 * Time (issue 14): a ledger's history is ordered by created_at, then
 * sequence, and balance_after is the running balance in that order
 * (`historyOf`). A backdated RecordEntry lands after every entry created at
 * or before its instant; every later entry moves by its amount
 * (`backdateRule`: how many, or the first entry, the new one included, whose
 * running balance would break the floor or int64); then the ledger's
 * current balance is checked as for any write. `balanceAt` and `pendingAt`
 * answer GetBalance as_of an instant (a hold is open at it when created at
 * or before it, not resolved at or before it, its deadline after it). A
 * replay answers its entries as they stand now (`asNow`).
 *
 * The rules of one write are pure functions (`recordRule`, `transferRule`,
 * `reversalRule`, `holdRuling`, `postPendingRule`, `voidRule`, then
 * `postRule` or `reserveRule` leg by leg), so the concurrent checker
 * (serial-checker.ts) applies the very same rules at the positions it tries.
 * The model predicts each call's outcome; the spec then applies the real reply.
 */
import type { Entry, Ledger, Transaction } from "../../support/clients.js";
import { INT64_MAX, INT64_MIN } from "../../support/fixtures.js";

/**
 * Every app has these (proto/ledger/v1/operations.proto, SHARED_OPERATIONS);
 * a fixed one accepts its default only (a transfer under it: |default|).
 */
export const POLICIES: Readonly<
  Record<string, { readonly sign: 1n | -1n; readonly default: bigint; readonly fixed: boolean }>
> = {
  DAILY_REWARD: { sign: 1n, default: 1n, fixed: true },
  SIGNUP_CREDIT: { sign: 1n, default: 3n, fixed: true },
  CREDIT_ADD: { sign: 1n, default: 10n, fixed: false },
  CREDIT_SPEND: { sign: -1n, default: -1n, fixed: false },
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
  AMOUNT_NOT_ALLOWED: "INVALID_ARGUMENT",
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  APP_MISMATCH: "INVALID_ARGUMENT",
  UNIT_MISMATCH: "INVALID_ARGUMENT",
  BALANCE_OVERFLOW: "OUT_OF_RANGE",
  HOLD_NOT_PENDING: "FAILED_PRECONDITION",
  HOLD_EXPIRED: "FAILED_PRECONDITION",
  HOLD_AMOUNT_EXCEEDED: "FAILED_PRECONDITION",
  LEDGER_HAS_PENDING_TRANSACTIONS: "FAILED_PRECONDITION",
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
  /** What open holds reserve on it: available = balance - pendingDebits. */
  readonly pendingDebits: bigint;
}

/** One signed amount posted to one ledger. */
export interface Leg<L extends RuleLedger> {
  readonly ledger: L;
  readonly amount: bigint;
}

/** A hold's state as stored: EXPIRED is PENDING past the deadline (`holdStateAt`). */
export type HoldState = "PENDING" | "POSTED" | "VOIDED" | "EXPIRED";

/** What makes a transaction a hold. */
export interface Hold<L extends RuleLedger> {
  /** Its legs as held (signed), in posting order. */
  readonly pendingLegs: readonly Leg<L>[];
  /** The magnitude it reserved when created. */
  readonly held: bigint;
  readonly expiresAt: Date;
  /** PENDING until posted or voided (expiry is read from the clock). */
  state: "PENDING" | "POSTED" | "VOIDED";
  /** When the server made it (the model's as_of reads need it). */
  readonly createdAt?: Date | undefined;
  /** When it was posted or voided, as the server answered. */
  resolvedAt?: Date | undefined;
}

/** A written transaction, as reversals, posts and voids need it. */
export interface Tx<L extends RuleLedger> {
  readonly id: string;
  readonly kind: "ENTRY" | "TRANSFER" | "REVERSAL";
  /** Its amount: for a hold, what it holds until posted, then what was posted. */
  magnitude: bigint;
  /** Its entries in posting order: one, or a transfer's debit then credit (a hold: none until posted). */
  legs: readonly Leg<L>[];
  /**
   * True when it created or destroyed money (RecordEntry, and the reversal
   * of one); false when it moved money between ledgers (a transfer and its
   * reversals).
   */
  readonly singleSided: boolean;
  /** Reversed so far (as of the last accepted write). */
  reversed: bigint;
  /** Set for a hold. */
  readonly hold?: Hold<L>;
}

/** A transaction's state at `now`: POSTED for ordinary writes; a pending hold past its deadline is EXPIRED. */
export function holdStateAt<L extends RuleLedger>(tx: Tx<L>, now: Date): HoldState {
  const { hold } = tx;
  if (hold === undefined) {
    return "POSTED";
  }
  return hold.state === "PENDING" && lapsed(hold, now) ? "EXPIRED" : hold.state;
}

/** A hold is past its deadline from that instant on. */
export function lapsed<L extends RuleLedger>(hold: Hold<L>, now: Date): boolean {
  return hold.expiresAt.getTime() <= now.getTime();
}

/** True while a hold reserves: PENDING and not past its deadline. */
export function isOpen<L extends RuleLedger>(tx: Tx<L>, now: Date): boolean {
  return holdStateAt(tx, now) === "PENDING";
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

/** RecordEntry: UNKNOWN_OPERATION, AMOUNT_DIRECTION_MISMATCH, AMOUNT_NOT_ALLOWED, else one leg. */
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
  if (policy.fixed && resolved !== policy.default) {
    return refuse("AMOUNT_NOT_ALLOWED");
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
 * APP_MISMATCH, UNIT_MISMATCH, UNKNOWN_OPERATION, AMOUNT_NOT_ALLOWED (a
 * fixed operation moves |default| only), else the debit of `from` then the
 * credit of `to`.
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
  const named = transferOperation(operation);
  if (named === undefined) {
    return refuse("UNKNOWN_OPERATION");
  }
  const policy = POLICIES[named];
  if (policy?.fixed === true && amount !== policy.sign * policy.default) {
    return refuse("AMOUNT_NOT_ALLOWED");
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
 * TRANSACTION_NOT_REVERSIBLE (a reversal, or a hold not POSTED),
 * REVERSAL_EXCEEDS_TRANSACTION, else one compensating leg per leg of the
 * original, in its order.
 */
export function reversalRule<L extends RuleLedger>(
  tx: Tx<L>,
  amount: bigint | undefined,
  remaining: bigint,
): Ruling<L> {
  if (tx.kind === "REVERSAL" || (tx.hold !== undefined && tx.hold.state !== "POSTED")) {
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
 * then int64 overflow, then the floor (debits only: what open holds
 * reserve counts against it), naming the ledger.
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
    // The balance, and (a debit) what remains available, stay int64.
    if (after > INT64_MAX || after < INT64_MIN || after - state.pendingDebits < INT64_MIN) {
      return refuse("BALANCE_OVERFLOW", ledger.id);
    }
    if (amount < 0n && ledger.floor !== undefined && after - state.pendingDebits < ledger.floor) {
      return refuse("INSUFFICIENT_FUNDS", ledger.id);
    }
  }
  return { ok: true, legs };
}

/**
 * Holds the legs in order instead of posting them: terminated, then (a
 * debit) available - amount beyond int64 (BALANCE_OVERFLOW) or below the
 * floor, naming the ledger. The balance does not move; pending totals are
 * kept far from int64's range by the specs.
 */
export function reserveRule<L extends RuleLedger>(
  legs: readonly Leg<L>[],
  stateOf: (ledger: L) => PostingState,
): Ruling<L> {
  for (const { ledger, amount } of legs) {
    const state = stateOf(ledger);
    if (state.terminated) {
      return refuse("LEDGER_TERMINATED", ledger.id);
    }
    if (amount < 0n && state.balance - state.pendingDebits + amount < INT64_MIN) {
      return refuse("BALANCE_OVERFLOW", ledger.id);
    }
    if (
      amount < 0n &&
      ledger.floor !== undefined &&
      state.balance - state.pendingDebits + amount < ledger.floor
    ) {
      return refuse("INSUFFICIENT_FUNDS", ledger.id);
    }
  }
  return { ok: true, legs };
}

/**
 * A RecordEntry or Transfer with `pending`: the write's own refusals
 * (`ruling` from recordRule or transferRule), else its legs reserved.
 */
export function holdRuling<L extends RuleLedger>(
  ruling: Ruling<L>,
  stateOf: (ledger: L) => PostingState,
): Ruling<L> {
  return ruling.ok ? reserveRule(ruling.legs, stateOf) : ruling;
}

/**
 * Post or void of a transaction in `state` (POSTED for an ordinary write):
 * HOLD_EXPIRED past its deadline, HOLD_NOT_PENDING unless PENDING, else
 * undefined.
 */
export function resolvableRule(state: HoldState): { ok: false; reason: string } | undefined {
  if (state === "EXPIRED") {
    return refuse("HOLD_EXPIRED");
  }
  return state === "PENDING" ? undefined : refuse("HOLD_NOT_PENDING");
}

/**
 * PostPendingTransaction of `tx` (the request is valid: `amount` absent or
 * positive) while it is in `state`, with `stateOf` giving each ledger with
 * the hold's own reservation already released: HOLD_NOT_PENDING,
 * HOLD_EXPIRED, HOLD_AMOUNT_EXCEEDED, else its legs scaled to the amount,
 * posted.
 */
export function postPendingRule<L extends RuleLedger>(
  tx: Tx<L>,
  state: HoldState,
  amount: bigint | undefined,
  stateOf: (ledger: L) => PostingState,
): Ruling<L> {
  const refused = resolvableRule(state);
  if (refused !== undefined) {
    return refused;
  }
  const hold = tx.hold as Hold<L>;
  const magnitude = amount ?? hold.held;
  if (magnitude > hold.held) {
    return refuse("HOLD_AMOUNT_EXCEEDED");
  }
  return postRule(postedLegs(hold, magnitude), stateOf);
}

/** A hold's legs as a post of `magnitude` writes them: each leg's sign times the amount. */
export function postedLegs<L extends RuleLedger>(hold: Hold<L>, magnitude: bigint): Leg<L>[] {
  return hold.pendingLegs.map((leg) => ({
    ledger: leg.ledger,
    amount: leg.amount < 0n ? -magnitude : magnitude,
  }));
}

/** VoidPendingTransaction of a transaction in `state`: HOLD_NOT_PENDING, HOLD_EXPIRED, else nothing to post. */
export function voidRule<L extends RuleLedger>(state: HoldState): Ruling<L> {
  return resolvableRule(state) ?? { ok: true, legs: [] };
}

/** The pending debits of `state` with `tx`'s own reservation on `ledger` released (what its post sees). */
export function releasing<L extends RuleLedger>(
  state: PostingState,
  tx: Tx<L>,
  ledger: L,
): PostingState {
  let pendingDebits = state.pendingDebits;
  for (const leg of tx.hold?.pendingLegs ?? []) {
    if (leg.ledger === ledger && leg.amount < 0n) {
      pendingDebits += leg.amount;
    }
  }
  return { ...state, pendingDebits };
}

/**
 * A hold open at an instant of history (GetBalance as_of): created at or
 * before it, not posted or voided at or before it, its deadline after it.
 */
export function isOpenAt<L extends RuleLedger>(tx: Tx<L>, at: Date): boolean {
  const { hold } = tx;
  if (hold === undefined || hold.createdAt === undefined) {
    return false;
  }
  const t = at.getTime();
  return (
    hold.createdAt.getTime() <= t &&
    (hold.state === "PENDING" ||
      (hold.resolvedAt !== undefined && hold.resolvedAt.getTime() > t)) &&
    hold.expiresAt.getTime() > t
  );
}

/** What open holds reserve on `ledger` (debits) and will credit it. */
export function pendingOf<L extends RuleLedger>(
  ledger: L,
  txs: Iterable<Tx<L>>,
  now: Date,
  open: (tx: Tx<L>, now: Date) => boolean = isOpen,
): { debits: bigint; credits: bigint } {
  let debits = 0n;
  let credits = 0n;
  for (const tx of txs) {
    if (tx.hold === undefined || !open(tx, now)) {
      continue;
    }
    for (const leg of tx.hold.pendingLegs) {
      if (leg.ledger === ledger) {
        if (leg.amount < 0n) {
          debits -= leg.amount;
        } else {
          credits += leg.amount;
        }
      }
    }
  }
  return { debits, credits };
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

/** An entry as the model holds it: its running balance is computed (`historyOf`), not stored. */
export interface ModelEntry {
  readonly id: string;
  readonly sequence: bigint;
  readonly operation: string;
  readonly amount: bigint;
  /** Its place in history: the server's stamp, or the instant it was backdated to. */
  readonly createdAt: Date;
}

/** An entry in history order with its running balance there. */
export interface HistoryEntry extends ModelEntry {
  readonly balanceAfter: bigint;
}

/** A ledger's entries in history order (created_at, then sequence), each with its running balance. */
export function historyOf(entries: readonly ModelEntry[]): HistoryEntry[] {
  const ordered = [...entries].sort(
    (a, b) =>
      a.createdAt.getTime() - b.createdAt.getTime() ||
      (a.sequence < b.sequence ? -1 : a.sequence > b.sequence ? 1 : 0),
  );
  let balance = 0n;
  return ordered.map((entry) => {
    balance += entry.amount;
    return { ...entry, balanceAfter: balance };
  });
}

/** The balance at an instant of history: the last entry created at or before it (0, version 0 before the first). */
export function balanceAt(
  entries: readonly ModelEntry[],
  at: Date,
): { balance: bigint; version: bigint } {
  const before = historyOf(entries).filter((e) => e.createdAt.getTime() <= at.getTime());
  const last = before.at(-1);
  return last === undefined
    ? { balance: 0n, version: 0n }
    : { balance: last.balanceAfter, version: last.sequence };
}

/**
 * A backdated entry of `amount` at `at` on `ledger` (its entries as they
 * are): it lands after every entry created at or before `at` (its sequence
 * is the newest), and every entry after it moves by its amount. Its own
 * running balance, then each later one in history order, must stay within
 * int64 (BALANCE_OVERFLOW) and, for a debit of a bounded ledger, at or
 * above the floor (INSUFFICIENT_FUNDS): the first that does not is named,
 * with its running balance before the backdate (`entryId` undefined: the
 * new entry itself). A credit never meets the floor.
 */
export type BackdateRuling =
  | { readonly ok: true; readonly balanceAfter: bigint; readonly recomputed: number }
  | {
      readonly ok: false;
      readonly reason: "INSUFFICIENT_FUNDS" | "BALANCE_OVERFLOW";
      readonly entryId: string | undefined;
      readonly sequence: bigint;
      readonly balance: bigint;
    };

export function backdateRule(ledger: ModelLedger, at: Date, amount: bigint): BackdateRuling {
  const history = historyOf(ledger.entries);
  const earlier = history.filter((e) => e.createdAt.getTime() <= at.getTime());
  const later = history.filter((e) => e.createdAt.getTime() > at.getTime());
  const base = earlier.at(-1)?.balanceAfter ?? 0n;
  const affected = [
    { entryId: undefined, sequence: BigInt(ledger.entries.length + 1), balance: base },
    ...later.map((e) => ({
      entryId: e.id as string | undefined,
      sequence: e.sequence,
      balance: e.balanceAfter,
    })),
  ];
  for (const step of affected) {
    const after = step.balance + amount;
    if (after > INT64_MAX || after < INT64_MIN) {
      return { ok: false, reason: "BALANCE_OVERFLOW", ...step };
    }
    if (amount < 0n && ledger.floor !== undefined && after < ledger.floor) {
      return { ok: false, reason: "INSUFFICIENT_FUNDS", ...step };
    }
  }
  return { ok: true, balanceAfter: base + amount, recomputed: later.length };
}

export interface ModelLedger extends RuleLedger {
  readonly ownerId: string;
  balance: bigint;
  terminated: boolean;
  readonly entries: ModelEntry[];
}

export type ModelTransaction = Tx<ModelLedger>;

export type Method =
  | "CreateLedger"
  | "RecordEntry"
  | "Transfer"
  | "ReverseTransaction"
  | "PostPendingTransaction"
  | "VoidPendingTransaction";
export type Reply = Ledger | Entry | Transaction;

interface StoredKey {
  readonly method: Method;
  readonly fingerprint: string;
  readonly reply: Reply;
}

export type Prediction =
  | { readonly kind: "fresh"; readonly legs: readonly Leg<ModelLedger>[] }
  | { readonly kind: "replay"; readonly reply: Reply }
  | {
      readonly kind: "refused";
      readonly reason: string;
      readonly ledgerId?: string;
      /** A backdate refused by its recomputed history: the entry named (undefined id: the new one). */
      readonly entry?: {
        readonly id: string | undefined;
        readonly sequence: bigint;
        readonly balance: bigint;
      };
    };

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

/** A ruling as a prediction: refused, or fresh with its legs. */
function predictionOf(ruling: Ruling<ModelLedger>): Prediction {
  if (ruling.ok) {
    return { kind: "fresh", legs: ruling.legs };
  }
  const { reason, ledgerId } = ruling;
  return ledgerId === undefined
    ? { kind: "refused", reason }
    : { kind: "refused", reason, ledgerId };
}

/** The app a transaction belongs to: its first leg's (posted or held). */
export function appOf<L extends RuleLedger>(tx: Tx<L>): string {
  const [leg] = tx.legs.length > 0 ? tx.legs : (tx.hold?.pendingLegs ?? []);
  if (leg === undefined) {
    throw new Error(`transaction ${tx.id} has no legs`);
  }
  return leg.ledger.app;
}

export class ReferenceModel {
  readonly ledgers: ModelLedger[] = [];
  /** In the order they were written (a hold: when it was created). */
  readonly transactions: ModelTransaction[] = [];
  private readonly keys = new Map<string, StoredKey>();
  /**
   * The instant predictions are made at. The spec sets it as each step
   * starts; every hold's deadline is far from every such instant (an hour
   * ahead, or passed by a margin).
   */
  now = new Date();

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
    return { kind: "replay", reply: this.asNow(stored.reply) };
  }

  remember(app: string, key: string, method: Method, params: object, reply: Reply): void {
    this.keys.set(this.keyOf(app, key), { method, fingerprint: fingerprint(params), reply });
  }

  /** What open holds reserve on the ledger and will credit it, now. */
  pending(ledger: ModelLedger): { debits: bigint; credits: bigint } {
    return pendingOf(ledger, this.transactions, this.now);
  }

  /** What holds open at an instant of history reserved on the ledger and would credit it. */
  pendingAt(ledger: ModelLedger, at: Date): { debits: bigint; credits: bigint } {
    return pendingOf(ledger, this.transactions, at, isOpenAt);
  }

  /** A ledger as a posting sees it now (`without`: that hold's own reservation released). */
  stateOf(ledger: ModelLedger, without?: ModelTransaction): PostingState {
    const state = {
      balance: ledger.balance,
      terminated: ledger.terminated,
      pendingDebits: this.pending(ledger).debits,
    };
    return without === undefined ? state : releasing(state, without, ledger);
  }

  /** The ledger's open holds (PENDING, not past their deadline), oldest first. */
  openHolds(ledger: ModelLedger): ModelTransaction[] {
    return this.transactions.filter(
      (tx) =>
        tx.hold !== undefined &&
        isOpen(tx, this.now) &&
        tx.hold.pendingLegs.some((leg) => leg.ledger === ledger),
    );
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

  /** The legs posted (or, `pending`, held) against the ledgers as they are now. */
  private settle(ruling: Ruling<ModelLedger>, pending: boolean): Prediction {
    const state = (ledger: ModelLedger) => this.stateOf(ledger);
    return predictionOf(pending ? holdRuling(ruling, state) : postOrRefuse(ruling, state));
  }

  /** A RecordEntry; with `pending`, a hold whose legs the prediction holds. */
  predictRecord(
    ledger: ModelLedger,
    operation: string,
    amount: bigint | undefined,
    key: string,
    params: object,
    pending = false,
    backdatedTo?: Date,
  ): Prediction {
    const known = this.checkKey(ledger.app, key, "RecordEntry", params);
    if (known !== undefined) {
      return known;
    }
    const ruling = recordRule(ledger, operation, amount);
    if (backdatedTo === undefined || !ruling.ok || ledger.terminated) {
      return this.settle(ruling, pending);
    }
    const history = backdateRule(ledger, backdatedTo, (ruling.legs[0] as Leg<ModelLedger>).amount);
    if (!history.ok) {
      const { reason, entryId, sequence, balance } = history;
      return {
        kind: "refused",
        reason,
        ledgerId: ledger.id,
        entry: { id: entryId, sequence, balance },
      };
    }
    return this.settle(ruling, false);
  }

  /**
   * A stored reply as a replay answers it: its entries as they stand now
   * (a backdate since may have moved their balance_after).
   */
  asNow(reply: Reply): Reply {
    const now = (entry: Entry): Entry => {
      const ledger = this.ledgers.find((l) => l.id === entry.ledgerId);
      const shown =
        ledger === undefined ? undefined : historyOf(ledger.entries).find((e) => e.id === entry.id);
      return shown === undefined ? entry : { ...entry, balanceAfter: shown.balanceAfter };
    };
    if ("balanceAfter" in reply) {
      return now(reply);
    }
    if ("entries" in reply && "kind" in reply) {
      return { ...reply, entries: reply.entries.map(now) };
    }
    return reply;
  }

  /** The same ledger twice is refused as an invalid request, before its key is looked at. */
  predictTransfer(
    from: ModelLedger,
    to: ModelLedger,
    operation: string | undefined,
    amount: bigint,
    key: string,
    params: object,
    pending = false,
  ): Prediction {
    if (from === to) {
      return { kind: "refused", reason: "INVALID_ARGUMENT" };
    }
    return (
      this.checkKey(from.app, key, "Transfer", params) ??
      this.settle(transferRule(from, to, operation, amount), pending)
    );
  }

  predictReverse(
    tx: ModelTransaction,
    amount: bigint | undefined,
    key: string,
    params: object,
  ): Prediction {
    return (
      this.checkKey(appOf(tx), key, "ReverseTransaction", params) ??
      this.settle(reversalRule(tx, amount, tx.magnitude - tx.reversed), false)
    );
  }

  /** PostPendingTransaction of `tx` (any transaction): the legs it posts. */
  predictPost(
    tx: ModelTransaction,
    amount: bigint | undefined,
    key: string,
    params: object,
  ): Prediction {
    return (
      this.checkKey(appOf(tx), key, "PostPendingTransaction", params) ??
      predictionOf(
        postPendingRule(tx, holdStateAt(tx, this.now), amount, (ledger) =>
          this.stateOf(ledger, tx),
        ),
      )
    );
  }

  /** VoidPendingTransaction of `tx` (any transaction): no legs. */
  predictVoid(tx: ModelTransaction, key: string, params: object): Prediction {
    return (
      this.checkKey(appOf(tx), key, "VoidPendingTransaction", params) ??
      predictionOf(voidRule(holdStateAt(tx, this.now)))
    );
  }

  /** TerminateLedger: LEDGER_HAS_PENDING_TRANSACTIONS while open holds touch it, unless they are voided. */
  predictTerminate(ledger: ModelLedger, voidPending: boolean): Prediction {
    if (!ledger.terminated && !voidPending && this.openHolds(ledger).length > 0) {
      return { kind: "refused", reason: "LEDGER_HAS_PENDING_TRANSACTIONS" };
    }
    return { kind: "fresh", legs: [] };
  }

  /** Applies an accepted entry (its sequence and place already checked) to its ledger. */
  applyEntry(ledger: ModelLedger, entry: Entry): void {
    if (entry.createdAt === undefined) {
      throw new Error(`entry ${entry.id} has no created_at`);
    }
    ledger.balance += entry.amount;
    ledger.entries.push({
      id: entry.id,
      sequence: entry.sequence,
      operation: entry.operation,
      amount: entry.amount,
      createdAt: entry.createdAt,
    });
  }

  /** The latest instant of the ledger's history (undefined: no entry yet). */
  historyAt(ledger: ModelLedger): Date | undefined {
    let latest: Date | undefined;
    for (const { createdAt } of ledger.entries) {
      if (latest === undefined || createdAt.getTime() > latest.getTime()) {
        latest = createdAt;
      }
    }
    return latest;
  }

  /** How many of `count` concurrent debits of `magnitude` the floor admits (what holds reserve counted). */
  admittedDebits(ledger: ModelLedger, count: number, magnitude: bigint): number {
    if (ledger.terminated) {
      return 0;
    }
    // An unbounded ledger's only floor is the int64 range itself (of what is available).
    const room = ledger.balance - this.pending(ledger).debits - (ledger.floor ?? INT64_MIN);
    return room <= 0n ? 0 : Math.min(count, Number(room / magnitude));
  }

  /** The model's money, or (given the server's balances) the server's: see `moneyBalance`. */
  moneyBalance(
    balanceOf: (ledger: ModelLedger) => bigint = (l) => l.balance,
  ): ReturnType<typeof moneyBalance> {
    return moneyBalance(this.ledgers, balanceOf, this.transactions);
  }
}

/** A write's ruling posted against the ledgers, or its refusal. */
export function postOrRefuse<L extends RuleLedger>(
  ruling: Ruling<L>,
  stateOf: (ledger: L) => PostingState,
): Ruling<L> {
  return ruling.ok ? postRule(ruling.legs, stateOf) : ruling;
}
