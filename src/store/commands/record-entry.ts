import type { EntityManager } from "@mikro-orm/postgresql";
import {
  absMinor,
  type Entry,
  invariant,
  ledgerNotFound,
  type OperationRegistry,
  type RecordEntryInput,
  resolveEntryAmount,
  type WriteResult,
} from "../../domain/index.js";
import { writeOnce } from "../idempotency-keys.js";
import { lockLedgers } from "../locks.js";
import { writeTransaction } from "../postings.js";
import { findTransaction } from "../queries/transactions.js";

/**
 * LEDGER_NOT_FOUND, LEDGER_TERMINATED, UNKNOWN_OPERATION,
 * AMOUNT_DIRECTION_MISMATCH, INSUFFICIENT_FUNDS, BALANCE_OVERFLOW,
 * IDEMPOTENCY_KEY_REUSED. The key is scoped to the ledger's app and checked
 * before the ledger's state, so a replay succeeds even after termination.
 */
export async function recordEntry(
  em: EntityManager,
  operations: OperationRegistry,
  input: RecordEntryInput,
  now: Date,
): Promise<WriteResult<Entry>> {
  const locked = await lockLedgers(em, [input.ledgerId]);
  const ledger = locked.get(input.ledgerId);
  if (ledger === undefined) {
    throw ledgerNotFound(input.ledgerId);
  }
  return writeOnce(em, {
    method: "RecordEntry",
    app: ledger.app,
    input,
    now,
    replay: (transactionId) => recordedEntry(em, transactionId, ledger.id),
    perform: async (transactionId) => {
      const amountMinor = resolveEntryAmount(
        operations,
        ledger.app,
        input.operation,
        input.amountMinor,
      );
      const transaction = await writeTransaction(
        em,
        {
          id: transactionId,
          app: ledger.app,
          kind: "ENTRY",
          amountMinor: absMinor(amountMinor),
          reversesTransactionId: undefined,
          createdAt: now,
          postings: [
            {
              ledgerId: ledger.id,
              operation: input.operation,
              amountMinor,
              occurredAt: input.occurredAt ?? now,
              description: input.description,
              reference: input.reference,
              metadata: input.metadata,
              externalTransactionId: input.externalTransactionId,
            },
          ],
        },
        locked,
      );
      const [entry] = transaction.entries;
      invariant(entry !== undefined, `transaction ${transactionId} recorded no entry`);
      return entry;
    },
  });
}

async function recordedEntry(
  em: EntityManager,
  transactionId: string,
  ledgerId: string,
): Promise<Entry> {
  const transaction = await findTransaction(em, transactionId);
  const entry = transaction?.entries[0];
  invariant(
    transaction?.entries.length === 1 && entry?.ledgerId === ledgerId,
    `transaction ${transactionId} of a stored idempotency key is not one entry on ledger ${ledgerId}`,
  );
  return entry;
}
