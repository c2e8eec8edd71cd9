/**
 * A small in-memory reference of the ledger's rules, written from the
 * contract (proto/ledger/v1/ledger.proto) and not from the implementation:
 * idempotency keys scoped per app (a replay returns the first reply, another
 * request under the key is IDEMPOTENCY_KEY_REUSED, a refused write leaves no
 * key behind), one active ledger per (app, owner, unit), default amounts and
 * directions, floors, int64 overflow, partial reversals, termination.
 *
 * It predicts each call's outcome; the spec then applies the real reply.
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
  UNKNOWN_OPERATION: "INVALID_ARGUMENT",
  AMOUNT_DIRECTION_MISMATCH: "INVALID_ARGUMENT",
  BALANCE_OVERFLOW: "OUT_OF_RANGE",
};

export interface ModelEntry {
  readonly id: string;
  readonly sequence: bigint;
  readonly operation: string;
  readonly amount: bigint;
  readonly balanceAfter: bigint;
}

export interface ModelLedger {
  readonly id: string;
  readonly app: string;
  readonly ownerId: string;
  readonly unit: string;
  /** undefined: unbounded. */
  readonly floor: bigint | undefined;
  balance: bigint;
  terminated: boolean;
  readonly entries: ModelEntry[];
}

export interface ModelTransaction {
  readonly id: string;
  readonly ledger: ModelLedger;
  readonly kind: "ENTRY" | "REVERSAL";
  /** Magnitude. */
  readonly amount: bigint;
  /** The signed amount of its one entry. */
  readonly entryAmount: bigint;
  reversed: bigint;
}

export type Method = "CreateLedger" | "RecordEntry" | "ReverseTransaction";
export type Reply = Ledger | Entry | Transaction;

interface StoredKey {
  readonly method: Method;
  readonly fingerprint: string;
  readonly reply: Reply;
}

export type Prediction =
  | { readonly kind: "fresh"; readonly amount: bigint }
  | { readonly kind: "replay"; readonly reply: Reply }
  | { readonly kind: "refused"; readonly reason: string };

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
      ? { kind: "fresh", amount: 0n }
      : { kind: "refused", reason: "LEDGER_ALREADY_EXISTS" };
  }

  predictRecord(
    ledger: ModelLedger,
    operation: string,
    amount: bigint | undefined,
    key: string,
    params: object,
  ): Prediction {
    const known = this.checkKey(ledger.app, key, "RecordEntry", params);
    if (known !== undefined) {
      return known;
    }
    const policy = POLICIES[operation];
    if (policy === undefined) {
      return { kind: "refused", reason: "UNKNOWN_OPERATION" };
    }
    const resolved = amount ?? policy.default;
    if (resolved === 0n || (resolved > 0n ? 1n : -1n) !== policy.sign) {
      return { kind: "refused", reason: "AMOUNT_DIRECTION_MISMATCH" };
    }
    return posting(ledger, resolved);
  }

  predictReverse(
    tx: ModelTransaction,
    amount: bigint | undefined,
    key: string,
    params: object,
  ): Prediction {
    const known = this.checkKey(tx.ledger.app, key, "ReverseTransaction", params);
    if (known !== undefined) {
      return known;
    }
    if (tx.kind === "REVERSAL") {
      return { kind: "refused", reason: "TRANSACTION_NOT_REVERSIBLE" };
    }
    const remaining = tx.amount - tx.reversed;
    const magnitude = amount ?? remaining;
    if (magnitude <= 0n || magnitude > remaining) {
      return { kind: "refused", reason: "REVERSAL_EXCEEDS_TRANSACTION" };
    }
    return posting(tx.ledger, tx.entryAmount > 0n ? -magnitude : magnitude);
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
}

/** The outcome of posting `amount` to a ledger: terminated, overflow, floor, or accepted. */
function posting(ledger: ModelLedger, amount: bigint): Prediction {
  if (ledger.terminated) {
    return { kind: "refused", reason: "LEDGER_TERMINATED" };
  }
  const after = ledger.balance + amount;
  if (after > INT64_MAX || after < INT64_MIN) {
    return { kind: "refused", reason: "BALANCE_OVERFLOW" };
  }
  if (amount < 0n && ledger.floor !== undefined && after < ledger.floor) {
    return { kind: "refused", reason: "INSUFFICIENT_FUNDS" };
  }
  return { kind: "fresh", amount };
}
