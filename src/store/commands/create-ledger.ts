import type { EntityManager } from "@mikro-orm/postgresql";
import {
  type CreateLedgerInput,
  DEFAULT_MIN_BALANCE_MINOR,
  invariant,
  type Ledger,
  LedgerError,
  type WriteResult,
} from "../../domain/index.js";
import { RetryableConflict } from "../db-errors.js";
import { LedgerEntity } from "../entities/index.js";
import { writeOnce } from "../idempotency-keys.js";
import { toLedger } from "../mappers.js";

/**
 * LEDGER_ALREADY_EXISTS, IDEMPOTENCY_KEY_REUSED. The key is scoped to the
 * requested app; a replay returns the ledger as it was created.
 */
export async function createLedger(
  em: EntityManager,
  input: CreateLedgerInput,
  now: Date,
): Promise<WriteResult<Ledger>> {
  return writeOnce(em, {
    method: "CreateLedger",
    app: input.app,
    input,
    now,
    replay: (ledgerId) => asCreated(em, ledgerId),
    perform: async (ledgerId) => {
      const ledger = newLedger(ledgerId, input, now);
      await insertUnlessActiveExists(em, ledger);
      return ledger;
    },
  });
}

function newLedger(id: string, input: CreateLedgerInput, now: Date): Ledger {
  return {
    id,
    app: input.app,
    ownerId: input.ownerId,
    unit: input.unit,
    description: input.description,
    reference: input.reference,
    metadata: input.metadata,
    status: "ACTIVE",
    balanceMinor: 0n,
    minBalanceMinor: input.unbounded
      ? undefined
      : (input.minBalanceMinor ?? DEFAULT_MIN_BALANCE_MINOR),
    version: 0n,
    createdAt: now,
    terminatedAt: undefined,
  };
}

/**
 * The partial unique index allows one active ledger per (app, owner, unit).
 * A concurrent insert of the same key waits for the other transaction; after
 * it commits, the insert does nothing and the winner is reported.
 */
async function insertUnlessActiveExists(em: EntityManager, ledger: Ledger): Promise<void> {
  const inserted = await em.execute<{ id: string }[]>(
    `insert into ledgers (id, app, owner_id, unit, description, reference, metadata, status,
                          balance, min_balance, version, created_at, terminated_at)
     values (?, ?, ?, ?, ?, ?, ?::jsonb, 'ACTIVE', 0, ?, 0, ?, null)
     on conflict (app, owner_id, unit) where status = 'ACTIVE' do nothing
     returning id`,
    [
      ledger.id,
      ledger.app,
      ledger.ownerId,
      ledger.unit,
      ledger.description,
      ledger.reference,
      JSON.stringify(ledger.metadata),
      ledger.minBalanceMinor ?? null,
      ledger.createdAt,
    ],
  );
  if (inserted.length === 1) {
    return;
  }
  const active = await em.findOne(LedgerEntity, {
    app: ledger.app,
    ownerId: ledger.ownerId,
    unit: ledger.unit,
    status: "ACTIVE",
  });
  if (active === null) {
    throw new RetryableConflict("the conflicting active ledger was terminated meanwhile");
  }
  throw new LedgerError(
    "LEDGER_ALREADY_EXISTS",
    `app ${ledger.app} already has an active ledger ${active.id} for owner ${ledger.ownerId} in ${ledger.unit}`,
    { ledger_id: active.id, app: ledger.app, owner_id: ledger.ownerId, unit: ledger.unit },
  );
}

/** Only balance, version, status and terminated_at ever change; the rest is as created. */
async function asCreated(em: EntityManager, ledgerId: string): Promise<Ledger> {
  const row = await em.findOne(LedgerEntity, { id: ledgerId });
  invariant(row !== null, `ledger ${ledgerId} of a stored idempotency key is missing`);
  return {
    ...toLedger(row),
    status: "ACTIVE",
    balanceMinor: 0n,
    version: 0n,
    terminatedAt: undefined,
  };
}
