import { QueryOrder } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import {
  compensatingAmount,
  invariant,
  REVERSAL_OPERATION,
  type ReverseTransactionInput,
  reversalAmount,
  type Transaction,
  transactionNotFound,
  type WriteResult,
} from "../../domain/index.js";
import { EntryEntity, TransactionEntity } from "../entities/index.js";
import { writeOnce } from "../idempotency-keys.js";
import { lockLedgers, lockTransaction } from "../locks.js";
import { toEntry, toTransaction } from "../mappers.js";
import { writeTransaction } from "../postings.js";
import { findTransaction } from "../queries/transactions.js";

/**
 * TRANSACTION_NOT_FOUND, TRANSACTION_NOT_REVERSIBLE,
 * REVERSAL_EXCEEDS_TRANSACTION, LEDGER_TERMINATED, INSUFFICIENT_FUNDS,
 * BALANCE_OVERFLOW, IDEMPOTENCY_KEY_REUSED. Locks the original's ledgers,
 * then the original itself, so concurrent partial reversals serialise and
 * never add up to more than the original.
 */
export async function reverseTransaction(
  em: EntityManager,
  input: ReverseTransactionInput,
  now: Date,
): Promise<WriteResult<Transaction>> {
  // Entries are immutable: which ledgers to lock is known before any lock.
  const entryRows = await em.find(
    EntryEntity,
    { transactionId: input.transactionId },
    { orderBy: { id: QueryOrder.ASC } },
  );
  if (entryRows.length === 0) {
    throw transactionNotFound(input.transactionId);
  }
  const locked = await lockLedgers(
    em,
    entryRows.map((row) => row.ledgerId),
  );
  const originalRow = await lockTransaction(em, input.transactionId);
  invariant(originalRow !== null, `transaction ${input.transactionId} has entries but no row`);
  const original = toTransaction(originalRow, entryRows.map(toEntry));

  return writeOnce(em, {
    method: "ReverseTransaction",
    app: original.app,
    input,
    now,
    replay: async (reversalId) => {
      const reversal = await findTransaction(em, reversalId);
      invariant(
        reversal?.reversesTransactionId === original.id,
        `reversal ${reversalId} of a stored idempotency key does not reverse ${original.id}`,
      );
      return reversal;
    },
    perform: async (reversalId) => {
      const amountMinor = reversalAmount(original, input.amountMinor);
      const reversal = await writeTransaction(
        em,
        {
          id: reversalId,
          app: original.app,
          kind: "REVERSAL",
          amountMinor,
          reversesTransactionId: original.id,
          createdAt: now,
          postings: original.entries.map((entry) => ({
            ledgerId: entry.ledgerId,
            operation: REVERSAL_OPERATION,
            amountMinor: compensatingAmount(entry.amountMinor, amountMinor),
            occurredAt: now,
            description: input.description,
            reference: "",
            metadata: input.metadata,
            externalTransactionId: "",
          })),
        },
        locked,
      );
      await addReversed(em, original, amountMinor);
      return reversal;
    },
  });
}

async function addReversed(
  em: EntityManager,
  original: Transaction,
  amountMinor: bigint,
): Promise<void> {
  const reversedMinor = original.reversedAmountMinor + amountMinor;
  invariant(
    reversedMinor <= original.amountMinor,
    `transaction ${original.id} would be reversed beyond its amount`,
  );
  const updated = await em.nativeUpdate(
    TransactionEntity,
    { id: original.id, reversedAmount: original.reversedAmountMinor },
    { reversedAmount: reversedMinor },
  );
  invariant(updated === 1, `transaction ${original.id} changed while locked`);
}
