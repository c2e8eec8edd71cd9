import type { MikroORM } from "@mikro-orm/postgresql";
import {
  type CallOptions,
  type Entry,
  type ItemResult,
  invariant,
  type Ledger,
  LedgerError,
  type LedgerStore,
  type Termination,
  type Transaction,
  type WriteResult,
} from "../domain/index.js";
import { type ResolvedStoreConfig, resolveStoreConfig, type StoreConfig } from "./config.js";
import { initOrm } from "./orm.js";
import type { Command, Outcome } from "./pipeline/apply.js";
import { GroupCommit } from "./pipeline/group-commit.js";
import { listEntries } from "./queries/entries.js";
import { dueHoldIds, listPendingTransactions } from "./queries/holds.js";
import { getBalance, getLedger, listLedgers } from "./queries/ledgers.js";
import { getTransaction } from "./queries/transactions.js";
import { createUnitOfWork, type UnitOfWork } from "./unit-of-work.js";
import { findInvariantBreaches, type InvariantBreach } from "./verify-invariants.js";

/** The PostgreSQL LedgerStore, plus an audit of what it has stored. */
export interface PostgresLedgerStore extends LedgerStore {
  /** Every stored fact that contradicts the ledger's rules; empty when all hold. */
  verifyInvariants(): Promise<readonly InvariantBreach[]>;
}

/**
 * Connects to a migrated database (it does not migrate) and checks that it
 * answers. STORE_UNAVAILABLE when it does not.
 */
export async function openStore(config: StoreConfig): Promise<PostgresLedgerStore> {
  const resolved = resolveStoreConfig(config);
  const orm = await initOrm(resolved.databaseUrl, {
    poolSizeMax: resolved.poolSizeMax,
    connectTimeoutMs: resolved.connectTimeoutMs,
    statementTimeoutMs: resolved.statementTimeoutMs,
    lockTimeoutMs: resolved.lockTimeoutMs,
  });
  const store = storeOn(orm, resolved);
  try {
    await store.ping();
  } catch (error) {
    await orm.close(true).catch(() => {});
    throw error;
  }
  return store;
}

function storeOn(orm: MikroORM, config: ResolvedStoreConfig): PostgresLedgerStore {
  const unit: UnitOfWork = createUnitOfWork(orm, config);
  const pipeline = new GroupCommit({
    config,
    admission: unit.admission,
    transaction: unit.transaction,
  });
  let closed: Promise<void> | undefined;
  /** A closed store must not reopen a pool behind the caller's back (MikroORM reconnects lazily). */
  const open = (): void => {
    if (closed !== undefined) {
      throw new LedgerError("STORE_UNAVAILABLE", "the ledger store is closed", {});
    }
  };
  return {
    async createLedger(input, options) {
      open();
      return one<Ledger>(pipeline, { kind: "create", input }, options);
    },
    async getLedger(ledgerId, options) {
      open();
      return unit.read(options, (em) => getLedger(em, ledgerId, config.clock()));
    },
    async listLedgers(input, options) {
      open();
      return unit.read(options, (em) => listLedgers(em, input, config.clock()));
    },
    async recordEntry(input, options) {
      open();
      invariant(input.hold === undefined, "recordEntry records; holdEntry holds");
      return one<Entry>(pipeline, { kind: "record", input }, options);
    },
    async holdEntry(input, options) {
      open();
      invariant(input.hold !== undefined, "holdEntry holds");
      return one<Transaction>(pipeline, { kind: "record", input }, options);
    },
    async recordEntries(input, options) {
      open();
      const commands = input.entries.map((entry): Command => ({ kind: "record", input: entry }));
      return bulk<Entry | Transaction>(pipeline, commands, input.atomic, options);
    },
    async transfer(input, options) {
      open();
      return one<Transaction>(pipeline, { kind: "transfer", input }, options);
    },
    async createTransfers(input, options) {
      open();
      const commands = input.transfers.map((t): Command => ({ kind: "transfer", input: t }));
      return bulk<Transaction>(pipeline, commands, input.atomic, options);
    },
    async getTransaction(lookup, options) {
      open();
      return unit.snapshot(options, (em) => getTransaction(em, lookup, config.clock()));
    },
    async reverseTransaction(input, options) {
      open();
      return one<Transaction>(pipeline, { kind: "reverse", input }, options);
    },
    async postPendingTransaction(input, options) {
      open();
      return one<Transaction>(pipeline, { kind: "post", input }, options);
    },
    async voidPendingTransaction(input, options) {
      open();
      return one<Transaction>(pipeline, { kind: "void", input }, options);
    },
    async listPendingTransactions(input, options) {
      open();
      return unit.snapshot(options, (em) => listPendingTransactions(em, input, config.clock()));
    },
    async expireHolds(options) {
      open();
      return expireDueHolds(unit, pipeline, config.clock(), options);
    },
    async getBalance(lookup, options) {
      open();
      return unit.read(options, (em) => getBalance(em, lookup, config.clock()));
    },
    async listEntries(input, options) {
      open();
      return unit.read(options, (em) => listEntries(em, input));
    },
    async terminateLedger(input, options) {
      open();
      return (await one<Termination>(pipeline, { kind: "terminate", ...input }, options)).value;
    },
    async ping(options) {
      open();
      await unit.read(options, (em) => em.execute("select 1"));
    },
    async verifyInvariants() {
      open();
      return unit.read(undefined, (em) => findInvariantBreaches(em));
    },
    close() {
      closed ??= orm.close(true);
      return closed;
    },
  };
}

/** The most holds one sweep batch expires; a sweep runs batches until none is due. */
const EXPIRE_BATCH_MAX = 500;

/**
 * Expires every hold past its deadline at `now`, in batches through the
 * pipeline: each is locked with its ledgers and expired only while still
 * PENDING, so sweeps of several processes expire each hold once. Returns
 * how many this sweep expired.
 */
async function expireDueHolds(
  unit: UnitOfWork,
  pipeline: GroupCommit,
  now: Date,
  options: CallOptions | undefined,
): Promise<number> {
  let expired = 0;
  for (;;) {
    const ids = await unit.read(options, (em) => dueHoldIds(em, now, EXPIRE_BATCH_MAX));
    if (ids.length === 0) {
      return expired;
    }
    const commands = ids.map((transactionId): Command => ({ kind: "expire", transactionId }));
    const outcomes = await pipeline.submit(commands, false, options);
    for (const outcome of outcomes) {
      if (!outcome.ok) {
        throw outcome.error;
      }
      expired += outcome.replayed ? 0 : 1;
    }
    if (ids.length < EXPIRE_BATCH_MAX) {
      return expired;
    }
  }
}

/** One command through the pipeline: its result, or the error that refused it thrown. */
async function one<T>(
  pipeline: GroupCommit,
  command: Command,
  options: CallOptions | undefined,
): Promise<WriteResult<T>> {
  const [outcome] = await pipeline.submit([command], false, options);
  if (outcome === undefined || !outcome.ok) {
    throw outcome?.error;
  }
  return { value: outcome.value as T, replayed: outcome.replayed };
}

/** A bulk call's items: atomic, every result or the first failure thrown. */
async function bulk<T>(
  pipeline: GroupCommit,
  commands: readonly Command[],
  atomic: boolean,
  options: CallOptions | undefined,
): Promise<ItemResult<T>[]> {
  const outcomes = await pipeline.submit(commands, atomic, options);
  const failure = outcomes.find((outcome) => !outcome.ok);
  if (atomic && failure !== undefined && !failure.ok) {
    throw failure.error;
  }
  return outcomes.map((outcome) => itemResult<T>(outcome));
}

/** An item of a bulk call; anything but a LedgerError is a bug and fails the call. */
function itemResult<T>(outcome: Outcome): ItemResult<T> {
  if (outcome.ok) {
    return { ok: true, value: outcome.value as T, replayed: outcome.replayed };
  }
  if (!(outcome.error instanceof LedgerError)) {
    throw outcome.error;
  }
  return { ok: false, error: outcome.error };
}
