/**
 * A checker for rounds of concurrent writes: does ONE serial order per
 * ledger explain every reply of the round? It needs no prediction of who
 * wins a race; it takes the winners from the replies and then checks that
 * everything else is consistent with them.
 *
 * The argument, per round and per ledger L (version v0 and balance b0 when
 * the round starts, all of the round's calls in flight at once, the next
 * round starting only after every reply of this one has arrived):
 *
 * 1. Effects. The calls that changed state are exactly the fresh successes
 *    (replayed = false) of RecordEntry and ReverseTransaction, and
 *    TerminateLedger. Ordered by the sequence of their entry, the fresh
 *    entries on L must carry the sequences v0+1 .. v1 with no gap and no
 *    repeat, and each must be what its request yields at that position of
 *    the order: the serial semantics (`answerAt`, the same rules, in the same
 *    order, as reference-model.ts) applied to the state the earlier entries
 *    of the order left (balance, and for a reversal how much of the original
 *    is still unreversed) must accept it, with exactly its amount; its
 *    balance_after must be the previous balance plus its amount; and it must
 *    carry its own request's tag (reference or description), so a reply
 *    routed to the wrong caller is caught even when two requests are alike.
 *    Each idempotency key has at most one fresh success, ever. A termination
 *    that succeeded this round sits after the last entry: every
 *    TerminateLedger reply must show version v1, the balance at v1 and one
 *    terminated_at.
 *
 * 2. Everything else changed nothing: failures, replays and reads. A call
 *    without an effect can be inserted into the order at any position
 *    without changing what any other call saw, so a serial order explaining
 *    ALL the replies exists iff (1) holds and EACH such call, on its own,
 *    has at least one position in the order at which the serial semantics
 *    give exactly its reply. That is what is checked, position by position
 *    (a round is small, so every position is tried):
 *    - the positions open to a call are v0 .. v1 (the round boundary: it
 *      was issued after the previous round ended and answered before the
 *      read-back), and, when its key has a fresh success in this round at
 *      sequence s, only v0 .. s-1 for a business refusal: the server checks
 *      the key before anything else, so once the key is claimed the same
 *      request replays and another one is IDEMPOTENCY_KEY_REUSED. A key
 *      claimed in an earlier round leaves no position for a refusal at all.
 *      At v1 of a ledger terminated in this round, the call may sit before
 *      or after the termination; after a termination in an earlier round,
 *      the ledger is terminated at every position.
 *    - INSUFFICIENT_FUNDS, LEDGER_TERMINATED, REVERSAL_EXCEEDS_TRANSACTION,
 *      TRANSACTION_NOT_REVERSIBLE: some open position where `answerAt`
 *      refuses with exactly that reason. For a debit of a on a ledger with
 *      floor f, that is: some open position p with balance(p) + a < f,
 *      reached before the termination (termination is checked first). For
 *      a reversal the remaining reversible amount at p decides its amount
 *      and whether it exceeds.
 *    - a replay: the key has a fresh success (this round or earlier) of the
 *      same method and the same request (fingerprint), and the replay's
 *      value equals that first reply exactly (same entry id, sequence,
 *      balance_after, timestamps).
 *    - IDEMPOTENCY_KEY_REUSED: the key has a fresh success of another
 *      method or request.
 *    - a read (GetLedger, GetBalance): its version is some position v in
 *      v0 .. v1, its balance the balance at v, its status the termination
 *      state at v.
 *    - CONCURRENCY_CONFLICT (ABORTED) is allowed anywhere as a refusal with
 *      no effect (the read-back proves it had none); it is counted, and the
 *      spec bounds how often it may happen. Any other failure is a
 *      violation.
 *
 * Sound: a server that runs each ledger's writes one at a time, in
 * sequence order (today's row lock; a group-commit pipeline that applies a
 * batch in order), produces replies that pass, because the actual execution
 * is such an order and every call's real position is one of the positions
 * tried. Nothing here depends on which racer won. Cross-ledger coupling
 * exists only through app-scoped keys, and a round's key groups stay on
 * one ledger (a key reused across ledgers always comes from an earlier
 * round, where its outcome no longer depends on position), so the
 * per-ledger orders interleave freely into one global order.
 *
 * Not vacuous: a failure is only accepted at a position whose state
 * produces it (an overdraft refused while every open position had enough
 * funds is a violation; so is a refusal positioned after its own key's
 * winner); successful debits must keep the balance above the floor at
 * their own position; the read-back after every round compares each
 * ledger's complete history with the fresh entries of the replies, so a
 * write that was answered but lost, applied without a success reply, or
 * applied twice is caught. The spec counts how often refusals were
 * "contested" (some open positions would have accepted the call, others
 * refuse it), which is where the ordering matters.
 */
import { expect } from "vitest";
import {
  type Balance,
  type Entry,
  ERROR_DOMAIN,
  type Ledger,
  type LedgerApi,
  type RecordEntryParams,
  type ReverseTransactionParams,
  RpcFailure,
  type Transaction,
  type Written,
} from "../../support/clients.js";
import { INT64_MAX, INT64_MIN } from "../../support/fixtures.js";
import { fingerprint, POLICIES, REASON_CODES } from "./reference-model.js";

/** The fields of an entry that history comparisons look at (timestamps and annotations aside). */
export type HistoryEntry = Pick<
  Entry,
  "id" | "transactionId" | "ledgerId" | "sequence" | "operation" | "amount" | "balanceAfter"
>;

export function historyEntry(entry: Entry): HistoryEntry {
  return {
    id: entry.id,
    transactionId: entry.transactionId,
    ledgerId: entry.ledgerId,
    sequence: entry.sequence,
    operation: entry.operation,
    amount: entry.amount,
    balanceAfter: entry.balanceAfter,
  };
}

export interface LedgerState {
  readonly id: string;
  /** For messages, e.g. "L1 (floor 0)". */
  readonly name: string;
  /** undefined: unbounded. */
  readonly floor: bigint | undefined;
  readonly unit: string;
  balance: bigint;
  terminated: boolean;
  terminatedAt: Date | undefined;
  /** Oldest first; the version is its length. */
  readonly history: HistoryEntry[];
}

export function versionOf(ledger: LedgerState): bigint {
  return BigInt(ledger.history.length);
}

export interface TxState {
  readonly id: string;
  readonly ledger: LedgerState;
  readonly kind: "ENTRY" | "REVERSAL";
  /** Magnitude. */
  readonly magnitude: bigint;
  /** The signed amount of its one entry. */
  readonly entryAmount: bigint;
  /** Reversed as of the end of the last checked round. */
  reversed: bigint;
}

export type WriteRequest =
  | {
      readonly method: "RecordEntry";
      readonly ledger: LedgerState;
      readonly params: RecordEntryParams;
      /** The tag the entry must carry (its reference). */
      readonly tag: string;
    }
  | {
      readonly method: "ReverseTransaction";
      readonly ledger: LedgerState;
      readonly tx: TxState;
      readonly params: ReverseTransactionParams;
      /** The tag the reversal's entry must carry (its description). */
      readonly tag: string;
    };

export function requestFingerprint(request: WriteRequest): string {
  return `${request.method}\u0000${fingerprint(request.params)}`;
}

/** The first (fresh) success under a key. */
export interface Winner {
  readonly key: string;
  readonly request: WriteRequest;
  readonly fingerprint: string;
  readonly value: Entry | Transaction;
  readonly entry: Entry;
  readonly round: number;
}

/** A failure: a normalized RPC failure, or anything else a client threw. */
export type Failure = RpcFailure | Error;

export type Call =
  | {
      readonly t: "write";
      readonly no: number;
      readonly api: LedgerApi;
      readonly key: string;
      readonly request: WriteRequest;
      outcome?: Written<Entry> | Written<Transaction> | Failure;
    }
  | {
      readonly t: "terminate";
      readonly no: number;
      readonly api: LedgerApi;
      readonly ledger: LedgerState;
      outcome?: Ledger | Failure;
    }
  | {
      readonly t: "getLedger";
      readonly no: number;
      readonly api: LedgerApi;
      readonly ledger: LedgerState;
      outcome?: Ledger | Failure;
    }
  | {
      readonly t: "getBalance";
      readonly no: number;
      readonly api: LedgerApi;
      readonly ledger: LedgerState;
      outcome?: Balance | Failure;
    };

export function callLedger(call: Call): LedgerState {
  return call.t === "write" ? call.request.ledger : call.ledger;
}

export function describeCall(call: Call): string {
  const head = `#${call.no} ${call.api.name}`;
  if (call.t !== "write") {
    return `${head} ${call.t} on ${call.ledger.name}`;
  }
  const { request } = call;
  if (request.method === "RecordEntry") {
    const { operation, amount } = request.params;
    return `${head} RecordEntry ${operation} ${amount ?? "(default)"} key ${call.key} tag ${request.tag} on ${request.ledger.name}`;
  }
  return `${head} ReverseTransaction of ${request.tx.kind} ${request.tx.entryAmount} (${request.tx.id.slice(-6)}) by ${request.params.amount ?? "(rest)"} key ${call.key} tag ${request.tag} on ${request.ledger.name}`;
}

function describeOutcome(outcome: unknown): string {
  if (outcome instanceof RpcFailure) {
    return `${outcome.code} ${outcome.reason ?? "(no reason)"}`;
  }
  if (outcome instanceof Error) {
    return `threw ${outcome.message}`;
  }
  if (outcome !== null && typeof outcome === "object" && "version" in outcome) {
    const read = outcome as Partial<Ledger>;
    return `${read.status ?? "balance"} version ${read.version} balance ${read.balance}`;
  }
  const written = outcome as Partial<Written<Entry | Transaction>>;
  if (written?.value !== undefined) {
    const entry = "entries" in written.value ? written.value.entries[0] : written.value;
    return `${written.replayed ? "replayed" : "fresh"} seq ${entry?.sequence} amount ${entry?.amount} balance_after ${entry?.balanceAfter}`;
  }
  return JSON.stringify(outcome, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v));
}

// ---------------------------------------------------------------------------
// The serial semantics: what one request does to a ledger in a given state.
// ---------------------------------------------------------------------------

export type Answer =
  | { readonly ok: true; readonly amount: bigint; readonly magnitude: bigint }
  | { readonly ok: false; readonly reason: string };

/** The state a call sees at one position of a ledger's serial order. */
interface PositionState {
  readonly balance: bigint;
  readonly terminated: boolean;
  /** What remains reversible of a transaction at this position. */
  remaining(tx: TxState): bigint;
}

/**
 * What the request answers at that state, the key already found unclaimed:
 * the contract's checks in the server's order (reference-model.ts).
 */
export function answerAt(request: WriteRequest, state: PositionState): Answer {
  let amount: bigint;
  if (request.method === "RecordEntry") {
    const policy = POLICIES[request.params.operation];
    if (policy === undefined) {
      return { ok: false, reason: "UNKNOWN_OPERATION" };
    }
    amount = request.params.amount ?? policy.default;
    if (amount === 0n || (amount > 0n ? 1n : -1n) !== policy.sign) {
      return { ok: false, reason: "AMOUNT_DIRECTION_MISMATCH" };
    }
  } else {
    const { tx } = request;
    if (tx.kind === "REVERSAL") {
      return { ok: false, reason: "TRANSACTION_NOT_REVERSIBLE" };
    }
    const remaining = state.remaining(tx);
    const magnitude = request.params.amount ?? remaining;
    if (magnitude <= 0n || magnitude > remaining) {
      return { ok: false, reason: "REVERSAL_EXCEEDS_TRANSACTION" };
    }
    amount = tx.entryAmount > 0n ? -magnitude : magnitude;
  }
  if (state.terminated) {
    return { ok: false, reason: "LEDGER_TERMINATED" };
  }
  const after = state.balance + amount;
  if (after > INT64_MAX || after < INT64_MIN) {
    return { ok: false, reason: "BALANCE_OVERFLOW" };
  }
  const floor = request.ledger.floor;
  if (amount < 0n && floor !== undefined && after < floor) {
    return { ok: false, reason: "INSUFFICIENT_FUNDS" };
  }
  return { ok: true, amount, magnitude: amount < 0n ? -amount : amount };
}

// ---------------------------------------------------------------------------
// One ledger's serial order in one round.
// ---------------------------------------------------------------------------

interface Fresh {
  readonly call: Extract<Call, { t: "write" }>;
  readonly value: Entry | Transaction;
  readonly entry: Entry;
}

class Timeline {
  readonly v0: bigint;
  v1: bigint;
  /** balances[i]: the balance at position v0 + i. */
  readonly balances: bigint[];
  /** This round's fresh reversals, by original transaction: at which sequence, how much. */
  readonly reversals = new Map<TxState, { sequence: bigint; magnitude: bigint }[]>();
  readonly fresh: Fresh[] = [];
  /** Set when the order itself is broken: positions then mean nothing. */
  broken = false;
  readonly terminatedBefore: boolean;
  terminatedNow = false;
  /** The terminated_at this round's TerminateLedger replies agreed on. */
  terminatedAt: Date | undefined;

  constructor(readonly ledger: LedgerState) {
    this.v0 = versionOf(ledger);
    this.v1 = this.v0;
    this.balances = [ledger.balance];
    this.terminatedBefore = ledger.terminated;
  }

  balanceAt(position: bigint): bigint {
    return this.balances[Number(position - this.v0)] as bigint;
  }

  remainingAt(tx: TxState, position: bigint): bigint {
    let remaining = tx.magnitude - tx.reversed;
    for (const reversal of this.reversals.get(tx) ?? []) {
      if (reversal.sequence <= position) {
        remaining -= reversal.magnitude;
      }
    }
    return remaining;
  }

  /** The states a call may have seen at a position: before and/or after a termination. */
  statesAt(position: bigint): PositionState[] {
    const balance = this.balanceAt(position);
    const remaining = (tx: TxState): bigint => this.remainingAt(tx, position);
    const terminations = this.terminatedBefore
      ? [true]
      : this.terminatedNow && position === this.v1
        ? [false, true]
        : [false];
    return terminations.map((terminated) => ({ balance, terminated, remaining }));
  }
}

// ---------------------------------------------------------------------------
// The world the rounds act on, and the check of one round.
// ---------------------------------------------------------------------------

export interface RoundResult {
  /** Problems found; empty when one serial order per ledger explains every reply. */
  readonly violations: string[];
  /** Keys of this round that no call claimed (every call under them refused). */
  readonly unclaimed: { key: string; request: WriteRequest }[];
}

export class World {
  readonly ledgers: LedgerState[] = [];
  readonly transactions: TxState[] = [];
  readonly winners = new Map<string, Winner>();
  /** In the order they were first written: what replays and reuses pick from. */
  readonly winnerList: Winner[] = [];
  /** How often each outcome was checked (printed, and asserted to be non-zero). */
  readonly counts = new Map<string, number>();

  count(what: string, n = 1): void {
    this.counts.set(what, (this.counts.get(what) ?? 0) + n);
  }

  /**
   * Checks one round's replies (every call settled) and, when nothing is
   * wrong, applies the round to the world.
   */
  checkRound(round: number, calls: readonly Call[]): RoundResult {
    const violations: string[] = [];
    const flag = (call: Call | undefined, text: string): void => {
      violations.push(
        `round ${round}: ${call === undefined ? "" : `${describeCall(call)} → ${describeOutcome(call.outcome)}: `}${text}`,
      );
    };
    const timelines = new Map(this.ledgers.map((l) => [l, new Timeline(l)]));
    const timeline = (ledger: LedgerState): Timeline => timelines.get(ledger) as Timeline;

    // --- Fresh successes: one per key, then one gapless valid chain per ledger.
    const roundWinners = new Map<string, Fresh>();
    for (const call of calls) {
      if (call.t !== "write" || !isWritten(call.outcome) || call.outcome.replayed) {
        continue;
      }
      const value = call.outcome.value;
      const entry = "entries" in value ? value.entries[0] : value;
      if (entry === undefined || ("entries" in value && value.entries.length !== 1)) {
        flag(call, "a reversal of a one-entry transaction must carry exactly one entry");
        continue;
      }
      const fresh: Fresh = { call, value, entry };
      const earlier = this.winners.get(call.key);
      const other = roundWinners.get(call.key);
      if ((earlier ?? other)?.entry.id === entry.id) {
        flag(call, "the key's first entry again, but with replayed = false");
        continue;
      }
      if (earlier !== undefined || other !== undefined) {
        flag(
          call,
          `a second effect under key ${call.key} (first: ${earlier === undefined ? `round ${round} entry ${other?.entry.id}` : `round ${earlier.round} entry ${earlier.entry.id}`})`,
        );
      } else {
        roundWinners.set(call.key, fresh);
      }
      if (entry.ledgerId !== call.request.ledger.id) {
        flag(call, `its entry is on ledger ${entry.ledgerId}`);
        timeline(call.request.ledger).broken = true;
        continue;
      }
      timeline(call.request.ledger).fresh.push(fresh);
    }
    for (const line of timelines.values()) {
      this.buildTimeline(line, flag);
    }

    // --- Terminations.
    for (const call of calls) {
      if (call.t === "terminate" && !(call.outcome instanceof Error)) {
        timeline(call.ledger).terminatedNow ||= !call.ledger.terminated;
      }
    }
    for (const call of calls) {
      if (call.t !== "terminate") {
        continue;
      }
      const line = timeline(call.ledger);
      const outcome = call.outcome;
      if (outcome instanceof Error) {
        if (!isAborted(outcome)) {
          flag(call, "TerminateLedger may only fail with CONCURRENCY_CONFLICT");
        } else {
          this.count("aborted");
        }
        continue;
      }
      this.count("terminate");
      if (line.broken || outcome === undefined) {
        continue;
      }
      const expected = {
        id: call.ledger.id,
        status: "TERMINATED",
        version: line.v1,
        balance: line.balanceAt(line.v1),
      };
      const actual = {
        id: outcome.id,
        status: outcome.status,
        version: outcome.version,
        balance: outcome.balance,
      };
      if (!same(actual, expected)) {
        flag(
          call,
          `a termination must follow the round's last entry: got ${show(actual)}, want ${show(expected)}`,
        );
      }
      const at = line.terminatedBefore ? call.ledger.terminatedAt : line.terminatedAt;
      if (outcome.terminatedAt === undefined) {
        flag(call, "a terminated ledger has no terminated_at");
      } else if (at === undefined) {
        line.terminatedAt = outcome.terminatedAt;
      } else if (at.getTime() !== outcome.terminatedAt.getTime()) {
        flag(
          call,
          `terminated_at ${outcome.terminatedAt.toISOString()} but the ledger was terminated at ${at.toISOString()}`,
        );
      }
    }

    // --- Every call without an effect needs a position that explains it.
    for (const call of calls) {
      switch (call.t) {
        case "write":
          this.explainWrite(call, timeline(call.request.ledger), roundWinners, flag);
          break;
        case "getLedger":
        case "getBalance":
          this.explainRead(call, timeline(call.ledger), flag);
          break;
        case "terminate":
          break;
      }
    }

    const unclaimed = new Map<string, WriteRequest>();
    for (const call of calls) {
      if (
        call.t === "write" &&
        !roundWinners.has(call.key) &&
        !this.winners.has(call.key) &&
        !unclaimed.has(call.key)
      ) {
        unclaimed.set(call.key, call.request);
      }
    }
    if (violations.length === 0) {
      this.apply(round, timelines, roundWinners);
    }
    return {
      violations,
      unclaimed: [...unclaimed].map(([key, request]) => ({ key, request })),
    };
  }

  /** Orders a ledger's fresh entries by sequence and checks each against its position. */
  private buildTimeline(
    line: Timeline,
    flag: (call: Call | undefined, text: string) => void,
  ): void {
    if (line.broken) {
      return;
    }
    line.fresh.sort((a, b) => (a.entry.sequence < b.entry.sequence ? -1 : 1));
    const sequences = line.fresh.map((f) => f.entry.sequence);
    const expected = line.fresh.map((_, i) => line.v0 + BigInt(i + 1));
    if (!same(sequences, expected)) {
      flag(
        undefined,
        `${line.ledger.name}: the fresh entries of the round have sequences [${sequences.join(", ")}], not the gapless run [${expected.join(", ")}] after version ${line.v0}`,
      );
      line.broken = true;
      return;
    }
    for (const fresh of line.fresh) {
      const { call, entry, value } = fresh;
      const position = entry.sequence - 1n;
      const states = line.statesAt(position);
      const answers = states.map((state) => answerAt(call.request, state));
      const answer = answers.find((a) => a.ok && a.amount === entry.amount);
      const before = line.balanceAt(position);
      if (answer === undefined || !answer.ok) {
        flag(
          call,
          `at position ${position} (balance ${before}${states[0]?.terminated ? ", terminated" : ""}) the request answers ${answers.map(showAnswer).join(" or ")}, not an entry of ${entry.amount}`,
        );
      }
      if (entry.balanceAfter !== before + entry.amount) {
        flag(call, `balance_after ${entry.balanceAfter} ≠ ${before} + ${entry.amount}`);
      }
      const request = call.request;
      if (request.method === "RecordEntry") {
        if (entry.operation !== request.params.operation || entry.reference !== request.tag) {
          flag(
            call,
            `the entry is ${entry.operation} tagged "${entry.reference}": not this request's reply`,
          );
        }
      } else {
        const tx = value as Transaction;
        const magnitude = entry.amount < 0n ? -entry.amount : entry.amount;
        const actual = {
          kind: tx.kind,
          reverses: tx.reversesTransactionId,
          amount: tx.amount,
          reversedAmount: tx.reversedAmount,
          transactionId: entry.transactionId,
          operation: entry.operation,
          tag: entry.description,
        };
        const wanted = {
          kind: "REVERSAL",
          reverses: request.tx.id,
          amount: magnitude,
          reversedAmount: 0n,
          transactionId: tx.id,
          operation: "REVERSAL",
          tag: request.tag,
        };
        if (!same(actual, wanted)) {
          flag(call, `the reversal is ${show(actual)}, want ${show(wanted)}`);
        }
        const list = line.reversals.get(request.tx) ?? [];
        list.push({ sequence: entry.sequence, magnitude });
        line.reversals.set(request.tx, list);
      }
      line.balances.push(before + entry.amount);
      line.v1 = entry.sequence;
      this.count("fresh");
    }
  }

  private explainWrite(
    call: Extract<Call, { t: "write" }>,
    line: Timeline,
    roundWinners: ReadonlyMap<string, Fresh>,
    flag: (call: Call | undefined, text: string) => void,
  ): void {
    const outcome = call.outcome;
    const earlier = this.winners.get(call.key);
    const current = roundWinners.get(call.key);
    const winner: { fingerprint: string; value: Entry | Transaction } | undefined =
      earlier ??
      (current === undefined
        ? undefined
        : { fingerprint: requestFingerprint(current.call.request), value: current.value });
    const mine = requestFingerprint(call.request);
    if (isWritten(outcome)) {
      if (!outcome.replayed) {
        return; // a fresh success: checked with its ledger's order
      }
      this.count("replay");
      if (winner === undefined) {
        flag(call, "a replay, but no call ever wrote under this key");
      } else if (winner.fingerprint !== mine) {
        flag(call, "a replay of another request (it must be IDEMPOTENCY_KEY_REUSED)");
      } else {
        try {
          expect(outcome.value).toEqual(winner.value);
        } catch (error) {
          flag(call, `a replay must return the first reply exactly: ${(error as Error).message}`);
        }
      }
      return;
    }
    if (!(outcome instanceof RpcFailure)) {
      flag(call, "the call failed without a ledger error");
      return;
    }
    const reason = outcome.reason ?? "(none)";
    if (isAborted(outcome)) {
      this.count("aborted");
      return;
    }
    if (outcome.code !== REASON_CODES[reason] || outcome.domain !== ERROR_DOMAIN) {
      flag(call, `reason ${reason} comes with code ${outcome.code} and domain ${outcome.domain}`);
      return;
    }
    this.count(reason);
    if (reason === "IDEMPOTENCY_KEY_REUSED") {
      if (winner === undefined || winner.fingerprint === mine) {
        flag(
          call,
          winner === undefined
            ? "IDEMPOTENCY_KEY_REUSED, but no call wrote under this key"
            : "IDEMPOTENCY_KEY_REUSED, but the key's write is this very request",
        );
      }
      return;
    }
    if (line.broken) {
      return;
    }
    // A refusal is positioned where the key was still free: before its winner.
    if (earlier !== undefined) {
      flag(
        call,
        `refused for its state, but its key was claimed in round ${earlier.round}: a replay or IDEMPOTENCY_KEY_REUSED was due`,
      );
      return;
    }
    if (current !== undefined && current.call.request.ledger !== call.request.ledger) {
      flag(call, "its key's winner is on another ledger (a scenario this checker does not order)");
      return;
    }
    const last = current === undefined ? line.v1 : current.entry.sequence - 1n;
    const seen: string[] = [];
    let explained = false;
    let accepted = false;
    for (let position = line.v0; position <= last; position += 1n) {
      for (const state of line.statesAt(position)) {
        const answer = answerAt(call.request, state);
        explained ||= !answer.ok && answer.reason === reason;
        accepted ||= answer.ok;
        seen.push(
          `${position}:${state.balance}${state.terminated ? "T" : ""}→${showAnswer(answer)}`,
        );
      }
    }
    if (!explained) {
      flag(
        call,
        `no position from ${line.v0} to ${last}${current === undefined ? "" : " (before its key's winner)"} refuses it with ${reason}: ${seen.join(", ")}`,
      );
    } else if (accepted) {
      this.count(`contested ${reason}`);
    }
  }

  private explainRead(
    call: Extract<Call, { t: "getLedger" | "getBalance" }>,
    line: Timeline,
    flag: (call: Call | undefined, text: string) => void,
  ): void {
    const outcome = call.outcome;
    this.count(call.t);
    if (line.broken) {
      return;
    }
    if (outcome instanceof Error) {
      const terminated = line.terminatedBefore || line.terminatedNow;
      if (
        !(
          call.t === "getBalance" &&
          outcome instanceof RpcFailure &&
          outcome.reason === "LEDGER_TERMINATED" &&
          terminated
        )
      ) {
        flag(call, "a read failed");
      }
      return;
    }
    if (outcome === undefined) {
      flag(call, "no outcome");
      return;
    }
    const version = outcome.version;
    if (version < line.v0 || version > line.v1) {
      flag(call, `version ${version} is outside the round's ${line.v0}..${line.v1}`);
      return;
    }
    const balance = line.balanceAt(version);
    const status = "status" in outcome ? outcome.status : "ACTIVE";
    const terminatedThen =
      line.terminatedBefore ||
      (line.terminatedNow && version === line.v1 && status === "TERMINATED");
    const actual = {
      id: "id" in outcome ? outcome.id : outcome.ledgerId,
      balance: outcome.balance,
      status,
    };
    const wanted = {
      id: call.ledger.id,
      balance,
      status: terminatedThen ? "TERMINATED" : "ACTIVE",
    };
    if (call.t === "getBalance" && line.terminatedBefore) {
      flag(call, "GetBalance answered for a ledger terminated in an earlier round");
    } else if (!same(actual, wanted)) {
      flag(call, `read ${show(actual)} at version ${version}, want ${show(wanted)}`);
    }
  }

  private apply(
    round: number,
    timelines: ReadonlyMap<LedgerState, Timeline>,
    roundWinners: ReadonlyMap<string, Fresh>,
  ): void {
    for (const [ledger, line] of timelines) {
      for (const { entry } of line.fresh) {
        ledger.history.push(historyEntry(entry));
      }
      ledger.balance = line.balanceAt(line.v1);
      if (line.terminatedNow) {
        ledger.terminated = true;
        ledger.terminatedAt = line.terminatedAt;
      }
    }
    for (const [key, fresh] of roundWinners) {
      const { request } = fresh.call;
      const magnitude = fresh.entry.amount < 0n ? -fresh.entry.amount : fresh.entry.amount;
      if (request.method === "ReverseTransaction") {
        request.tx.reversed += magnitude;
      }
      this.transactions.push({
        id: fresh.entry.transactionId,
        ledger: request.ledger,
        kind: request.method === "RecordEntry" ? "ENTRY" : "REVERSAL",
        magnitude,
        entryAmount: fresh.entry.amount,
        reversed: 0n,
      });
      const winner: Winner = {
        key,
        request,
        fingerprint: requestFingerprint(request),
        value: fresh.value,
        entry: fresh.entry,
        round,
      };
      this.winners.set(key, winner);
      this.winnerList.push(winner);
    }
  }
}

function isWritten(outcome: unknown): outcome is Written<Entry> | Written<Transaction> {
  return outcome !== undefined && !(outcome instanceof Error);
}

function isAborted(failure: Error): boolean {
  return (
    failure instanceof RpcFailure &&
    failure.code === "ABORTED" &&
    failure.reason === "CONCURRENCY_CONFLICT"
  );
}

function showAnswer(answer: Answer): string {
  return answer.ok ? `ok ${answer.amount}` : answer.reason;
}

function show(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `${v}` : v));
}

function same(a: unknown, b: unknown): boolean {
  return show(a) === show(b);
}
