/**
 * A checker for rounds of concurrent writes: does one serial order of the
 * round explain every reply? It needs no prediction of who wins a race; it
 * takes the winners from the replies and then checks that everything else
 * is consistent with them.
 *
 * The argument, per round (each ledger L at version v0(L) and balance b0(L)
 * when the round starts, all of the round's calls in flight at once, the
 * next round starting only after every reply of this one has arrived):
 *
 * 1. Effects. The calls that changed state are exactly the fresh successes
 *    (replayed = false) of RecordEntry, Transfer, ReverseTransaction,
 *    PostPendingTransaction and VoidPendingTransaction, and TerminateLedger.
 *    A fresh write has one entry per leg of its request, in posting order,
 *    on exactly the ledgers the request names (a transfer: the debit of its
 *    source, then the credit of its destination; a reversal: one
 *    compensating entry per leg of the original, in its order; a post: one
 *    per leg of the hold); a hold (RecordEntry or Transfer with `pending`)
 *    and a void write no entry. Each idempotency key has at most one fresh
 *    success, ever; each hold at most one fresh post or void, ever (two
 *    posts of one hold, or a post and a void, both succeeding is a
 *    violation whatever the order).
 *
 * 2. One order of the effects. Per ledger, the round's fresh entries must
 *    carry the sequences v0+1 .. v1 with no gap and no repeat: that is the
 *    ledger's serial order. A write with two entries sits in two ledgers'
 *    orders, so the orders constrain each other; their union (a write
 *    before another when it comes first on some ledger they share) must
 *    have no cycle (transfers A→B then B→A on one ledger, the other way
 *    round on the other, is a violation). Any topological order of it is a
 *    global serial order that every ledger's order is a projection of.
 *
 * 3. Each effect is what its request yields at its point of that order: the
 *    serial semantics (`answerAt`: the very rules of reference-model.ts,
 *    `recordRule` / `transferRule` / `reversalRule` then `postRule` leg by
 *    leg) applied to the state the writes before it left (every ledger it
 *    touches at the sequence just before its own entry there, and for a
 *    reversal how much of the original the earlier reversals left) must
 *    accept it with exactly its legs; each entry's balance_after must be the
 *    previous balance plus its amount; the reply must carry its own
 *    request's tag (reference or description), its kind, amount, operation,
 *    transaction id and reversed transaction, so a reply routed to the wrong
 *    caller is caught even when two requests are alike. A termination that
 *    succeeded this round sits after the ledger's last entry: every
 *    TerminateLedger reply must show version v1, the balance at v1 and one
 *    terminated_at.
 *
 * 4. Everything else changed nothing: failures, replays and reads. Each such
 *    call must have, on its own, a point of the order where the serial
 *    semantics give exactly its reply. A point, for a call touching the
 *    ledgers S (its ledger; a transfer's two; a reversal's original's), is
 *    a position p(L) in v0(L) .. v1(L) on each L in S that some global
 *    order passes through at once: the writes that must come before those
 *    positions (the closure, through every ledger, of the entries up to
 *    them) hold no entry beyond p(L) on any L in S. Every such point is
 *    tried (a round is small).
 *    - When the call's key has a fresh success in this round, a business
 *      refusal's point must leave that success out of its closure (the
 *      server checks the key before anything else: once the key is claimed
 *      the same request replays and another is IDEMPOTENCY_KEY_REUSED). A
 *      key claimed in an earlier round leaves no point for a refusal at all.
 *      At v1 of a ledger terminated in this round, the call may sit before
 *      or after the termination; after a termination in an earlier round,
 *      the ledger is terminated at every point.
 *    - INSUFFICIENT_FUNDS, LEDGER_TERMINATED, BALANCE_OVERFLOW (each naming
 *      the ledger that refused, in metadata ledger_id),
 *      REVERSAL_EXCEEDS_TRANSACTION, TRANSACTION_NOT_REVERSIBLE: some point
 *      where `answerAt` refuses with exactly that reason and ledger. For a
 *      transfer of a from A (floor f) to B, INSUFFICIENT_FUNDS naming A is:
 *      some point with balance(A) - a < f, A and B active there; for the
 *      reversal of such a transfer, naming B: some point where A takes the
 *      credit back and balance(B) - r < floor(B).
 *    - a replay: the key has a fresh success (this round or earlier) of the
 *      same method and the same request (fingerprint), and the replay's
 *      value equals that first reply exactly (same ids, sequences,
 *      balances_after, timestamps; a transfer as it was made).
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
 * 5. Holds. A hold or a void has no sequence, so it has no place in the
 *    ledgers' orders: it floats. What it changes is what holds reserve
 *    (pending debits, which count against the floor: available = balance -
 *    pending debits) and will credit. A post has entries, so it has its
 *    place: it releases its hold there and posts the amount (which never
 *    lowers available). Holds posted or voided in a round were made in an
 *    earlier one (a call needs the hold's id), so no order is needed
 *    between a hold and its resolution within a round. The floating
 *    effects are placed as follows:
 *    - for the round's effects (3), the most permissive placement: every
 *      void at the start of the round, every hold at its end (after every
 *      entry, before a termination). No debit is then checked against a
 *      hold of the round, and every hold against all of them at once:
 *      balance(v1) - pending(v1) with every hold of the round >= floor, for
 *      the ledger of each held debit. A hold that fits anywhere fits at the
 *      end (the lowest available after it is at a debit, which would have
 *      had to fit with it too), so this loses nothing; a debit that only
 *      fits while a void came first, or a set of holds that only fit apart,
 *      is a violation.
 *    - for a call without an effect (4), each point is tried twice: with
 *      the floating effects placed the permissive way, and the other way
 *      round (every hold of the round before it, every void after it; a
 *      hold in between gives an answer in between, for a refusal is
 *      monotone in what is reserved). A hold's state at a point: as the
 *      round started (EXPIRED when its deadline had passed), POSTED at and
 *      after its post's entry, VOIDED when its void of this round is placed
 *      before. So HOLD_NOT_PENDING needs a resolution before it (this round
 *      or earlier), HOLD_EXPIRED a hold past its deadline, and
 *      INSUFFICIENT_FUNDS of a debit or a hold may come from what the
 *      round's holds reserve.
 *    - a read's pending debits (and credits) must be what holds open at the
 *      round's start reserved, less what the posts up to its version
 *      released, plus some subset of the round's holds and less some subset
 *      of its voids; available = balance - pending debits.
 *    - a TerminateLedger that succeeds sits after the ledger's last entry
 *      and every floating effect: no hold may be open there (none open as
 *      the round started unless posted or voided in it, no hold of the
 *      round). LEDGER_HAS_PENDING_TRANSACTIONS needs some open hold on the
 *      ledger: one open as the round started, or one made in it.
 *    The spec keeps every hold's deadline away from every round (an hour
 *    ahead, or passed before the round starts), so expiry is never a race.
 *
 * What this proves: the round's effects are serializable (2, 3), each
 * against the real state, both legs of a transfer at one point of one
 * order; and every call without an effect is explained by some point of
 * some order consistent with the effects (4). A call without an effect
 * can be inserted anywhere without changing what other calls saw, and any
 * global order passes through every position of every single ledger, so
 * when each such call touches one ledger and its key's winner (if any) is
 * on that ledger, one global order explains ALL the replies at once (the
 * checker before transfers proved exactly that). What it does not prove:
 * for calls that touch two ledgers (a refused transfer, a refused reversal
 * of a transfer) or whose key's winner is on another ledger, each is
 * placed on its own; that one global order places all of them at once is
 * not checked (that is a search over orders; the per-call check is the
 * necessary condition). Replays are not positioned, only matched to their
 * first reply. The floating effects are placed jointly only for the
 * round's effects (the most permissive placement, which exists whenever
 * any does); each call without an effect gets its own placement, and the
 * placement of a hold of two ledgers is not tied across them.
 *
 * Sound: a server that applies writes one at a time (today's pipeline
 * applies each batch in order under the locks of every ledger a write
 * touches) produces replies that pass, because its actual execution is one
 * of the global orders and every call's real point is among the points
 * tried. Nothing here depends on which racer won.
 *
 * Not vacuous: a failure is only accepted at a point whose state produces
 * it (an overdraft refused while every point had enough funds is a
 * violation; so is a refusal placed after its own key's winner, or naming
 * the wrong ledger); successful debits must keep the balance above the
 * floor at their own point; the read-back after every round compares each
 * ledger's complete history with the fresh entries of the replies, so a
 * write that was answered but lost, applied without a success reply, or
 * applied twice (or one leg of it) is caught, and checks that the balances
 * add up to the money single-sided writes created. The spec counts how
 * often refusals were "contested" (some points would have accepted the
 * call, others refuse it), which is where the ordering matters.
 */
import { expect } from "vitest";
import {
  type Balance,
  type Entry,
  ERROR_DOMAIN,
  type Ledger,
  type LedgerApi,
  type PostPendingTransactionParams,
  type RecordEntryParams,
  type ReverseTransactionParams,
  RpcFailure,
  type Transaction,
  type TransferParams,
  type VoidPendingTransactionParams,
  type Written,
} from "../../support/clients.js";
import {
  fingerprint,
  type HoldState,
  holdRuling,
  holdStateAt,
  isOpen,
  type Leg,
  magnitudeOf,
  type PostingState,
  postedLegs,
  postOrRefuse,
  postPendingRule,
  REASON_CODES,
  type Ruling,
  recordRule,
  releasing,
  reversalRule,
  type Tx,
  transferOperation,
  transferRule,
  voidRule,
} from "./reference-model.js";

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
  readonly app: string;
  readonly unit: string;
  /** undefined: unbounded. */
  readonly floor: bigint | undefined;
  balance: bigint;
  terminated: boolean;
  terminatedAt: Date | undefined;
  /** Oldest first; the version is its length. */
  readonly history: HistoryEntry[];
}

export function versionOf(ledger: LedgerState): bigint {
  return BigInt(ledger.history.length);
}

/**
 * A transaction written in an earlier round; `reversed` as of the end of
 * the last checked round; a hold's state as of then too (EXPIRED read from
 * the round's clock).
 */
export type TxState = Tx<LedgerState>;

export type WriteRequest =
  | {
      readonly method: "RecordEntry";
      readonly ledger: LedgerState;
      /** With `pending`: a hold. */
      readonly params: RecordEntryParams;
      /** The tag the entry (or held leg) must carry (its reference). */
      readonly tag: string;
    }
  | {
      readonly method: "Transfer";
      /** The source. */
      readonly ledger: LedgerState;
      readonly to: LedgerState;
      /** With `pending`: a hold. */
      readonly params: TransferParams;
      /** The tag both entries (or held legs) must carry (their reference). */
      readonly tag: string;
    }
  | {
      readonly method: "ReverseTransaction";
      /** The ledger of the original's first leg. */
      readonly ledger: LedgerState;
      readonly tx: TxState;
      readonly params: ReverseTransactionParams;
      /** The tag the reversal's entries must carry (their description). */
      readonly tag: string;
    }
  | {
      readonly method: "PostPendingTransaction";
      /** The ledger of the hold's first leg. */
      readonly ledger: LedgerState;
      /** The hold (or any transaction: then HOLD_NOT_PENDING). */
      readonly tx: TxState;
      readonly params: PostPendingTransactionParams;
      /** For messages only: a post carries nothing of its own. */
      readonly tag: string;
    }
  | {
      readonly method: "VoidPendingTransaction";
      readonly ledger: LedgerState;
      readonly tx: TxState;
      readonly params: VoidPendingTransactionParams;
      readonly tag: string;
    };

export function requestFingerprint(request: WriteRequest): string {
  return `${request.method}\u0000${fingerprint(request.params)}`;
}

/** True for a RecordEntry or Transfer with `pending`: its success is a hold, with no entries. */
export function isHold(request: WriteRequest): boolean {
  return (
    (request.method === "RecordEntry" || request.method === "Transfer") &&
    request.params.pending === true
  );
}

/** A transaction's legs as written or, for a hold, as held (their ledgers and signs). */
export function shapeOf(tx: TxState): readonly Leg<LedgerState>[] {
  return tx.hold?.pendingLegs ?? tx.legs;
}

/** The ledgers a request touches, in posting order. */
export function ledgersOf(request: WriteRequest): readonly LedgerState[] {
  switch (request.method) {
    case "RecordEntry":
      return [request.ledger];
    case "Transfer":
      return [request.ledger, request.to];
    case "ReverseTransaction":
    case "PostPendingTransaction":
    case "VoidPendingTransaction":
      return shapeOf(request.tx).map((leg) => leg.ledger);
  }
}

/** The ledgers a fresh success writes entries on, in order: none for a hold or a void. */
function postedLedgersOf(request: WriteRequest): readonly LedgerState[] {
  return isHold(request) || request.method === "VoidPendingTransaction" ? [] : ledgersOf(request);
}

/** What a request is, for counts: its method, a hold, or which kind of transaction it reverses. */
function labelOf(request: WriteRequest): string {
  switch (request.method) {
    case "ReverseTransaction":
      return `reversal of ${request.tx.hold === undefined ? request.tx.kind : "hold"}`;
    case "PostPendingTransaction":
      return "post";
    case "VoidPendingTransaction":
      return "void";
    default:
      return isHold(request) ? `${request.method} held` : request.method;
  }
}

/** The first (fresh) success under a key. */
export interface Winner {
  readonly key: string;
  readonly request: WriteRequest;
  readonly fingerprint: string;
  readonly value: Entry | Transaction;
  readonly entries: readonly Entry[];
  readonly round: number;
}

/** A failure: a normalized RPC failure, or anything else a client threw. */
export type Failure = RpcFailure | Error;

export type WriteCall = {
  readonly t: "write";
  readonly no: number;
  readonly api: LedgerApi;
  readonly key: string;
  readonly request: WriteRequest;
  outcome?: Written<Entry> | Written<Transaction> | Failure;
  /** When the reply arrived (ms since the epoch), for requests with a deadline. */
  answeredAt?: number;
};

export type Call =
  | WriteCall
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

export function describeCall(call: Call): string {
  const head = `#${call.no} ${call.api.name}`;
  if (call.t !== "write") {
    return `${head} ${call.t} on ${call.ledger.name}`;
  }
  const { request } = call;
  const tail = `key ${call.key} tag ${request.tag}`;
  const held = isHold(request) ? " held" : "";
  switch (request.method) {
    case "RecordEntry": {
      const { operation, amount } = request.params;
      return `${head} RecordEntry${held} ${operation} ${amount ?? "(default)"} ${tail} on ${request.ledger.name}`;
    }
    case "Transfer":
      return `${head} Transfer${held} ${request.params.amount} ${tail} from ${request.ledger.name} to ${request.to.name}`;
    case "ReverseTransaction":
      return `${head} ReverseTransaction of ${describeTx(request.tx)} by ${request.params.amount ?? "(rest)"} ${tail}`;
    case "PostPendingTransaction":
      return `${head} PostPendingTransaction ${request.params.amount ?? "(all)"} of ${describeTx(request.tx)} ${tail}`;
    case "VoidPendingTransaction":
      return `${head} VoidPendingTransaction of ${describeTx(request.tx)} ${tail}`;
  }
}

function describeTx(tx: TxState): string {
  const legs = shapeOf(tx).map((leg) => `${leg.amount} on ${leg.ledger.name}`);
  const hold = tx.hold === undefined ? "" : ` ${tx.hold.state} hold of ${tx.hold.held}`;
  return `${tx.kind}${hold} ${tx.id.slice(-6)} (${legs.join(", ")})`;
}

function describeOutcome(outcome: unknown): string {
  if (outcome instanceof RpcFailure) {
    const named = outcome.metadata.ledger_id;
    return `${outcome.code} ${outcome.reason ?? "(no reason)"}${named === undefined ? "" : ` naming ${named}`}`;
  }
  if (outcome instanceof Error) {
    return `threw ${outcome.message}`;
  }
  if (outcome !== null && typeof outcome === "object" && "version" in outcome) {
    const read = outcome as Partial<Ledger>;
    return `${read.status ?? "balance"} version ${read.version} balance ${read.balance} pending ${read.pendingDebits}/${read.pendingCredits}`;
  }
  const written = outcome as Partial<Written<Entry | Transaction>>;
  if (written?.value !== undefined) {
    const value = written.value;
    const legs = entriesOf(value).map(
      (e) => `seq ${e.sequence} amount ${e.amount} balance_after ${e.balanceAfter}`,
    );
    const state = "state" in value ? `${value.state} ` : "";
    return `${written.replayed ? "replayed" : "fresh"} ${state}${legs.join("; ")}`;
  }
  return show(outcome);
}

/** A write's entries in posting order: RecordEntry answers its one entry, the others a transaction. */
function entriesOf(value: Entry | Transaction): readonly Entry[] {
  return "entries" in value ? value.entries : [value];
}

// ---------------------------------------------------------------------------
// The serial semantics: what one request does at a point of the order.
// ---------------------------------------------------------------------------

/** The state a call sees at one point of the round's order. */
export interface PointState {
  /** Each ledger the call touches, as it is at the point (with what holds reserve). */
  at(ledger: LedgerState): PostingState;
  /** A transaction's state at the point: POSTED for an ordinary write. */
  holdState(tx: TxState): HoldState;
  /** A transaction's amount at the point: for a hold posted by then, what was posted. */
  amount(tx: TxState): bigint;
  /** What remains reversible of a transaction at the point. */
  remaining(tx: TxState): bigint;
  /** For messages, e.g. "L0@3:15 L1@2:7T". */
  readonly text: string;
}

/** What the request answers at that point, the key already found unclaimed. */
export function answerAt(request: WriteRequest, point: PointState): Ruling<LedgerState> {
  const at = (ledger: LedgerState) => point.at(ledger);
  switch (request.method) {
    case "RecordEntry": {
      const ruling = recordRule(request.ledger, request.params.operation, request.params.amount);
      return isHold(request) ? holdRuling(ruling, at) : postOrRefuse(ruling, at);
    }
    case "Transfer": {
      const { operation, amount } = request.params;
      const ruling = transferRule(request.ledger, request.to, operation, amount);
      return isHold(request) ? holdRuling(ruling, at) : postOrRefuse(ruling, at);
    }
    case "ReverseTransaction": {
      const { tx } = request;
      const view = postedView(tx, point);
      if (view === undefined) {
        return { ok: false, reason: "TRANSACTION_NOT_REVERSIBLE" };
      }
      return postOrRefuse(reversalRule(view, request.params.amount, point.remaining(tx)), at);
    }
    case "PostPendingTransaction": {
      const { tx } = request;
      return postPendingRule(tx, point.holdState(tx), request.params.amount, (ledger) =>
        releasing(point.at(ledger), tx, ledger),
      );
    }
    case "VoidPendingTransaction":
      return voidRule(point.holdState(request.tx));
  }
}

/** A transaction as a reversal sees it at the point: a hold only once POSTED, with what was posted. */
function postedView(tx: TxState, point: PointState): TxState | undefined {
  const { hold } = tx;
  if (hold === undefined) {
    return tx;
  }
  if (point.holdState(tx) !== "POSTED") {
    return undefined;
  }
  const magnitude = point.amount(tx);
  return {
    ...tx,
    magnitude,
    legs: postedLegs(hold, magnitude),
    hold: { ...hold, state: "POSTED" },
  };
}

// ---------------------------------------------------------------------------
// The round's order: one chain per ledger, joined where a write has two legs;
// holds and voids float.
// ---------------------------------------------------------------------------

/** A fresh success of the round: one write of the order (floating when it has no entries). */
interface Fresh {
  readonly call: WriteCall;
  readonly value: Entry | Transaction;
  readonly entries: readonly Entry[];
  /**
   * Per ledger, the highest sequence among this write and every write that
   * must come before it (set once the round is ordered).
   */
  readonly reach: Map<LedgerState, bigint>;
}

/** One entry of a fresh write in its ledger's chain. */
interface Link {
  readonly fresh: Fresh;
  readonly entry: Entry;
}

/** A hold made, or voided, in the round, on one ledger: what it reserves there and awaits. */
interface Floating {
  readonly fresh: Fresh;
  readonly kind: "hold" | "void";
  readonly debits: bigint;
  readonly credits: bigint;
}

/**
 * Where a point places the round's floating effects: "permissive" (voids
 * before it, holds after), "strict" (holds before, voids after), "end"
 * (both before: the round's end, where its holds are checked).
 */
type Placement = "permissive" | "strict" | "end";

/** What holds reserve on a ledger (debits) and will credit it. */
interface Pending {
  readonly debits: bigint;
  readonly credits: bigint;
}

/** A position on a ledger, before or after this round's termination. */
interface Spot {
  readonly ledger: LedgerState;
  readonly position: bigint;
  readonly terminated: boolean;
}

/** Subset sums beyond this many floating effects on one ledger are checked as a range. */
const SUBSETS_MAX = 14;

class Timeline {
  readonly v0: bigint;
  v1: bigint;
  /** balances[i]: the balance at position v0 + i. */
  readonly balances: bigint[];
  /** This round's fresh entries on the ledger, in sequence order once ordered. */
  readonly chain: Link[] = [];
  /** This round's holds and voids on the ledger. */
  readonly floating: Floating[] = [];
  readonly terminatedBefore: boolean;
  terminatedNow = false;
  /** The terminated_at this round's TerminateLedger replies agreed on. */
  terminatedAt: Date | undefined;

  constructor(
    readonly ledger: LedgerState,
    /** What the holds open as the round starts reserve and await. */
    readonly pendingStart: Pending,
  ) {
    this.v0 = versionOf(ledger);
    this.v1 = this.v0;
    this.balances = [ledger.balance];
    this.terminatedBefore = ledger.terminated;
  }

  balanceAt(position: bigint): bigint {
    return this.balances[Number(position - this.v0)] as bigint;
  }

  /** The link whose entry sits at `position` (none at v0). */
  linkAt(position: bigint): Link | undefined {
    return position === this.v0 ? undefined : this.chain[Number(position - this.v0) - 1];
  }

  /** The round's fresh post of `tx` on this ledger, if any. */
  postOf(tx: TxState): Link | undefined {
    return this.chain.find(
      ({ fresh }) =>
        fresh.call.request.method === "PostPendingTransaction" && fresh.call.request.tx === tx,
    );
  }

  /** What the round's posts up to `position` released here of what their holds reserved. */
  private released(position: bigint): Pending {
    let debits = 0n;
    let credits = 0n;
    for (const { fresh, entry } of this.chain) {
      const { request } = fresh.call;
      if (entry.sequence > position || request.method !== "PostPendingTransaction") {
        continue;
      }
      for (const leg of shapeOf(request.tx)) {
        if (leg.ledger === this.ledger) {
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

  /** Holds open as the round starts, less what posts up to `position` released. */
  private pendingBase(position: bigint): Pending {
    const released = this.released(position);
    return {
      debits: this.pendingStart.debits - released.debits,
      credits: this.pendingStart.credits - released.credits,
    };
  }

  /** What holds reserve and await here at `position`, the floating effects placed as `placement` says (`self` left out). */
  pendingAt(position: bigint, placement: Placement, self?: Fresh): Pending {
    let { debits, credits } = this.pendingBase(position);
    for (const f of this.floating) {
      if (f.fresh === self) {
        continue;
      }
      const before = f.kind === "hold" ? placement !== "permissive" : placement !== "strict";
      if (before) {
        const sign = f.kind === "hold" ? 1n : -1n;
        debits += sign * f.debits;
        credits += sign * f.credits;
      }
    }
    return { debits, credits };
  }

  /** Whether a read at `position` may show these pending totals: some of the round's holds made, some of its voids done. */
  pendingPossible(position: bigint, shown: Pending): boolean {
    const base = this.pendingBase(position);
    const signed = (f: Floating, of: "debits" | "credits") => (f.kind === "hold" ? f[of] : -f[of]);
    return (["debits", "credits"] as const).every((of) =>
      reachableSum(
        base[of],
        this.floating.map((f) => signed(f, of)).filter((d) => d !== 0n),
        shown[of],
      ),
    );
  }

  /** What remains reversible of `tx` at `position`, `magnitude` its amount there: this round's reversals of it up to there deducted. */
  remainingAt(tx: TxState, position: bigint, magnitude: bigint): bigint {
    let remaining = magnitude - tx.reversed;
    for (const { fresh, entry } of this.chain) {
      const { request } = fresh.call;
      if (
        entry.sequence <= position &&
        request.method === "ReverseTransaction" &&
        request.tx === tx
      ) {
        remaining -= magnitudeOf(entry.amount);
      }
    }
    return remaining;
  }

  /** Every spot on the ledger: each position, before and/or after a termination. */
  spots(): Spot[] {
    const spots: Spot[] = [];
    for (let position = this.v0; position <= this.v1; position += 1n) {
      spots.push(...this.spotsAt(position));
    }
    return spots;
  }

  spotsAt(position: bigint): Spot[] {
    const terminations = this.terminatedBefore
      ? [true]
      : this.terminatedNow && position === this.v1
        ? [false, true]
        : [false];
    return terminations.map((terminated) => ({ ledger: this.ledger, position, terminated }));
  }
}

/** Whether `base` plus the sum of some subset of `deltas` is `target`. */
function reachableSum(base: bigint, deltas: readonly bigint[], target: bigint): boolean {
  if (deltas.length > SUBSETS_MAX) {
    const low = deltas.reduce((sum, d) => (d < 0n ? sum + d : sum), base);
    const high = deltas.reduce((sum, d) => (d > 0n ? sum + d : sum), base);
    return target >= low && target <= high;
  }
  let sums = new Set<bigint>([base]);
  for (const delta of deltas) {
    sums = new Set([...sums, ...[...sums].map((sum) => sum + delta)]);
  }
  return sums.has(target);
}

type Flag = (call: Call | undefined, text: string) => void;

class RoundOrder {
  private readonly lines: Map<LedgerState, Timeline>;
  private readonly byId: Map<string, LedgerState>;
  /** The round's fresh voids, by the hold they void (the first, when there are two). */
  private readonly voids = new Map<TxState, Fresh>();
  /** Set when the order itself is broken: points then mean nothing, and are not checked. */
  broken = false;

  constructor(
    ledgers: readonly LedgerState[],
    /** The round's clock: a hold past its deadline by then is EXPIRED throughout. */
    readonly now: Date,
    pendingStart: (ledger: LedgerState) => Pending,
  ) {
    this.lines = new Map(ledgers.map((l) => [l, new Timeline(l, pendingStart(l))]));
    this.byId = new Map(ledgers.map((l) => [l.id, l]));
  }

  line(ledger: LedgerState): Timeline {
    return this.lines.get(ledger) as Timeline;
  }

  ledger(id: string): LedgerState | undefined {
    return this.byId.get(id);
  }

  timelines(): IterableIterator<Timeline> {
    return this.lines.values();
  }

  /** Links the fresh writes into per-ledger chains (holds and voids float), then checks that one order holds them all. */
  order(fresh: readonly Fresh[], flag: Flag): void {
    const sequenced = fresh.filter((write) => write.entries.length > 0);
    for (const write of sequenced) {
      for (const entry of write.entries) {
        this.line(this.byId.get(entry.ledgerId) as LedgerState).chain.push({ fresh: write, entry });
      }
    }
    for (const write of fresh) {
      if (write.entries.length === 0) {
        this.float(write, flag);
      }
    }
    for (const line of this.lines.values()) {
      this.chain(line, flag);
    }
    if (!this.broken) {
      this.sort(sequenced, flag);
    }
  }

  /** A hold or a void of the round, on each ledger it holds on. */
  private float(write: Fresh, flag: Flag): void {
    const { request } = write.call;
    const legs: { ledgerId: string; amount: bigint }[] =
      request.method === "VoidPendingTransaction"
        ? shapeOf(request.tx).map((leg) => ({ ledgerId: leg.ledger.id, amount: leg.amount }))
        : "pendingEntries" in write.value
          ? [...write.value.pendingEntries]
          : [];
    if (request.method === "VoidPendingTransaction" && !this.voids.has(request.tx)) {
      this.voids.set(request.tx, write);
    }
    for (const { ledgerId, amount } of legs) {
      const ledger = this.byId.get(ledgerId);
      if (ledger === undefined) {
        flag(write.call, `it holds on ledger ${ledgerId}, which is not one of the round's`);
        this.broken = true;
        continue;
      }
      this.line(ledger).floating.push({
        fresh: write,
        kind: request.method === "VoidPendingTransaction" ? "void" : "hold",
        debits: amount < 0n ? -amount : 0n,
        credits: amount > 0n ? amount : 0n,
      });
    }
  }

  /** A ledger's fresh entries: the gapless run after v0, each balance the previous plus its amount. */
  private chain(line: Timeline, flag: Flag): void {
    line.chain.sort((a, b) => (a.entry.sequence < b.entry.sequence ? -1 : 1));
    const sequences = line.chain.map((link) => link.entry.sequence);
    const expected = line.chain.map((_, i) => line.v0 + BigInt(i + 1));
    if (!same(sequences, expected)) {
      flag(
        undefined,
        `${line.ledger.name}: the fresh entries of the round have sequences [${sequences.join(", ")}], not the gapless run [${expected.join(", ")}] after version ${line.v0}`,
      );
      this.broken = true;
      return;
    }
    for (const { entry } of line.chain) {
      line.balances.push(line.balanceAt(entry.sequence - 1n) + entry.amount);
    }
    line.v1 = line.v0 + BigInt(line.chain.length);
  }

  /**
   * A topological order of the writes (each after its predecessor on every
   * ledger it touches), computing what each must come after; a cycle means
   * no global order exists.
   */
  private sort(fresh: readonly Fresh[], flag: Flag): void {
    const predecessors = new Map<Fresh, Fresh[]>(fresh.map((f) => [f, []]));
    for (const line of this.lines.values()) {
      line.chain.forEach((link, i) => {
        const before = line.chain[i - 1];
        if (before !== undefined) {
          predecessors.get(link.fresh)?.push(before.fresh);
        }
      });
    }
    const pending = new Set(fresh);
    let progress = true;
    while (pending.size > 0 && progress) {
      progress = false;
      for (const write of pending) {
        const before = predecessors.get(write) ?? [];
        if (before.every((b) => !pending.has(b))) {
          this.reach(write, before);
          pending.delete(write);
          progress = true;
        }
      }
    }
    if (pending.size > 0) {
      flag(
        undefined,
        `no serial order holds the round: the ledgers order these writes in a cycle: ${[...pending].map((f) => describeCall(f.call)).join(" | ")}`,
      );
      this.broken = true;
    }
  }

  private reach(write: Fresh, before: readonly Fresh[]): void {
    for (const earlier of before) {
      for (const [ledger, sequence] of earlier.reach) {
        write.reach.set(ledger, max(write.reach.get(ledger), sequence));
      }
    }
    for (const entry of write.entries) {
      const ledger = this.byId.get(entry.ledgerId) as LedgerState;
      write.reach.set(ledger, max(write.reach.get(ledger), entry.sequence));
    }
  }

  /** The point just before a fresh write with entries: what its own request saw. */
  pointBefore(write: Fresh): PointState {
    const spots = write.entries.map((entry) => {
      const line = this.line(this.byId.get(entry.ledgerId) as LedgerState);
      return {
        ledger: line.ledger,
        position: entry.sequence - 1n,
        terminated: line.terminatedBefore,
      };
    });
    return this.point(spots, "permissive", write);
  }

  /** The round's end (after every entry and every other hold and void, before a termination): where a fresh hold is checked. */
  pointAtEnd(write: Fresh, ledgers: readonly LedgerState[]): PointState {
    const spots = ledgers.map((ledger) => {
      const line = this.line(ledger);
      return { ledger, position: line.v1, terminated: line.terminatedBefore };
    });
    return this.point(spots, "end", write);
  }

  /** The round's start (every other void before it): where a fresh void is checked. */
  pointAtStart(write: Fresh, ledgers: readonly LedgerState[]): PointState {
    const spots = ledgers.map((ledger) => {
      const line = this.line(ledger);
      return { ledger, position: line.v0, terminated: line.terminatedBefore };
    });
    return this.point(spots, "permissive", write);
  }

  /**
   * Every point on `ledgers` that some global order passes through, leaving
   * `excluded` (a key's winner) out of what came before; each with the
   * round's holds and voids placed both ways.
   */
  points(ledgers: readonly LedgerState[], excluded: Fresh | undefined): PointState[] {
    const combos = ledgers.reduce<Spot[][]>(
      (partial, ledger) =>
        partial.flatMap((spots) =>
          this.line(ledger)
            .spots()
            .map((s) => [...spots, s]),
        ),
      [[]],
    );
    return combos
      .filter((spots) => this.reachable(spots, excluded))
      .flatMap((spots) =>
        (["permissive", "strict"] as const).map((placement) =>
          this.point(spots, placement, excluded),
        ),
      );
  }

  /** The closure of the spots' entries holds nothing past them, and not `excluded`. */
  private reachable(spots: readonly Spot[], excluded: Fresh | undefined): boolean {
    const closure = new Map<LedgerState, bigint>();
    for (const spot of spots) {
      for (const [ledger, sequence] of this.line(spot.ledger).linkAt(spot.position)?.fresh.reach ??
        []) {
        closure.set(ledger, max(closure.get(ledger), sequence));
      }
    }
    const within = spots.every(
      (spot) => (closure.get(spot.ledger) ?? spot.position) <= spot.position,
    );
    const [first] = excluded?.entries ?? [];
    if (!within || excluded === undefined || first === undefined) {
      return within;
    }
    const ledger = this.byId.get(first.ledgerId) as LedgerState;
    return (closure.get(ledger) ?? this.line(ledger).v0) < first.sequence;
  }

  /** The state at the spots, the floating effects placed as `placement` says, `self` (the call's own write or key's winner) left out. */
  private point(spots: readonly Spot[], placement: Placement, self: Fresh | undefined): PointState {
    const spotOf = (ledger: LedgerState): Spot => {
      const spot = spots.find((s) => s.ledger === ledger);
      if (spot === undefined) {
        throw new Error(`no position on ${ledger.name} at this point`);
      }
      return spot;
    };
    /** The round's post of `tx` when it comes at or before the point. */
    const postedBy = (tx: TxState): Link | undefined => {
      const [first] = shapeOf(tx);
      if (first === undefined) {
        return undefined;
      }
      const post = this.line(first.ledger).postOf(tx);
      return post !== undefined && spotOf(first.ledger).position >= post.entry.sequence
        ? post
        : undefined;
    };
    const amount = (tx: TxState): bigint => {
      const post = postedBy(tx);
      return post === undefined ? tx.magnitude : magnitudeOf(post.entry.amount);
    };
    return {
      at: (ledger) => {
        const spot = spotOf(ledger);
        const line = this.line(ledger);
        return {
          balance: line.balanceAt(spot.position),
          terminated: spot.terminated,
          pendingDebits: line.pendingAt(spot.position, placement, self).debits,
        };
      },
      holdState: (tx) => {
        const state = holdStateAt(tx, this.now);
        if (state !== "PENDING") {
          return state;
        }
        if (postedBy(tx) !== undefined) {
          return "POSTED";
        }
        const voided = this.voids.get(tx);
        return voided !== undefined && voided !== self && placement !== "strict"
          ? "VOIDED"
          : "PENDING";
      },
      amount,
      remaining: (tx) => {
        const ledger = (shapeOf(tx)[0] as Leg<LedgerState>).ledger;
        return this.line(ledger).remainingAt(tx, spotOf(ledger).position, amount(tx));
      },
      text: `${spots
        .map(
          (s) =>
            `${s.ledger.name.split(" ")[0]}@${s.position}:${this.line(s.ledger).balanceAt(s.position)}/${this.line(s.ledger).pendingAt(s.position, placement, self).debits}${s.terminated ? "T" : ""}`,
        )
        .join(" ")}${placement === "strict" ? "!" : ""}`,
    };
  }
}

export interface RoundResult {
  /** Problems found; empty when one serial order explains every reply. */
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

  /** Counts an outcome, and the same outcome for this kind of request. */
  private countFor(request: WriteRequest, what: string): void {
    this.count(what);
    this.count(`${labelOf(request)}: ${what}`);
  }

  /** The holds open at `now` (PENDING, before their deadline). */
  openHolds(now: Date): TxState[] {
    return this.transactions.filter((tx) => tx.hold !== undefined && isOpen(tx, now));
  }

  /** What open holds reserve on a ledger and will credit it, at `now`. */
  pending(ledger: LedgerState, now: Date): Pending {
    let debits = 0n;
    let credits = 0n;
    for (const tx of this.openHolds(now)) {
      for (const leg of shapeOf(tx)) {
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

  /**
   * Checks one round's replies (every call settled) and, when nothing is
   * wrong, applies the round to the world. `now`: when the round started;
   * the spec keeps every hold's deadline away from the round.
   */
  checkRound(round: number, calls: readonly Call[], now = new Date()): RoundResult {
    const violations: string[] = [];
    const flag: Flag = (call, text) => {
      violations.push(
        `round ${round}: ${call === undefined ? "" : `${describeCall(call)} → ${describeOutcome(call.outcome)}: `}${text}`,
      );
    };
    const order = new RoundOrder(this.ledgers, now, (ledger) => this.pending(ledger, now));
    const { all, winners: roundWinners } = this.freshWrites(calls, order, flag);
    order.order(all, flag);
    this.checkResolutions(all, flag);
    if (!order.broken) {
      for (const write of all) {
        this.checkFresh(write, order, flag);
      }
    }
    this.checkTerminations(calls, order, all, flag);
    for (const call of calls) {
      if (call.t === "write") {
        this.explainWrite(call, order, roundWinners, flag);
      } else if (call.t !== "terminate") {
        this.explainRead(call, order.line(call.ledger), order.broken, flag);
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
      this.apply(round, order, roundWinners);
    }
    return {
      violations,
      unclaimed: [...unclaimed].map(([key, request]) => ({ key, request })),
    };
  }

  /**
   * The round's fresh successes, each with one entry per leg on the ledgers
   * it names; `winners`: the first under each key (a second is a violation,
   * but still holds its place in the order).
   */
  private freshWrites(
    calls: readonly Call[],
    order: RoundOrder,
    flag: Flag,
  ): { all: Fresh[]; winners: Map<string, Fresh> } {
    const all: Fresh[] = [];
    const winners = new Map<string, Fresh>();
    for (const call of calls) {
      if (call.t !== "write" || !isWritten(call.outcome) || call.outcome.replayed) {
        continue;
      }
      const value = call.outcome.value;
      const entries = entriesOf(value);
      const wanted = postedLedgersOf(call.request).map((l) => l.id);
      if (
        !same(
          entries.map((e) => e.ledgerId),
          wanted,
        )
      ) {
        flag(
          call,
          `its entries are on ledgers ${show(entries.map((e) => e.ledgerId))}, want ${show(wanted)}`,
        );
        order.broken = true;
        continue;
      }
      const earlier = this.winners.get(call.key);
      const firstWrite = earlier ?? winners.get(call.key);
      const first = firstWrite === undefined ? undefined : identityOf(firstWrite);
      if (first === identityOf({ value, entries })) {
        flag(call, "the key's first write again, but with replayed = false");
        continue;
      }
      const fresh: Fresh = { call, value, entries, reach: new Map() };
      all.push(fresh);
      if (first !== undefined) {
        flag(
          call,
          `a second effect under key ${call.key} (first: ${earlier === undefined ? "this round" : `round ${earlier.round}`}, ${first})`,
        );
      } else {
        winners.set(call.key, fresh);
      }
    }
    return { all, winners };
  }

  /**
   * At most one fresh post or void per hold, ever: two of one hold in a
   * round, or one of a hold an earlier round resolved, is a violation
   * whatever the order.
   */
  private checkResolutions(all: readonly Fresh[], flag: Flag): void {
    const seen = new Map<TxState, Fresh>();
    for (const fresh of all) {
      const { request } = fresh.call;
      if (
        request.method !== "PostPendingTransaction" &&
        request.method !== "VoidPendingTransaction"
      ) {
        continue;
      }
      const first = seen.get(request.tx);
      if (first !== undefined) {
        flag(
          fresh.call,
          `a second resolution of hold ${request.tx.id} in the round (the first: ${describeCall(first.call)})`,
        );
      } else if (request.tx.hold !== undefined && request.tx.hold.state !== "PENDING") {
        flag(fresh.call, `hold ${request.tx.id} was ${request.tx.hold.state} in an earlier round`);
      }
      seen.set(request.tx, first ?? fresh);
    }
  }

  /**
   * A fresh write is what its request yields at its own point (a hold: at
   * the round's end, with every hold of the round; a void: at its start),
   * and its reply is its own.
   */
  private checkFresh(write: Fresh, order: RoundOrder, flag: Flag): void {
    const { call, entries, value } = write;
    const { request } = call;
    const point =
      entries.length > 0
        ? order.pointBefore(write)
        : isHold(request)
          ? order.pointAtEnd(write, ledgersOf(request))
          : order.pointAtStart(write, ledgersOf(request));
    const answer = answerAt(request, point);
    const legs =
      entries.length > 0
        ? entries.map((e) => `${e.amount} on ${e.ledgerId}`)
        : "pendingEntries" in value && isHold(request)
          ? value.pendingEntries.map((e) => `${e.amount} on ${e.ledgerId}`)
          : [];
    const answered = answer.ok ? answer.legs.map((l) => `${l.amount} on ${l.ledger.id}`) : [];
    if (!answer.ok || !same(answered, legs)) {
      flag(
        call,
        `at ${point.text} the request answers ${showAnswer(answer)}, not ${isHold(request) ? "held legs" : "entries"} of ${legs.join(", ") || "(none)"}`,
      );
    }
    for (const entry of entries) {
      const ledger = order.line(this.ledgerOf(entry));
      const before = ledger.balanceAt(entry.sequence - 1n);
      if (entry.balanceAfter !== before + entry.amount) {
        flag(
          call,
          `balance_after ${entry.balanceAfter} ≠ ${before} + ${entry.amount} on ${ledger.ledger.name}`,
        );
      }
    }
    const { actual, wanted } = replyShape(call.request, write.value);
    if (!same(actual, wanted)) {
      flag(call, `the reply is ${show(actual)}, want ${show(wanted)}: not this request's reply`);
    }
    this.countFor(call.request, "fresh");
  }

  private ledgerOf(entry: Entry): LedgerState {
    return this.ledgers.find((l) => l.id === entry.ledgerId) as LedgerState;
  }

  /**
   * Every TerminateLedger reply shows the ledger after the round's last
   * entry, at one terminated_at, with no hold left open on it; a refusal
   * for open holds needs one open at some point of the round.
   */
  private checkTerminations(
    calls: readonly Call[],
    order: RoundOrder,
    all: readonly Fresh[],
    flag: Flag,
  ): void {
    for (const call of calls) {
      if (call.t === "terminate" && !(call.outcome instanceof Error)) {
        order.line(call.ledger).terminatedNow ||= !call.ledger.terminated;
      }
    }
    for (const call of calls) {
      if (call.t !== "terminate") {
        continue;
      }
      const line = order.line(call.ledger);
      const outcome = call.outcome;
      if (outcome instanceof Error) {
        if (isAborted(outcome)) {
          this.count("aborted");
        } else if (
          outcome instanceof RpcFailure &&
          outcome.reason === "LEDGER_HAS_PENDING_TRANSACTIONS" &&
          outcome.code === REASON_CODES[outcome.reason] &&
          outcome.metadata.ledger_id === call.ledger.id
        ) {
          this.count("terminate: LEDGER_HAS_PENDING_TRANSACTIONS");
          if (!order.broken && !this.mayHoldOpen(line, order.now)) {
            flag(call, "refused for open holds, but no hold was open on it at any point");
          }
        } else {
          flag(
            call,
            "TerminateLedger may only fail with CONCURRENCY_CONFLICT or LEDGER_HAS_PENDING_TRANSACTIONS",
          );
        }
        continue;
      }
      this.count("terminate");
      if (order.broken || outcome === undefined) {
        continue;
      }
      this.checkTermination(call, outcome, line, flag);
      const open = this.openAtEnd(line, order.now, all);
      if (open.length > 0) {
        flag(call, `terminated with holds open on it: ${open.join(", ")}`);
      }
    }
  }

  /** Some hold is open on the ledger at some point of the round: one open as it started, or one made in it. */
  private mayHoldOpen(line: Timeline, now: Date): boolean {
    const { ledger } = line;
    return (
      !line.terminatedBefore &&
      (this.openHolds(now).some((tx) => shapeOf(tx).some((leg) => leg.ledger === ledger)) ||
        line.floating.some((f) => f.kind === "hold"))
    );
  }

  /** The holds still open on the ledger once the round is over: its holds, and those open before it and not resolved in it. */
  private openAtEnd(line: Timeline, now: Date, all: readonly Fresh[]): string[] {
    const resolved = new Set(
      all.flatMap(({ call: { request } }) =>
        request.method === "PostPendingTransaction" || request.method === "VoidPendingTransaction"
          ? [request.tx]
          : [],
      ),
    );
    const before = this.openHolds(now).filter(
      (tx) => !resolved.has(tx) && shapeOf(tx).some((leg) => leg.ledger === line.ledger),
    );
    const made = line.floating.filter((f) => f.kind === "hold");
    return [
      ...before.map((tx) => `${tx.id} (open before the round)`),
      ...made.map((f) => `${f.fresh.value.id} (held in the round)`),
    ];
  }

  private checkTermination(call: Call, outcome: Ledger, line: Timeline, flag: Flag): void {
    const expected = {
      id: line.ledger.id,
      status: "TERMINATED",
      version: line.v1,
      balance: line.balanceAt(line.v1),
      pending: [0n, 0n],
      available: line.balanceAt(line.v1),
    };
    const actual = {
      id: outcome.id,
      status: outcome.status,
      version: outcome.version,
      balance: outcome.balance,
      pending: [outcome.pendingDebits, outcome.pendingCredits],
      available: outcome.available,
    };
    if (!same(actual, expected)) {
      flag(
        call,
        `a termination must follow the round's last entry: got ${show(actual)}, want ${show(expected)}`,
      );
    }
    const at = line.terminatedBefore ? line.ledger.terminatedAt : line.terminatedAt;
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

  private explainWrite(
    call: WriteCall,
    order: RoundOrder,
    roundWinners: ReadonlyMap<string, Fresh>,
    flag: Flag,
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
        return; // a fresh success: checked at its point of the order
      }
      this.countFor(call.request, "replay");
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
    if (
      reason === "INVALID_ARGUMENT" &&
      outcome.metadata.field === "pending_expires_at" &&
      answeredPastDeadline(call)
    ) {
      // Sent before its deadline, answered after it: the server may have seen it either side.
      this.count("late for its deadline");
      return;
    }
    if (outcome.code !== REASON_CODES[reason] || outcome.domain !== ERROR_DOMAIN) {
      flag(call, `reason ${reason} comes with code ${outcome.code} and domain ${outcome.domain}`);
      return;
    }
    this.countFor(call.request, reason);
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
    if (order.broken) {
      return;
    }
    // A refusal sits where the key was still free: before its winner.
    if (earlier !== undefined) {
      flag(
        call,
        `refused for its state, but its key was claimed in round ${earlier.round}: a replay or IDEMPOTENCY_KEY_REUSED was due`,
      );
      return;
    }
    this.placeRefusal(call, outcome, order, current, flag);
  }

  /** A business refusal needs a point (before its key's winner) that refuses it with its reason and ledger. */
  private placeRefusal(
    call: WriteCall,
    failure: RpcFailure,
    order: RoundOrder,
    winner: Fresh | undefined,
    flag: Flag,
  ): void {
    const reason = failure.reason;
    const named = failure.metadata.ledger_id;
    const seen: string[] = [];
    let explained = false;
    let accepted = false;
    for (const point of order.points(ledgersOf(call.request), winner)) {
      const answer = answerAt(call.request, point);
      explained ||=
        !answer.ok &&
        answer.reason === reason &&
        (answer.ledgerId === undefined || answer.ledgerId === named);
      accepted ||= answer.ok;
      seen.push(`${point.text}→${showAnswer(answer)}`);
    }
    if (!explained) {
      flag(
        call,
        `no point${winner === undefined ? "" : " before its key's winner"} refuses it with ${reason}${named === undefined ? "" : ` naming ${named}`}: ${seen.join(", ")}`,
      );
    } else if (accepted) {
      this.countFor(call.request, `contested ${reason}`);
    }
  }

  private explainRead(
    call: Extract<Call, { t: "getLedger" | "getBalance" }>,
    line: Timeline,
    broken: boolean,
    flag: Flag,
  ): void {
    const outcome = call.outcome;
    this.count(call.t);
    if (broken) {
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
    const shown = { debits: outcome.pendingDebits, credits: outcome.pendingCredits };
    if (
      !line.pendingPossible(version, shown) ||
      outcome.available !== outcome.balance - outcome.pendingDebits
    ) {
      flag(
        call,
        `pending ${shown.debits}/${shown.credits} and available ${outcome.available} at version ${version}: no placement of the round's holds and voids gives them`,
      );
      return;
    }
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

  private apply(round: number, order: RoundOrder, roundWinners: ReadonlyMap<string, Fresh>): void {
    for (const line of order.timelines()) {
      const { ledger } = line;
      for (const { entry } of line.chain) {
        ledger.history.push(historyEntry(entry));
      }
      ledger.balance = line.balanceAt(line.v1);
      if (line.terminatedNow) {
        ledger.terminated = true;
        ledger.terminatedAt = line.terminatedAt;
      }
    }
    for (const [key, fresh] of roundWinners) {
      this.applyWrite(fresh, order);
      const winner: Winner = {
        key,
        request: fresh.call.request,
        fingerprint: requestFingerprint(fresh.call.request),
        value: fresh.value,
        entries: fresh.entries,
        round,
      };
      this.winners.set(key, winner);
      this.winnerList.push(winner);
    }
  }

  /** A fresh write as later rounds see it: a new transaction, or a hold posted or voided. */
  private applyWrite(fresh: Fresh, order: RoundOrder): void {
    const { request } = fresh.call;
    if (
      request.method === "PostPendingTransaction" ||
      request.method === "VoidPendingTransaction"
    ) {
      const { tx } = request;
      const hold = tx.hold;
      if (hold === undefined) {
        return; // a violation already
      }
      if (request.method === "VoidPendingTransaction") {
        hold.state = "VOIDED";
        return;
      }
      hold.state = "POSTED";
      tx.legs = fresh.entries.map((entry) => ({
        ledger: order.ledger(entry.ledgerId) as LedgerState,
        amount: entry.amount,
      }));
      tx.magnitude = magnitudeOf((fresh.entries[0] as Entry).amount);
      return;
    }
    if (isHold(request)) {
      this.transactions.push(this.holdOf(fresh, order));
      return;
    }
    this.transactions.push(this.transactionOf(fresh));
  }

  /** A fresh hold, as later rounds may post, void or reverse it. */
  private holdOf(fresh: Fresh, order: RoundOrder): TxState {
    const value = fresh.value as Transaction;
    const kind = fresh.call.request.method === "RecordEntry" ? "ENTRY" : "TRANSFER";
    return {
      id: value.id,
      kind,
      magnitude: value.heldAmount,
      legs: [],
      singleSided: kind === "ENTRY",
      reversed: 0n,
      hold: {
        pendingLegs: value.pendingEntries.map((e) => ({
          ledger: order.ledger(e.ledgerId) as LedgerState,
          amount: e.amount,
        })),
        held: value.heldAmount,
        expiresAt: value.pendingExpiresAt ?? new Date(8.64e15),
        state: "PENDING",
      },
    };
  }

  /** A fresh write as a transaction later rounds may reverse (and a reversal's original updated). */
  private transactionOf(fresh: Fresh): TxState {
    const { request } = fresh.call;
    const legs = fresh.entries.map((entry) => ({
      ledger: this.ledgerOf(entry),
      amount: entry.amount,
    }));
    const first = fresh.entries[0] as Entry;
    const magnitude = magnitudeOf(first.amount);
    if (request.method === "ReverseTransaction") {
      request.tx.reversed += magnitude;
    }
    const kind =
      request.method === "RecordEntry"
        ? "ENTRY"
        : request.method === "Transfer"
          ? "TRANSFER"
          : "REVERSAL";
    const singleSided =
      request.method === "ReverseTransaction" ? request.tx.singleSided : kind === "ENTRY";
    return { id: first.transactionId, kind, magnitude, legs, singleSided, reversed: 0n };
  }
}

/** The fields of a fresh reply that name its request, and what they must be. */
function replyShape(
  request: WriteRequest,
  value: Entry | Transaction,
): { actual: unknown; wanted: unknown } {
  const entries = entriesOf(value);
  if (
    (request.method === "RecordEntry" || request.method === "Transfer") &&
    request.params.pending === true
  ) {
    const tx = value as Transaction;
    const operation =
      request.method === "Transfer"
        ? transferOperation(request.params.operation)
        : request.params.operation;
    const kind = request.method === "Transfer" ? "TRANSFER" : "ENTRY";
    return {
      actual: {
        head: [tx.kind, tx.state, tx.amount, tx.reversedAmount, tx.entries.length],
        legs: tx.pendingEntries.map((e) => [e.operation, e.reference]),
        history: tx.history.map((event) => [event.state, event.amount]),
      },
      wanted: {
        head: [kind, "PENDING", tx.heldAmount, 0n, 0],
        legs: tx.pendingEntries.map(() => [operation, request.tag]),
        history: [["PENDING", tx.heldAmount]],
      },
    };
  }
  switch (request.method) {
    case "RecordEntry":
      return {
        actual: entries.map((e) => [e.operation, e.reference]),
        wanted: [[request.params.operation, request.tag]],
      };
    case "Transfer": {
      const tx = value as Transaction;
      const operation = transferOperation(request.params.operation);
      return {
        actual: {
          head: [tx.kind, tx.state, tx.amount, tx.reversedAmount, tx.reversesTransactionId],
          entries: entries.map((e) => [e.transactionId, e.operation, e.reference]),
        },
        wanted: {
          head: ["TRANSFER", "POSTED", request.params.amount, 0n, ""],
          entries: entries.map(() => [tx.id, operation, request.tag]),
        },
      };
    }
    case "ReverseTransaction": {
      const tx = value as Transaction;
      const first = entries[0];
      const magnitude = magnitudeOf(first?.amount ?? 0n);
      return {
        actual: {
          head: [tx.kind, tx.reversesTransactionId, tx.amount, tx.reversedAmount],
          entries: entries.map((e) => [
            e.transactionId,
            e.operation,
            e.description,
            e.reversesTransactionId,
          ]),
        },
        wanted: {
          head: ["REVERSAL", request.tx.id, magnitude, 0n],
          entries: entries.map(() => [tx.id, "REVERSAL", request.tag, request.tx.id]),
        },
      };
    }
    case "PostPendingTransaction": {
      const tx = value as Transaction;
      const held = request.tx.hold?.held;
      const amount = request.params.amount ?? held;
      return {
        actual: {
          head: [tx.id, tx.state, tx.amount, tx.heldAmount, tx.reversedAmount],
          entries: entries.map((e) => [e.transactionId, e.reversesTransactionId]),
          history: tx.history.map((event) => [event.state, event.amount]),
        },
        wanted: {
          head: [request.tx.id, "POSTED", amount, held, 0n],
          entries: entries.map(() => [request.tx.id, ""]),
          history: [
            ["PENDING", held],
            ["POSTED", amount],
          ],
        },
      };
    }
    case "VoidPendingTransaction": {
      const tx = value as Transaction;
      const held = request.tx.hold?.held;
      return {
        actual: {
          head: [tx.id, tx.state, tx.amount, tx.heldAmount, tx.entries.length],
          history: tx.history.map((event) => [event.state, event.amount]),
        },
        wanted: {
          head: [request.tx.id, "VOIDED", held, held, 0],
          history: [
            ["PENDING", held],
            ["VOIDED", held],
          ],
        },
      };
    }
  }
}

/** A fresh write's identity: its first entry, or (no entries) its transaction. */
function identityOf(write: { value: Entry | Transaction; entries: readonly Entry[] }): string {
  const [first] = write.entries;
  return first === undefined ? `transaction ${write.value.id}` : `entry ${first.id}`;
}

/** A request with a deadline answered at or after it (INVALID_ARGUMENT is then no surprise). */
function answeredPastDeadline(call: WriteCall): boolean {
  const { params } = call.request as { params: { pendingExpiresAt?: Date } };
  return (
    params.pendingExpiresAt !== undefined &&
    call.answeredAt !== undefined &&
    call.answeredAt >= params.pendingExpiresAt.getTime()
  );
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

function max(a: bigint | undefined, b: bigint): bigint {
  return a === undefined || b > a ? b : a;
}

function showAnswer(answer: Ruling<LedgerState>): string {
  if (answer.ok) {
    return `ok ${answer.legs.map((leg) => leg.amount).join("/")}`;
  }
  return answer.ledgerId === undefined
    ? answer.reason
    : `${answer.reason}@${answer.ledgerId.slice(-6)}`;
}

function show(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `${v}` : v));
}

function same(a: unknown, b: unknown): boolean {
  return show(a) === show(b);
}
