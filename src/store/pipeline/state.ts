import { v7 as uuidv7 } from "uuid";
import {
  absMinor,
  balanceAfterPosting,
  type Entry,
  externalIdAlreadyUsed,
  invariant,
  type Ledger,
  type NewTransaction,
  nextSequence,
  type Transaction,
} from "../../domain/index.js";

/** What a write command answers: a ledger (create, terminate), an entry, or a transaction. */
export type CommandResult = Ledger | Entry | Transaction;

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
  readonly transactions: readonly Transaction[];
  readonly createdLedgers: readonly Ledger[];
  /** Ledgers whose balance, version or status changed: [final, as locked]. */
  readonly changedLedgers: ReadonlyArray<readonly [Ledger, Ledger]>;
  /** Originals whose reversed amount grew: [final, as locked]. */
  readonly reversedTransactions: ReadonlyArray<readonly [Transaction, Transaction]>;
  readonly claims: readonly BatchClaim[];
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
  private readonly created: Ledger[] = [];

  private constructor(
    private readonly parent: BatchState | undefined,
    /** The rows as locked; the base of every fork. */
    private readonly locked: {
      readonly ledgers: ReadonlyMap<string, Ledger>;
      readonly transactions: ReadonlyMap<string, Transaction>;
      readonly activeOwners: ReadonlyMap<string, string>;
      /** The transaction that has each external id the batch's commands name, by scopeKey. */
      readonly externalIds: ReadonlyMap<string, string>;
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
    parent.written.push(...this.written);
    parent.created.push(...this.created);
  }

  ledger(id: string): Ledger | undefined {
    return this.ledgers.get(id) ?? this.parent?.ledger(id) ?? this.locked.ledgers.get(id);
  }

  transaction(id: string): Transaction | undefined {
    return (
      this.transactions.get(id) ?? this.parent?.transaction(id) ?? this.locked.transactions.get(id)
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
   * Posts a transaction to its ledgers: its external id is the app's only
   * one (EXTERNAL_ID_ALREADY_USED), every posting passes balanceAfterPosting
   * against its ledger as the earlier postings left it, and all are checked
   * before the state changes.
   */
  post(transaction: NewTransaction): Transaction {
    invariant(transaction.postings.length > 0, `transaction ${transaction.id} has no postings`);
    const { app, externalTransactionId: externalId } = transaction;
    const holder = externalId === "" ? undefined : this.externalTransactionId(app, externalId);
    if (holder !== undefined) {
      throw externalIdAlreadyUsed(app, externalId, holder);
    }
    const after = new Map<string, Ledger>();
    const entries = transaction.postings.map((posting) => {
      const ledger = after.get(posting.ledgerId) ?? this.ledger(posting.ledgerId);
      invariant(ledger !== undefined, `ledger ${posting.ledgerId} was not locked before posting`);
      invariant(
        absMinor(posting.amountMinor) === transaction.amountMinor,
        `an entry of transaction ${transaction.id} differs from its magnitude`,
      );
      const entry = entryOf(transaction, ledger, posting);
      after.set(ledger.id, {
        ...ledger,
        balanceMinor: entry.balanceAfterMinor,
        version: entry.sequence,
      });
      return entry;
    });
    for (const [id, ledger] of after) this.ledgers.set(id, ledger);
    if (externalId !== "") {
      this.externalIds.set(scopeKey(app, externalId), transaction.id);
    }
    const posted: Transaction = {
      id: transaction.id,
      app: transaction.app,
      kind: transaction.kind,
      amountMinor: transaction.amountMinor,
      reversedAmountMinor: 0n,
      reversesTransactionId: transaction.reversesTransactionId,
      externalTransactionId: externalId,
      createdAt: transaction.createdAt,
      entries,
    };
    this.written.push(posted);
    return posted;
  }

  /** Adds a reversal's magnitude to the original it compensates. */
  addReversed(originalId: string, amountMinor: bigint): void {
    const original = this.transaction(originalId);
    invariant(original !== undefined, `transaction ${originalId} was not locked before reversal`);
    const reversedMinor = original.reversedAmountMinor + amountMinor;
    invariant(
      reversedMinor <= original.amountMinor,
      `transaction ${originalId} would be reversed beyond its amount`,
    );
    this.transactions.set(originalId, { ...original, reversedAmountMinor: reversedMinor });
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

  /** Everything to write, from the root state once the batch is applied. */
  writes(): BatchWrites {
    invariant(this.parent === undefined, "a fork is merged before it is written");
    const createdIds = new Set(this.created.map((ledger) => ledger.id));
    const changedLedgers = [...this.ledgers.values()].flatMap((after) => {
      const before = this.locked.ledgers.get(after.id);
      if (createdIds.has(after.id)) {
        return [];
      }
      invariant(before !== undefined, `ledger ${after.id} was not locked`);
      return before.version === after.version && before.status === after.status
        ? []
        : [[after, before] as const];
    });
    const reversedTransactions = [...this.transactions.values()].map((after) => {
      const before = this.locked.transactions.get(after.id);
      invariant(before !== undefined, `transaction ${after.id} was not locked`);
      return [after, before] as const;
    });
    return {
      transactions: this.written,
      createdLedgers: this.created.map((ledger) => this.ledger(ledger.id) ?? ledger),
      changedLedgers,
      reversedTransactions,
      claims: [...this.claims.values()],
    };
  }
}

export function ownerKey(app: string, ownerId: string, unit: string): string {
  return JSON.stringify([app, ownerId, unit]);
}

/** The key of a name scoped to an app: an idempotency key or an external id. */
export function scopeKey(app: string, key: string): string {
  return JSON.stringify([app, key]);
}

function entryOf(
  transaction: NewTransaction,
  ledger: Ledger,
  posting: NewTransaction["postings"][number],
): Entry {
  const balanceAfterMinor = balanceAfterPosting(ledger, posting.amountMinor);
  const sequence = nextSequence(ledger);
  invariant(
    sequence === ledger.version + 1n,
    `sequence of ledger ${ledger.id} is not the next one`,
  );
  return {
    id: uuidv7(),
    transactionId: transaction.id,
    ledgerId: ledger.id,
    sequence,
    operation: posting.operation,
    amountMinor: posting.amountMinor,
    balanceAfterMinor,
    occurredAt: posting.occurredAt,
    createdAt: transaction.createdAt,
    description: posting.description,
    reference: posting.reference,
    metadata: posting.metadata,
    externalTransactionId: posting.externalTransactionId,
    reversesTransactionId: transaction.reversesTransactionId,
  };
}
