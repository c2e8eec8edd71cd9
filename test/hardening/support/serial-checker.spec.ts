/**
 * The serial checker on hand-made rounds (no server): what it must reject
 * about transfers and holds, and the same rounds made consistent, which it
 * must accept. Proves its cross-ledger parts are not vacuous: two ledgers
 * that order two transfers in opposite ways, and a refusal whose only
 * explanation is a point no global order passes through. And its hold
 * parts: two posts (or a post and a void) of one hold both succeeding, a
 * debit and a hold that only fit one without the other, a refusal or a
 * read only a hold that does not exist would explain, a termination that
 * leaves a hold open.
 */
import { describe, expect, it } from "vitest";
import {
  type Entry,
  ERROR_DOMAIN,
  type Ledger,
  type LedgerApi,
  RpcFailure,
  type Transaction,
} from "../../support/clients.js";
import {
  type Call,
  type LedgerState,
  type TxState,
  World,
  type WriteRequest,
} from "./serial-checker.js";

const API = { name: "grpc-js" } as LedgerApi;
const AT = new Date("2026-01-01T00:00:00Z");

function ledger(name: string, balance: bigint): LedgerState {
  return {
    id: `ledger-${name}`,
    name,
    app: "app",
    unit: "CREDITS",
    floor: 0n,
    balance,
    terminated: false,
    terminatedAt: undefined,
    history: [],
  };
}

/** A world whose ledgers start the round at version 0 with these balances. */
function world(...ledgers: LedgerState[]): World {
  const w = new World();
  w.ledgers.push(...ledgers);
  return w;
}

function transferRequest(
  from: LedgerState,
  to: LedgerState,
  amount: bigint,
  key: string,
): WriteRequest {
  const params = {
    fromLedgerId: from.id,
    toLedgerId: to.id,
    amount,
    idempotencyKey: key,
    reference: key,
  };
  return { method: "Transfer", ledger: from, to, params, tag: key };
}

function entry(
  txId: string,
  on: LedgerState,
  sequence: bigint,
  amount: bigint,
  balanceAfter: bigint,
  tag: string,
): Entry {
  return {
    id: `${txId}-${on.name}`,
    transactionId: txId,
    ledgerId: on.id,
    sequence,
    operation: "TRANSFER",
    amount,
    balanceAfter,
    occurredAt: AT,
    createdAt: AT,
    description: "",
    reference: tag,
    metadata: {},
    externalTransactionId: "",
    reversesTransactionId: "",
  };
}

/**
 * A fresh transfer of `amount` from `from` to `to`: its debit at
 * `sequences[0]` on `from` taking the balance to `balances[0]`, its credit
 * at `sequences[1]` on `to` taking it to `balances[1]`.
 */
function madeTransfer(
  no: number,
  from: LedgerState,
  to: LedgerState,
  amount: bigint,
  sequences: [bigint, bigint],
  balances: [bigint, bigint],
): Call {
  const key = `k${no}`;
  const id = `tx${no}`;
  const value: Transaction = {
    id,
    kind: "TRANSFER",
    entries: [
      entry(id, from, sequences[0], -amount, balances[0], key),
      entry(id, to, sequences[1], amount, balances[1], key),
    ],
    reversesTransactionId: "",
    amount,
    reversedAmount: 0n,
    createdAt: AT,
    reversalIds: [],
    externalTransactionId: "",
    state: "POSTED",
    pendingExpiresAt: undefined,
    heldAmount: 0n,
    pendingEntries: [],
    history: [],
  };
  const request = transferRequest(from, to, amount, key);
  return { t: "write", no, api: API, key, request, outcome: { value, replayed: false } };
}

function refusedTransfer(
  no: number,
  from: LedgerState,
  to: LedgerState,
  amount: bigint,
  reason: string,
  named: LedgerState,
): Call {
  const key = `k${no}`;
  const outcome = new RpcFailure("grpc-js", "FAILED_PRECONDITION", reason, reason, ERROR_DOMAIN, {
    ledger_id: named.id,
  });
  return {
    t: "write",
    no,
    api: API,
    key,
    request: transferRequest(from, to, amount, key),
    outcome,
  };
}

function terminated(no: number, of: LedgerState, version: bigint, balance: bigint): Call {
  const outcome = {
    id: of.id,
    status: "TERMINATED",
    version,
    balance,
    terminatedAt: AT,
    pendingDebits: 0n,
    pendingCredits: 0n,
    available: balance,
  } as Ledger;
  return { t: "terminate", no, api: API, ledger: of, outcome };
}

describe("the serial checker, on transfers", () => {
  it("rejects two transfers that two ledgers order in opposite ways (no global order), accepts them ordered alike", () => {
    const crossed = [ledger("A", 20n), ledger("B", 20n)] as const;
    const [a, b] = crossed;
    const { violations } = world(...crossed).checkRound(1, [
      madeTransfer(1, a, b, 5n, [1n, 2n], [15n, 20n]),
      madeTransfer(2, b, a, 5n, [1n, 2n], [15n, 20n]),
    ]);
    expect(violations).toHaveLength(1);
    expect(violations[0]).toContain("cycle");

    const alike = [ledger("A", 20n), ledger("B", 20n)] as const;
    const [c, d] = alike;
    const ordered = world(...alike).checkRound(1, [
      madeTransfer(1, c, d, 5n, [1n, 1n], [15n, 25n]),
      madeTransfer(2, d, c, 5n, [2n, 2n], [20n, 20n]),
    ]);
    expect(ordered.violations).toEqual([]);
  });

  it("rejects a refusal only a point no global order passes through explains", () => {
    // B pays A 10, then A is terminated. A transfer of 15 from B to A refused
    // LEDGER_TERMINATED needs B before the payment (20 left, enough) and A
    // after it (terminated): each ledger has such a position, but not at once.
    const explain = (amount: bigint): string[] => {
      const [a, b] = [ledger("A", 0n), ledger("B", 20n)];
      return world(a, b).checkRound(1, [
        madeTransfer(1, b, a, 10n, [1n, 1n], [10n, 10n]),
        terminated(2, a, 1n, 10n),
        refusedTransfer(3, b, a, amount, "LEDGER_TERMINATED", a),
      ]).violations;
    };
    const violations = explain(15n);
    expect(violations).toHaveLength(1);
    expect(violations[0]).toContain("no point refuses it with LEDGER_TERMINATED");
    // 5 fits B after the payment too, where A is terminated: explained.
    expect(explain(5n)).toEqual([]);
  });

  it("rejects INSUFFICIENT_FUNDS naming the destination, or where the source had enough all along", () => {
    const refusal = (amount: bigint, named: "source" | "destination"): string[] => {
      const [a, b] = [ledger("A", 20n), ledger("B", 0n)];
      const call = refusedTransfer(
        1,
        a,
        b,
        amount,
        "INSUFFICIENT_FUNDS",
        named === "source" ? a : b,
      );
      return world(a, b).checkRound(1, [call]).violations;
    };
    expect(refusal(21n, "source")).toEqual([]);
    expect(refusal(21n, "destination")).toHaveLength(1);
    expect(refusal(20n, "source")).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------
// Holds
// ---------------------------------------------------------------------------

const HOUR_AHEAD = new Date(AT.getTime() + 60 * 60 * 1000);

/** A debit hold of `amount` on `on`, made in an earlier round (so in the world), still open. */
function openHold(w: World, id: string, on: LedgerState, amount: bigint): TxState {
  const tx: TxState = {
    id,
    kind: "ENTRY",
    magnitude: amount,
    legs: [],
    singleSided: true,
    reversed: 0n,
    hold: {
      pendingLegs: [{ ledger: on, amount: -amount }],
      held: amount,
      expiresAt: HOUR_AHEAD,
      state: "PENDING",
    },
  };
  w.transactions.push(tx);
  return tx;
}

function holdTransaction(id: string, on: LedgerState, amount: bigint, tag: string): Transaction {
  return {
    id,
    kind: "ENTRY",
    entries: [],
    reversesTransactionId: "",
    amount,
    reversedAmount: 0n,
    createdAt: AT,
    reversalIds: [],
    externalTransactionId: "",
    state: "PENDING",
    pendingExpiresAt: HOUR_AHEAD,
    heldAmount: amount,
    pendingEntries: [
      {
        ledgerId: on.id,
        operation: "CREDIT_SPEND",
        amount: -amount,
        occurredAt: AT,
        description: "",
        reference: tag,
        metadata: {},
      },
    ],
    history: [{ state: "PENDING", at: AT, amount }],
  };
}

function spend(on: LedgerState, amount: bigint, key: string, pending: boolean): WriteRequest {
  const params = {
    ledgerId: on.id,
    operation: "CREDIT_SPEND",
    amount: -amount,
    idempotencyKey: key,
    reference: key,
    ...(pending ? { pending: true, pendingExpiresAt: HOUR_AHEAD } : {}),
  };
  return { method: "RecordEntry", ledger: on, params, tag: key };
}

/** A fresh hold of a debit of `amount` on `on`, made this round. */
function madeHold(no: number, on: LedgerState, amount: bigint): Call {
  const key = `k${no}`;
  const value = holdTransaction(`hold${no}`, on, amount, key);
  const request = spend(on, amount, key, true);
  return { t: "write", no, api: API, key, request, outcome: { value, replayed: false } };
}

/** A fresh spend of `amount` on `on`, at `sequence`, taking the balance to `balanceAfter`. */
function madeSpend(
  no: number,
  on: LedgerState,
  amount: bigint,
  sequence: bigint,
  balanceAfter: bigint,
): Call {
  const key = `k${no}`;
  const value: Entry = {
    ...entry(`tx${no}`, on, sequence, -amount, balanceAfter, key),
    operation: "CREDIT_SPEND",
  };
  const request = spend(on, amount, key, false);
  return { t: "write", no, api: API, key, request, outcome: { value, replayed: false } };
}

/** A fresh post of all of `tx` (a debit hold on `on`), its entry at `sequence`. */
function madePost(
  no: number,
  tx: TxState,
  on: LedgerState,
  sequence: bigint,
  balanceAfter: bigint,
): Call {
  const key = `k${no}`;
  const held = tx.hold?.held ?? 0n;
  const value: Transaction = {
    ...holdTransaction(tx.id, on, held, ""),
    state: "POSTED",
    entries: [
      {
        ...entry(tx.id, on, sequence, -held, balanceAfter, ""),
        id: `${tx.id}-post${no}`,
        operation: "CREDIT_SPEND",
      },
    ],
    history: [
      { state: "PENDING", at: AT, amount: held },
      { state: "POSTED", at: AT, amount: held },
    ],
  };
  const request: WriteRequest = {
    method: "PostPendingTransaction",
    ledger: on,
    tx,
    params: { transactionId: tx.id, idempotencyKey: key },
    tag: key,
  };
  return { t: "write", no, api: API, key, request, outcome: { value, replayed: false } };
}

function voidRequest(tx: TxState, on: LedgerState, key: string): WriteRequest {
  const params = { transactionId: tx.id, idempotencyKey: key };
  return { method: "VoidPendingTransaction", ledger: on, tx, params, tag: key };
}

/** A fresh void of `tx` (a debit hold on `on`). */
function madeVoid(no: number, tx: TxState, on: LedgerState): Call {
  const key = `k${no}`;
  const held = tx.hold?.held ?? 0n;
  const value: Transaction = {
    ...holdTransaction(tx.id, on, held, ""),
    state: "VOIDED",
    history: [
      { state: "PENDING", at: AT, amount: held },
      { state: "VOIDED", at: AT, amount: held },
    ],
  };
  const request = voidRequest(tx, on, key);
  return { t: "write", no, api: API, key, request, outcome: { value, replayed: false } };
}

function refused(no: number, request: WriteRequest, reason: string, named?: LedgerState): Call {
  const metadata: Record<string, string> = named === undefined ? {} : { ledger_id: named.id };
  const outcome = new RpcFailure(
    "grpc-js",
    "FAILED_PRECONDITION",
    reason,
    reason,
    ERROR_DOMAIN,
    metadata,
  );
  return { t: "write", no, api: API, key: `k${no}`, request, outcome };
}

function read(no: number, of: LedgerState, balance: bigint, pendingDebits: bigint): Call {
  const outcome: Ledger = {
    id: of.id,
    app: of.app,
    ownerId: "",
    unit: of.unit,
    description: "",
    reference: "",
    metadata: {},
    status: "ACTIVE",
    balance,
    minBalance: of.floor,
    version: 0n,
    createdAt: AT,
    terminatedAt: undefined,
    unbounded: false,
    pendingDebits,
    pendingCredits: 0n,
    available: balance - pendingDebits,
  };
  return { t: "getLedger", no, api: API, ledger: of, outcome };
}

describe("the serial checker, on holds", () => {
  it("rejects two posts of one hold both succeeding, accepts one post and one HOLD_NOT_PENDING", () => {
    const twice = (second: "post" | "refused"): string[] => {
      const a = ledger("A", 20n);
      const w = world(a);
      const hold = openHold(w, "h1", a, 10n);
      return w.checkRound(
        1,
        [
          madePost(1, hold, a, 1n, 10n),
          second === "post"
            ? madePost(2, hold, a, 2n, 0n)
            : refused(2, madePostRequest(hold, a, "k2"), "HOLD_NOT_PENDING"),
        ],
        AT,
      ).violations;
    };
    const violations = twice("post");
    expect(violations.some((v) => v.includes("a second resolution of hold h1"))).toBe(true);
    expect(twice("refused")).toEqual([]);
  });

  it("rejects a post and a void of one hold both succeeding, accepts the void alone winning", () => {
    const race = (post: "fresh" | "refused"): string[] => {
      const a = ledger("A", 20n);
      const w = world(a);
      const hold = openHold(w, "h1", a, 10n);
      return w.checkRound(
        1,
        [
          post === "fresh"
            ? madePost(1, hold, a, 1n, 10n)
            : refused(1, madePostRequest(hold, a, "k1"), "HOLD_NOT_PENDING"),
          madeVoid(2, hold, a),
        ],
        AT,
      ).violations;
    };
    expect(race("fresh").some((v) => v.includes("a second resolution of hold h1"))).toBe(true);
    expect(race("refused")).toEqual([]);
  });

  it("rejects a post of a hold an earlier round voided", () => {
    const a = ledger("A", 20n);
    const w = world(a);
    const hold = openHold(w, "h1", a, 10n);
    expect(w.checkRound(1, [madeVoid(1, hold, a)], AT).violations).toEqual([]);
    const { violations } = w.checkRound(2, [madePost(2, hold, a, 1n, 10n)], AT);
    expect(violations.some((v) => v.includes("VOIDED in an earlier round"))).toBe(true);
  });

  it("rejects a hold and a spend that only fit one without the other, accepts them when both fit", () => {
    const both = (held: bigint): string[] => {
      const a = ledger("A", 20n);
      return world(a).checkRound(1, [madeHold(1, a, held), madeSpend(2, a, 10n, 1n, 10n)], AT)
        .violations;
    };
    const violations = both(15n);
    expect(violations).toHaveLength(1);
    expect(violations[0]).toContain("the request answers INSUFFICIENT_FUNDS");
    expect(both(10n)).toEqual([]);
  });

  it("rejects a spend that fits only if an open hold reserved nothing", () => {
    const a = ledger("A", 20n);
    const w = world(a);
    openHold(w, "h1", a, 15n);
    const { violations } = w.checkRound(1, [madeSpend(1, a, 10n, 1n, 10n)], AT);
    expect(violations).toHaveLength(1);
    expect(violations[0]).toContain("INSUFFICIENT_FUNDS");
  });

  it("accepts INSUFFICIENT_FUNDS that a hold of the round explains, rejects it without the hold", () => {
    const refusal = (withHold: boolean): string[] => {
      const a = ledger("A", 20n);
      const calls = [refused(2, spend(a, 10n, "k2", false), "INSUFFICIENT_FUNDS", a)];
      return world(a).checkRound(1, withHold ? [madeHold(1, a, 15n), ...calls] : calls, AT)
        .violations;
    };
    expect(refusal(true)).toEqual([]);
    const violations = refusal(false);
    expect(violations).toHaveLength(1);
    expect(violations[0]).toContain("no point refuses it with INSUFFICIENT_FUNDS");
  });

  it("rejects HOLD_NOT_PENDING of an open hold nothing resolved", () => {
    const a = ledger("A", 20n);
    const w = world(a);
    const hold = openHold(w, "h1", a, 10n);
    const { violations } = w.checkRound(
      1,
      [refused(1, madePostRequest(hold, a, "k1"), "HOLD_NOT_PENDING")],
      AT,
    );
    expect(violations).toHaveLength(1);
    expect(violations[0]).toContain("no point refuses it with HOLD_NOT_PENDING");
  });

  it("rejects a read of pending debits no placement of the round's holds and voids gives", () => {
    const pendingRead = (shown: bigint): string[] => {
      const a = ledger("A", 40n);
      const w = world(a);
      const hold = openHold(w, "h1", a, 10n);
      return w.checkRound(1, [madeHold(1, a, 5n), madeVoid(2, hold, a), read(3, a, 40n, shown)], AT)
        .violations;
    };
    for (const shown of [0n, 5n, 10n, 15n]) {
      expect(pendingRead(shown), `pending ${shown}`).toEqual([]);
    }
    expect(pendingRead(7n)).toHaveLength(1);
    expect(pendingRead(20n)).toHaveLength(1);
  });

  it("rejects a termination that leaves a hold open, accepts LEDGER_HAS_PENDING_TRANSACTIONS", () => {
    const terminate = (outcome: "terminated" | "refused"): string[] => {
      const a = ledger("A", 20n);
      const w = world(a);
      openHold(w, "h1", a, 10n);
      const call: Call =
        outcome === "terminated"
          ? terminated(1, a, 0n, 20n)
          : {
              t: "terminate",
              no: 1,
              api: API,
              ledger: a,
              outcome: new RpcFailure(
                "grpc-js",
                "FAILED_PRECONDITION",
                "open holds",
                "LEDGER_HAS_PENDING_TRANSACTIONS",
                ERROR_DOMAIN,
                { ledger_id: a.id },
              ),
            };
      return w.checkRound(1, [call], AT).violations;
    };
    const violations = terminate("terminated");
    expect(violations.some((v) => v.includes("terminated with holds open on it"))).toBe(true);
    expect(terminate("refused")).toEqual([]);
  });
});

function madePostRequest(tx: TxState, on: LedgerState, key: string): WriteRequest {
  return {
    method: "PostPendingTransaction",
    ledger: on,
    tx,
    params: { transactionId: tx.id, idempotencyKey: key },
    tag: key,
  };
}
