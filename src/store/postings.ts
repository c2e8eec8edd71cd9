import type { EntityManager } from "@mikro-orm/postgresql";
import { v7 as uuidv7 } from "uuid";
import {
  absMinor,
  balanceAfterPosting,
  type Entry,
  invariant,
  type Ledger,
  type Metadata,
  nextSequence,
  type Transaction,
  type TransactionKind,
} from "../domain/index.js";
import { EntryEntity, LedgerEntity, TransactionEntity } from "./entities/index.js";

/** One signed amount to post to one ledger. */
export interface Posting {
  readonly ledgerId: string;
  readonly operation: string;
  readonly amountMinor: bigint;
  readonly occurredAt: Date;
  readonly description: string;
  readonly reference: string;
  readonly metadata: Metadata;
  readonly externalTransactionId: string;
}

export interface NewTransaction {
  readonly id: string;
  readonly app: string;
  readonly kind: TransactionKind;
  /** Magnitude: every posting's amount is plus or minus this. */
  readonly amountMinor: bigint;
  readonly reversesTransactionId: string | undefined;
  readonly createdAt: Date;
  /** In posting order; at least one. */
  readonly postings: readonly Posting[];
}

/**
 * Writes a transaction, its entries and the new balances of ledgers the
 * caller has locked. Each posting passes balanceAfterPosting (termination,
 * floor, overflow) against its ledger as the earlier postings left it; all of
 * them are checked before anything is written.
 */
export async function writeTransaction(
  em: EntityManager,
  transaction: NewTransaction,
  locked: ReadonlyMap<string, Ledger>,
): Promise<Transaction> {
  invariant(transaction.postings.length > 0, `transaction ${transaction.id} has no postings`);
  const ledgers = new Map(locked);
  const entries = transaction.postings.map((posting) => {
    const ledger = ledgers.get(posting.ledgerId);
    invariant(ledger !== undefined, `ledger ${posting.ledgerId} was not locked before posting`);
    invariant(
      absMinor(posting.amountMinor) === transaction.amountMinor,
      `an entry of transaction ${transaction.id} differs from its magnitude`,
    );
    const entry = postEntry(transaction, ledger, posting);
    ledgers.set(ledger.id, {
      ...ledger,
      balanceMinor: entry.balanceAfterMinor,
      version: entry.sequence,
    });
    return entry;
  });

  await em.insert(TransactionEntity, {
    id: transaction.id,
    app: transaction.app,
    kind: transaction.kind,
    amount: transaction.amountMinor,
    reversedAmount: 0n,
    reversesTransactionId: transaction.reversesTransactionId ?? null,
    createdAt: transaction.createdAt,
  });
  await em.insertMany(EntryEntity, entries.map(toEntryRow));
  for (const [ledgerId, after] of ledgers) {
    await storeBalance(em, locked.get(ledgerId), after, entries);
  }
  return {
    id: transaction.id,
    app: transaction.app,
    kind: transaction.kind,
    amountMinor: transaction.amountMinor,
    reversedAmountMinor: 0n,
    reversesTransactionId: transaction.reversesTransactionId,
    createdAt: transaction.createdAt,
    entries,
  };
}

function postEntry(transaction: NewTransaction, ledger: Ledger, posting: Posting): Entry {
  const balanceAfterMinor = balanceAfterPosting(ledger, posting.amountMinor);
  const sequence = nextSequence(ledger);
  invariant(
    sequence === ledger.version + 1n,
    `sequence of ledger ${ledger.id} is not the next one`,
  );
  invariant(
    balanceAfterMinor === ledger.balanceMinor + posting.amountMinor,
    `balance_after of ledger ${ledger.id} is not balance + amount`,
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
  };
}

/** Stores a ledger's new balance and version; the row is locked, so the version check is an assertion. */
async function storeBalance(
  em: EntityManager,
  before: Ledger | undefined,
  after: Ledger,
  entries: readonly Entry[],
): Promise<void> {
  invariant(before !== undefined, `ledger ${after.id} was not locked before posting`);
  if (after.version === before.version) {
    return;
  }
  const postedMinor = entries
    .filter((entry) => entry.ledgerId === after.id)
    .reduce((sum, entry) => sum + entry.amountMinor, 0n);
  invariant(
    after.balanceMinor === before.balanceMinor + postedMinor,
    `stored balance of ledger ${after.id} would not equal its previous balance plus its new entries`,
  );
  const updated = await em.nativeUpdate(
    LedgerEntity,
    { id: after.id, version: before.version },
    { balance: after.balanceMinor, version: after.version },
  );
  invariant(updated === 1, `ledger ${after.id} changed while locked`);
}

function toEntryRow(entry: Entry) {
  return {
    id: entry.id,
    transactionId: entry.transactionId,
    ledgerId: entry.ledgerId,
    sequence: entry.sequence,
    operation: entry.operation,
    amount: entry.amountMinor,
    balanceAfter: entry.balanceAfterMinor,
    occurredAt: entry.occurredAt,
    createdAt: entry.createdAt,
    description: entry.description,
    reference: entry.reference,
    metadata: entry.metadata,
    externalTransactionId: entry.externalTransactionId,
  };
}
