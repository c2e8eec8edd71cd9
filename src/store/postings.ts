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

  await insertAndStoreBalances(em, transaction, entries, locked, ledgers);
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

/**
 * One statement (one round trip) for the whole write: the transaction, its
 * entries, and the new balance and version of every ledger they touch. The
 * rows are locked, so the version in the WHERE clause is an assertion.
 */
async function insertAndStoreBalances(
  em: EntityManager,
  transaction: NewTransaction,
  entries: readonly Entry[],
  before: ReadonlyMap<string, Ledger>,
  after: ReadonlyMap<string, Ledger>,
): Promise<void> {
  const balances = [...after.values()].filter(
    (ledger) => ledger.version !== before.get(ledger.id)?.version,
  );
  for (const ledger of balances) {
    assertStoredBalance(before.get(ledger.id), ledger, entries);
  }
  const entryRows = entries.map(() => "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?)");
  const balanceRows = balances.map(() => "(?::uuid, ?::bigint, ?::bigint, ?::bigint)");
  const updated = await em.execute<{ id: string }[]>(
    `with new_transaction as (
       insert into transactions (id, app, kind, amount, reversed_amount, reverses_transaction_id, created_at)
       values (?, ?, ?, ?, 0, ?, ?)
     ), new_entries as (
       insert into entries (id, transaction_id, ledger_id, sequence, operation, amount, balance_after,
                            occurred_at, created_at, description, reference, metadata, external_transaction_id)
       values ${entryRows.join(", ")}
     )
     update ledgers as l set balance = v.balance, version = v.version
       from (values ${balanceRows.join(", ")}) as v (id, balance, version, previous_version)
      where l.id = v.id and l.version = v.previous_version
     returning l.id`,
    [
      transaction.id,
      transaction.app,
      transaction.kind,
      transaction.amountMinor,
      transaction.reversesTransactionId ?? null,
      transaction.createdAt,
      ...entries.flatMap((entry) => [
        entry.id,
        entry.transactionId,
        entry.ledgerId,
        entry.sequence,
        entry.operation,
        entry.amountMinor,
        entry.balanceAfterMinor,
        entry.occurredAt,
        entry.createdAt,
        entry.description,
        entry.reference,
        JSON.stringify(entry.metadata),
        entry.externalTransactionId,
      ]),
      ...balances.flatMap((ledger) => [
        ledger.id,
        ledger.balanceMinor,
        ledger.version,
        before.get(ledger.id)?.version,
      ]),
    ],
  );
  invariant(
    updated.length === balances.length,
    `ledgers of transaction ${transaction.id} changed while locked`,
  );
}

function assertStoredBalance(
  before: Ledger | undefined,
  after: Ledger,
  entries: readonly Entry[],
): void {
  invariant(before !== undefined, `ledger ${after.id} was not locked before posting`);
  const postedMinor = entries
    .filter((entry) => entry.ledgerId === after.id)
    .reduce((sum, entry) => sum + entry.amountMinor, 0n);
  invariant(
    after.balanceMinor === before.balanceMinor + postedMinor,
    `stored balance of ledger ${after.id} would not equal its previous balance plus its new entries`,
  );
  invariant(
    after.version ===
      before.version + BigInt(entries.filter((e) => e.ledgerId === after.id).length),
    `version of ledger ${after.id} would not count its entries`,
  );
}
