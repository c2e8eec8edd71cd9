/**
 * The serial checker on hand-made rounds (no server): what it must reject
 * about transfers, and the same rounds made consistent, which it must
 * accept. Proves its cross-ledger parts are not vacuous: two ledgers that
 * order two transfers in opposite ways, and a refusal whose only
 * explanation is a point no global order passes through.
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
import { type Call, type LedgerState, World, type WriteRequest } from "./serial-checker.js";

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
