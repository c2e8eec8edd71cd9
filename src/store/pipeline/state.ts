import { v7 as uuidv7 } from "uuid";
import {
  absMinor,
  assertActive,
  assertWithinWindow,
  backdate,
  balanceAfterPosting,
  type Entry,
  entryTime,
  externalIdAlreadyUsed,
  type HistoryStep,
  type HistoryTail,
  type Hold,
  historyAfter,
  invariant,
  type Ledger,
  lapsedAt,
  type NewTransaction,
  nextSequence,
  type PendingEntry,
  type Posting,
  release,
  reserve,
  type Termination,
  type Transaction,
} from "../../domain/index.js";
import { inScope, type Scope } from "../scope.js";

/** What a write command answers: a ledger (create), an entry, a transaction, or a termination. */
export type CommandResult = Ledger | Entry | Transaction | Termination;

/** An idempotency key this batch claims: the request it was claimed for and its answer. */
export interface BatchClaim {
  readonly app: string;
  readonly key: string;
  readonly method: string;
  readonly requestHash: string;
  readonly resourceId: string;
  readonly createdAt: Date;
  readonly result: CommandResult;
}

/** What the batch writes once every command is applied. */
export interface BatchWrites {
  /** New transactions, holds included. */
  readonly transactions: readonly Transaction[];
  /** New entries: of the new transactions, and of the holds posted. */
  readonly entries: readonly Entry[];
  readonly createdLedgers: readonly Ledger[];
  /** Ledgers whose balance, version, status or holds changed: [final, as locked]. */
  readonly changedLedgers: ReadonlyArray<readonly [Ledger, Ledger]>;
  /** Locked transactions reversed, posted, voided or expired: [final, as locked]. */
  readonly changedTransactions: ReadonlyArray<readonly [Transaction, Transaction]>;
  readonly claims: readonly BatchClaim[];
  /** Stored entries whose running balance a backdated entry moved. */
  readonly recomputedEntries: readonly HistoryStep[];
}

/**
 * The ledgers, transactions and idempotency keys of one batch, in memory,
 * as the commands applied so far left them. A fork is a scratch copy for an
 * atomic group: merged when every command of the group succeeds, dropped
 * otherwise. Nothing here touches the database.
 */
export class BatchState {
  private readonly ledgers = new Map<string, Ledger>();
  private readonly transactions = new Map<string, Transaction>();
  private readonly activeOwners = new Map<string, string | undefined>();
  private readonly claims = new Map<string, BatchClaim>();
  /** External ids this batch gives its transactions, by scopeKey(app, id). */
  private readonly externalIds = new Map<string, string>();
  private readonly written: Transaction[] = [];
  private readonly entries: Entry[] = [];
  private readonly created: Ledger[] = [];
  /** The history tails backdates and later appends changed, by ledger. */
  private readonly histories = new Map<string, HistoryTail>();
  /** How many later entries each backdated transaction recomputed. */
  private readonly recomputedCounts = new Map<string, number>();

  private constructor(
    private readonly parent: BatchState | undefined,
    /** The rows as locked; the base of every fork. */
    private readonly locked: {
      readonly ledgers: ReadonlyMap<string, Ledger>;
      readonly transactions: ReadonlyMap<string, Transaction>;
      readonly activeOwners: ReadonlyMap<string, string>;
      /** The transaction that has each external id the batch's commands name, by scopeKey. */
      readonly externalIds: ReadonlyMap<string, string>;
      /** The holds still open on each ledger a termination voids them on (locked too). */
      readonly openHolds: ReadonlyMap<string, readonly string[]>;
      /** The history a backdate reaches, of each ledger a command backdates an entry on. */
      readonly histories: ReadonlyMap<string, HistoryTail>;
    },
  ) {}

  static of(locked: BatchState["locked"]): BatchState {
    return new BatchState(undefined, locked);
  }

  fork(): BatchState {
    return new BatchState(this, this.locked);
  }

  /** Makes a fork's changes its parent's. */
  merge(): void {
    const parent = this.parent;
    invariant(parent !== undefined, "only a fork merges");
    for (const [id, ledger] of this.ledgers) parent.ledgers.set(id, ledger);
    for (const [id, transaction] of this.transactions) parent.transactions.set(id, transaction);
    for (const [owner, id] of this.activeOwners) parent.activeOwners.set(owner, id);
    for (const [scope, claim] of this.claims) parent.claims.set(scope, claim);
    for (const [scope, id] of this.externalIds) parent.externalIds.set(scope, id);
    for (const [id, tail] of this.histories) parent.histories.set(id, tail);
    for (const [id, count] of this.recomputedCounts) parent.recomputedCounts.set(id, count);
    parent.written.push(...this.written);
    parent.entries.push(...this.entries);
    parent.created.push(...this.created);
  }

  /**
   * A ledger as the batch left it, for a command of `scope`: undefined when
   * it does not exist or is another app's, even when another command of the
   * batch locked it legitimately.
   */
  ledger(id: string, scope: Scope): Ledger | undefined {
    return inScope(this.anyLedger(id), scope);
  }

  /** A transaction as the batch left it, for a command of `scope` (as ledger). */
  transaction(id: string, scope: Scope): Transaction | undefined {
    return inScope(this.anyTransaction(id), scope);
  }

  private anyLedger(id: string): Ledger | undefined {
    return this.ledgers.get(id) ?? this.parent?.anyLedger(id) ?? this.locked.ledgers.get(id);
  }

  private anyTransaction(id: string): Transaction | undefined {
    return (
      this.transactions.get(id) ??
      this.parent?.anyTransaction(id) ??
      this.locked.transactions.get(id)
    );
  }

  activeLedgerId(app: string, ownerId: string, unit: string): string | undefined {
    const owner = ownerKey(app, ownerId, unit);
    if (this.activeOwners.has(owner)) {
      return this.activeOwners.get(owner);
    }
    return this.parent === undefined
      ? this.locked.activeOwners.get(owner)
      : this.parent.activeLedgerId(app, ownerId, unit);
  }

  private history(ledgerId: string): HistoryTail | undefined {
    return (
      this.histories.get(ledgerId) ??
      this.parent?.history(ledgerId) ??
      this.locked.histories.get(ledgerId)
    );
  }

  /** How many later entries a backdated transaction of this batch recomputed (0: none). */
  recomputedBy(transactionId: string): number {
    return (
      this.recomputedCounts.get(transactionId) ?? this.parent?.recomputedBy(transactionId) ?? 0
    );
  }

  /** The holds the loader found open on a ledger a termination voids them on. */
  openHoldIds(ledgerId: string): readonly string[] {
    return this.locked.openHolds.get(ledgerId) ?? [];
  }

  claim(app: string, key: string): BatchClaim | undefined {
    return this.claims.get(scopeKey(app, key)) ?? this.parent?.claim(app, key);
  }

  /** The transaction of the app that has `externalId`, in the database or earlier in the batch. */
  externalTransactionId(app: string, externalId: string): string | undefined {
    const scope = scopeKey(app, externalId);
    return (
      this.externalIds.get(scope) ??
      (this.parent === undefined
        ? this.locked.externalIds.get(scope)
        : this.parent.externalTransactionId(app, externalId))
    );
  }

  addClaim(claim: BatchClaim): void {
    invariant(this.claim(claim.app, claim.key) === undefined, `key ${claim.key} claimed twice`);
    this.claims.set(scopeKey(claim.app, claim.key), claim);
  }

  /**
   * Writes a new transaction: its external id is the app's only one
   * (EXTERNAL_ID_ALREADY_USED); then its postings are posted, or held when it
   * is a hold, each against its ledger as the earlier ones left it, and all
   * are checked before the state changes. `windowed`: the ledgers' validity
   * windows apply (not to the service's own sweep of a closing ledger).
   */
  post(transaction: NewTransaction, windowed = true): Transaction {
    invariant(transaction.postings.length > 0, `transaction ${transaction.id} has no postings`);
    const { app, externalTransactionId: externalId } = transaction;
    const holder = externalId === "" ? undefined : this.externalTransactionId(app, externalId);
    if (holder !== undefined) {
      throw externalIdAlreadyUsed(app, externalId, holder);
    }
    for (const posting of transaction.postings) {
      invariant(
        absMinor(posting.amountMinor) === transaction.amountMinor,
        `a posting of transaction ${transaction.id} differs from its magnitude`,
      );
    }
    const base = {
      id: transaction.id,
      app: transaction.app,
      kind: transaction.kind,
      amountMinor: transaction.amountMinor,
      reversedAmountMinor: 0n,
      reversesTransactionId: transaction.reversesTransactionId,
      externalTransactionId: externalId,
      createdAt: transaction.createdAt,
    };
    const written: Transaction =
      transaction.holdUntil === undefined
        ? {
            ...base,
            state: "POSTED",
            hold: undefined,
            entries: this.postAll(transaction, new Map(), windowed),
          }
        : { ...base, state: "PENDING", entries: [], hold: this.holdAll(transaction) };
    if (externalId !== "") {
      this.externalIds.set(scopeKey(app, externalId), transaction.id);
    }
    this.written.push(written);
    return written;
  }

  /** Adds a reversal's magnitude to the original it compensates. */
  addReversed(originalId: string, amountMinor: bigint): void {
    const original = this.lockedTransaction(originalId);
    const reversedMinor = original.reversedAmountMinor + amountMinor;
    invariant(
      reversedMinor <= original.amountMinor,
      `transaction ${originalId} would be reversed beyond its amount`,
    );
    this.transactions.set(originalId, { ...original, reversedAmountMinor: reversedMinor });
  }

  /**
   * Posts `amountMinor` of an open hold (checked by the caller): each leg is
   * released and its entry written for that amount, in the legs' order.
   */
  postHold(holdId: string, amountMinor: bigint, now: Date): Transaction {
    const held = this.lockedTransaction(holdId);
    const hold = pendingHold(held, now);
    const posting = {
      id: held.id,
      createdAt: now,
      reversesTransactionId: undefined,
      backdatedTo: undefined,
      postings: hold.entries.map((leg) => postingOf(leg, amountMinor, held.externalTransactionId)),
    };
    const entries = this.postAll(posting, this.released(hold, false));
    const posted: Transaction = {
      ...held,
      state: "POSTED",
      amountMinor,
      entries,
      hold: { ...hold, resolvedAt: now },
    };
    this.transactions.set(holdId, posted);
    return posted;
  }

  /** Releases an open hold for good: VOIDED. */
  voidHold(holdId: string, now: Date): Transaction {
    const held = this.lockedTransaction(holdId);
    const hold = pendingHold(held, now);
    this.setLedgers(this.released(hold, false));
    const voided: Transaction = { ...held, state: "VOIDED", hold: { ...hold, resolvedAt: now } };
    this.transactions.set(holdId, voided);
    return voided;
  }

  /** Marks a pending hold past its deadline EXPIRED; false when it is not (any more) one. */
  expireHold(holdId: string, now: Date): boolean {
    const held = this.lockedTransaction(holdId);
    const { hold } = held;
    if (held.state !== "PENDING" || hold === undefined || !lapsedAt(hold, now)) {
      return false;
    }
    this.setLedgers(this.released(hold, true));
    const expired: Transaction = {
      ...held,
      state: "EXPIRED",
      hold: { ...hold, resolvedAt: hold.expiresAt },
    };
    this.transactions.set(holdId, expired);
    return true;
  }

  private lockedTransaction(id: string): Transaction {
    const transaction = this.anyTransaction(id);
    invariant(transaction !== undefined, `transaction ${id} was not locked`);
    return transaction;
  }

  /**
   * Each posting's entry against its ledger as the earlier ones left it,
   * placed in its history (entryTime, or the instant backdated to); all
   * checked before the state changes.
   */
  private postAll(
    transaction: Posted,
    after = new Map<string, Ledger>(),
    windowed = true,
  ): Entry[] {
    const tails = new Map<string, HistoryTail>();
    let recomputed = 0;
    const entries = transaction.postings.map((posting) => {
      const ledger = after.get(posting.ledgerId) ?? this.lockedLedger(posting.ledgerId);
      assertActive(ledger);
      const at = transaction.backdatedTo ?? entryTime(ledger, transaction.createdAt);
      if (windowed) {
        assertWithinWindow(ledger, transaction.createdAt, at);
      }
      const step = { entryId: uuidv7(), createdAt: at, sequence: nextSequence(ledger) };
      const tail = tails.get(ledger.id) ?? this.history(ledger.id);
      const placed = placeInHistory(ledger, tail, step, posting.amountMinor, transaction);
      const balanceMinor = balanceAfterPosting(ledger, posting.amountMinor);
      if (placed !== undefined) {
        tails.set(ledger.id, placed.tail);
        recomputed += placed.recomputed;
      }
      const entry = entryOf(transaction, posting, step, placed?.balanceAfterMinor ?? balanceMinor);
      after.set(ledger.id, {
        ...ledger,
        balanceMinor,
        version: step.sequence,
        historyAt: historyAfter(ledger, at),
      });
      return entry;
    });
    this.setLedgers(after);
    for (const [id, tail] of tails) this.histories.set(id, tail);
    if (recomputed > 0) {
      this.recomputedCounts.set(transaction.id, recomputed);
    }
    this.entries.push(...entries);
    return entries;
  }

  /** Reserves every posting of a hold on its ledger; all checked first. */
  private holdAll(transaction: NewTransaction): Hold {
    invariant(transaction.holdUntil !== undefined, `transaction ${transaction.id} is not a hold`);
    const after = new Map<string, Ledger>();
    for (const posting of transaction.postings) {
      const ledger = after.get(posting.ledgerId) ?? this.lockedLedger(posting.ledgerId);
      if (ledger.status === "ACTIVE")
        assertWithinWindow(ledger, transaction.createdAt, transaction.createdAt);
      after.set(ledger.id, reserve(ledger, posting.amountMinor));
    }
    this.setLedgers(after);
    return {
      heldAmountMinor: transaction.amountMinor,
      expiresAt: transaction.holdUntil,
      entries: transaction.postings.map(pendingEntryOf),
      resolvedAt: undefined,
    };
  }

  /** The hold's ledgers with every leg released; the state is left as it is. */
  private released(hold: Hold, lapsed: boolean): Map<string, Ledger> {
    const after = new Map<string, Ledger>();
    for (const leg of hold.entries) {
      const ledger = after.get(leg.ledgerId) ?? this.lockedLedger(leg.ledgerId);
      after.set(leg.ledgerId, release(ledger, leg.amountMinor, lapsed));
    }
    return after;
  }

  private setLedgers(after: ReadonlyMap<string, Ledger>): void {
    for (const [id, ledger] of after) this.ledgers.set(id, ledger);
  }

  private lockedLedger(id: string): Ledger {
    const ledger = this.anyLedger(id);
    invariant(ledger !== undefined, `ledger ${id} was not locked before posting`);
    return ledger;
  }

  /** A created ledger, now the active one of its app, owner and unit. */
  create(ledger: Ledger): void {
    this.ledgers.set(ledger.id, ledger);
    this.activeOwners.set(ownerKey(ledger.app, ledger.ownerId, ledger.unit), ledger.id);
    this.created.push(ledger);
  }

  /** A terminated ledger; its app, owner and unit may open a new one. */
  terminate(ledger: Ledger): void {
    invariant(ledger.status === "TERMINATED", `ledger ${ledger.id} is not terminated`);
    this.ledgers.set(ledger.id, ledger);
    this.activeOwners.set(ownerKey(ledger.app, ledger.ownerId, ledger.unit), undefined);
  }

  /**
   * The batch's new entries with their final running balances, and the
   * stored entries whose balance a backdate moved: what the histories the
   * batch changed hold, against the histories as read.
   */
  private rebalanced(): Pick<BatchWrites, "entries" | "recomputedEntries"> {
    if (this.histories.size === 0) {
      return { entries: this.entries, recomputedEntries: [] };
    }
    const finalMinor = new Map<string, bigint>();
    const recomputedEntries: HistoryStep[] = [];
    for (const [ledgerId, tail] of this.histories) {
      const read = new Map(
        (this.locked.histories.get(ledgerId)?.steps ?? []).map((s) => [s.entryId, s]),
      );
      for (const step of tail.steps) {
        finalMinor.set(step.entryId, step.balanceAfterMinor);
        const stored = read.get(step.entryId);
        if (stored !== undefined && stored.balanceAfterMinor !== step.balanceAfterMinor) {
          recomputedEntries.push(step);
        }
      }
    }
    const entries = this.entries.map((entry) => {
      const balanceAfterMinor = finalMinor.get(entry.id) ?? entry.balanceAfterMinor;
      return balanceAfterMinor === entry.balanceAfterMinor
        ? entry
        : { ...entry, balanceAfterMinor };
    });
    return { entries, recomputedEntries };
  }

  /** Everything to write, from the root state once the batch is applied. */
  writes(): BatchWrites {
    invariant(this.parent === undefined, "a fork is merged before it is written");
    const { entries, recomputedEntries } = this.rebalanced();
    const createdIds = new Set(this.created.map((ledger) => ledger.id));
    const changedLedgers = [...this.ledgers.values()].flatMap((after) => {
      const before = this.locked.ledgers.get(after.id);
      if (createdIds.has(after.id)) {
        return [];
      }
      invariant(before !== undefined, `ledger ${after.id} was not locked`);
      return sameRow(before, after) ? [] : [[after, before] as const];
    });
    const changedTransactions = [...this.transactions.values()].map((after) => {
      const before = this.locked.transactions.get(after.id);
      invariant(before !== undefined, `transaction ${after.id} was not locked`);
      return [after, before] as const;
    });
    return {
      transactions: this.written,
      entries,
      recomputedEntries,
      createdLedgers: this.created.map((ledger) => this.anyLedger(ledger.id) ?? ledger),
      changedLedgers,
      changedTransactions,
      claims: [...this.claims.values()],
    };
  }
}

/** A transaction as postAll posts it: new, or a hold being posted. */
type Posted = Pick<
  NewTransaction,
  "id" | "createdAt" | "reversesTransactionId" | "postings" | "backdatedTo"
>;

/**
 * Puts an entry in the history tail of its ledger, when the batch loaded
 * one: a backdated entry takes its place and moves the later balances; an
 * entry written now goes last with the ledger's new balance.
 */
function placeInHistory(
  ledger: Ledger,
  tail: HistoryTail | undefined,
  step: Omit<HistoryStep, "balanceAfterMinor">,
  amountMinor: bigint,
  transaction: Posted,
) {
  if (transaction.backdatedTo !== undefined) {
    invariant(tail !== undefined, `the history of ledger ${ledger.id} was not read`);
    const placed = backdate(ledger, tail, step, amountMinor);
    invariant(
      placed.recomputed > 0 || placed.balanceAfterMinor === ledger.balanceMinor + amountMinor,
      `the history of ledger ${ledger.id} does not end at its balance`,
    );
    return placed;
  }
  if (tail === undefined) {
    return undefined;
  }
  const balanceAfterMinor = ledger.balanceMinor + amountMinor;
  return {
    balanceAfterMinor,
    recomputed: 0,
    tail: { ...tail, steps: [...tail.steps, { ...step, balanceAfterMinor }] },
  };
}

export function ownerKey(app: string, ownerId: string, unit: string): string {
  return JSON.stringify([app, ownerId, unit]);
}

/** The key of a name scoped to an app: an idempotency key or an external id. */
export function scopeKey(app: string, key: string): string {
  return JSON.stringify([app, key]);
}

/** Whether the batch leaves a locked ledger's row as it was. */
function sameRow(before: Ledger, after: Ledger): boolean {
  return (
    before.version === after.version &&
    before.status === after.status &&
    before.pendingDebitsMinor === after.pendingDebitsMinor &&
    before.pendingCreditsMinor === after.pendingCreditsMinor &&
    before.lapsedDebitsMinor === after.lapsedDebitsMinor &&
    before.lapsedCreditsMinor === after.lapsedCreditsMinor &&
    before.historyAt?.getTime() === after.historyAt?.getTime()
  );
}

/** The hold of a transaction the caller found open (openHold): still pending in this batch. */
function pendingHold(transaction: Transaction, now: Date): Hold {
  const { hold } = transaction;
  invariant(
    transaction.state === "PENDING" && hold !== undefined && !lapsedAt(hold, now),
    `transaction ${transaction.id} is not an open hold`,
  );
  return hold;
}

function pendingEntryOf(posting: Posting): PendingEntry {
  return {
    ledgerId: posting.ledgerId,
    operation: posting.operation,
    amountMinor: posting.amountMinor,
    occurredAt: posting.occurredAt,
    description: posting.description,
    reference: posting.reference,
    metadata: posting.metadata,
  };
}

/** The posting of a hold's leg for the amount posted, with the leg's sign and annotations. */
function postingOf(leg: PendingEntry, amountMinor: bigint, externalTransactionId: string): Posting {
  return {
    ...leg,
    amountMinor: leg.amountMinor < 0n ? -amountMinor : amountMinor,
    externalTransactionId,
  };
}

function entryOf(
  transaction: Posted,
  posting: Posting,
  step: Omit<HistoryStep, "balanceAfterMinor">,
  balanceAfterMinor: bigint,
): Entry {
  return {
    id: step.entryId,
    transactionId: transaction.id,
    ledgerId: posting.ledgerId,
    sequence: step.sequence,
    operation: posting.operation,
    amountMinor: posting.amountMinor,
    balanceAfterMinor,
    occurredAt: posting.occurredAt,
    createdAt: step.createdAt,
    description: posting.description,
    reference: posting.reference,
    metadata: posting.metadata,
    externalTransactionId: posting.externalTransactionId,
    reversesTransactionId: transaction.reversesTransactionId,
  };
}
