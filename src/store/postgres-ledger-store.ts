import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { Pool } from "pg";
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
import {
  type PoolStats,
  type ResolvedStoreConfig,
  resolveStoreConfig,
  type StoreConfig,
} from "./config.js";
import { initOrm } from "./orm.js";
import type { Command, CommandBody, Outcome } from "./pipeline/apply.js";
import { GroupCommit } from "./pipeline/group-commit.js";
import { listEntries } from "./queries/entries.js";
import { dueHoldIds, listPendingTransactions } from "./queries/holds.js";
import { dueLedgers, getBalance, getLedger, listLedgers } from "./queries/ledgers.js";
import { streamHorizon, streamPage, streamPositionOf } from "./queries/stream.js";
import { getTransaction } from "./queries/transactions.js";
import { createUnitOfWork, type UnitOfWork } from "./unit-of-work.js";
import { findInvariantBreaches, type InvariantBreach } from "./verify-invariants.js";

/** The PostgreSQL LedgerStore, plus an audit of what it has stored. */
export interface PostgresLedgerStore extends LedgerStore {
  /** Every stored fact that contradicts the ledger's rules; empty when all hold. */
  verifyInvariants(): Promise<readonly InvariantBreach[]>;
  /** The connection pool and the calls waiting for it, now (for metrics). */
  poolStats(): PoolStats;
}

/**
 * Connects to a migrated database (it does not migrate) and checks that it
 * answers. STORE_UNAVAILABLE when it does not.
 */
export async function openStore(config: StoreConfig): Promise<PostgresLedgerStore> {
  const resolved = resolveStoreConfig(config);
  let pool: Pool | undefined;
  const orm = await initOrm(resolved.databaseUrl, {
    poolSizeMax: resolved.poolSizeMax,
    connectTimeoutMs: resolved.connectTimeoutMs,
    statementTimeoutMs: resolved.statementTimeoutMs,
    lockTimeoutMs: resolved.lockTimeoutMs,
    transactionPooling: resolved.transactionPooling,
    onPool: (created) => {
      pool = created;
    },
  });
  const store = storeOn(orm, resolved, () => pool);
  try {
    await store.ping();
  } catch (error) {
    await orm.close(true).catch(() => {});
    throw error;
  }
  return store;
}

function storeOn(
  orm: MikroORM,
  config: ResolvedStoreConfig,
  pool: () => Pool | undefined,
): PostgresLedgerStore {
  const unit: UnitOfWork = createUnitOfWork(orm, config);
  const pipeline = new GroupCommit({
    config,
    admission: unit.admission,
    transaction: unit.transaction,
  });
  let closed: Promise<void> | undefined;
  /** The highest final stream position found so far (streamHorizon). */
  let horizon = 0n;
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
      return unit.read(options, (em) => getLedger(em, ledgerId, config.clock(), options?.app));
    },
    async listLedgers(input, options) {
      open();
      return unit.read(options, (em) => listLedgers(em, input, config.clock(), options?.app));
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
      const commands = input.entries.map(
        (entry): CommandBody => ({ kind: "record", input: entry }),
      );
      return bulk<Entry | Transaction>(pipeline, commands, input.atomic, options);
    },
    async transfer(input, options) {
      open();
      return one<Transaction>(pipeline, { kind: "transfer", input }, options);
    },
    async createTransfers(input, options) {
      open();
      const commands = input.transfers.map((t): CommandBody => ({ kind: "transfer", input: t }));
      return bulk<Transaction>(pipeline, commands, input.atomic, options);
    },
    async getTransaction(lookup, options) {
      open();
      return unit.snapshot(options, (em) =>
        getTransaction(em, lookup, config.clock(), options?.app),
      );
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
      return unit.snapshot(options, (em) =>
        listPendingTransactions(em, input, config.clock(), options?.app),
      );
    },
    async expireHolds(options) {
      open();
      const now = config.clock();
      const due = async (em: EntityManager) =>
        (await dueHoldIds(em, now, SWEEP_BATCH_MAX)).map(
          (transactionId): Command => ({ kind: "expire", transactionId, scope: undefined }),
        );
      return (await sweepDue(unit, pipeline, due, options)).length;
    },
    async expireLedgers(options) {
      open();
      const now = config.clock();
      const due = async (em: EntityManager) =>
        (await dueLedgers(em, now, SWEEP_BATCH_MAX)).map(
          (ledger): Command => ({ kind: "expire-ledger", ...ledger, scope: undefined }),
        );
      return (await sweepDue(unit, pipeline, due, options)) as Termination[];
    },
    async getBalance(lookup, options) {
      open();
      return unit.read(options, (em) => getBalance(em, lookup, config.clock(), options?.app));
    },
    async listEntries(input, options) {
      open();
      return unit.read(options, (em) => listEntries(em, input, options?.app));
    },
    async streamPage(stream, after, upTo, limit, options) {
      open();
      return unit.read(options, (em) => streamPage(em, stream, after, upTo, limit, options?.app));
    },
    async streamHorizon(options) {
      open();
      const reached = await streamHorizon(
        (work) => unit.read(options, work),
        horizon,
        options?.signal,
      );
      // Calls overlap: the horizon only moves up.
      horizon = reached > horizon ? reached : horizon;
      return horizon;
    },
    async streamPositionOf(ledgerId, sequence, options) {
      open();
      return unit.read(options, (em) => streamPositionOf(em, ledgerId, sequence, options?.app));
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
    poolStats() {
      const open = pool();
      const total = open?.totalCount ?? 0;
      const idle = open?.idleCount ?? 0;
      return {
        inUse: total - idle,
        idle,
        waiting: unit.admission.waiting,
        queuedWrites: pipeline.queuedCalls,
      };
    },
    close() {
      closed ??= orm.close(true);
      return closed;
    },
  };
}

/** The most holds or ledgers one sweep batch expires; a sweep runs batches until none is due. */
const SWEEP_BATCH_MAX = 500;

/**
 * Runs the commands `due` reads (what is past its deadline), in batches
 * through the pipeline: each command locks what it expires and acts only
 * while it is still due, so sweeps of several processes expire each thing
 * once (the others' commands answer as replayed). Returns the results of
 * the commands this sweep carried out; the first refusal is thrown after
 * the batch it was in is written.
 */
async function sweepDue(
  unit: UnitOfWork,
  pipeline: GroupCommit,
  due: (em: EntityManager) => Promise<Command[]>,
  options: CallOptions | undefined,
): Promise<unknown[]> {
  const done: unknown[] = [];
  for (;;) {
    const commands = await unit.read(options, due);
    if (commands.length === 0) {
      return done;
    }
    const outcomes = await pipeline.submit(commands, false, options);
    for (const outcome of outcomes) {
      if (!outcome.ok) {
        throw outcome.error;
      }
      if (!outcome.replayed) {
        done.push(outcome.value);
      }
    }
    if (commands.length < SWEEP_BATCH_MAX) {
      return done;
    }
  }
}

/**
 * A caller's command, scoped to its app (options.app): the one place a
 * caller's writes get their scope. The sweeps' commands are unscoped.
 */
function scoped(command: CommandBody, options: CallOptions | undefined): Command {
  return { ...command, scope: options?.app };
}

/** One command through the pipeline: its result, or the error that refused it thrown. */
async function one<T>(
  pipeline: GroupCommit,
  command: CommandBody,
  options: CallOptions | undefined,
): Promise<WriteResult<T>> {
  const [outcome] = await pipeline.submit([scoped(command, options)], false, options);
  if (outcome === undefined || !outcome.ok) {
    throw outcome?.error;
  }
  return writeResult<T>(outcome);
}

/** A command's result; how many entries it recomputed only when it backdated one. */
function writeResult<T>(outcome: Extract<Outcome, { ok: true }>): WriteResult<T> {
  const { value, replayed, recomputedEntries } = outcome;
  return recomputedEntries === undefined
    ? { value: value as T, replayed }
    : { value: value as T, replayed, recomputedEntries };
}

/** A bulk call's items: atomic, every result or the first failure thrown. */
async function bulk<T>(
  pipeline: GroupCommit,
  commands: readonly CommandBody[],
  atomic: boolean,
  options: CallOptions | undefined,
): Promise<ItemResult<T>[]> {
  const outcomes = await pipeline.submit(
    commands.map((command) => scoped(command, options)),
    atomic,
    options,
  );
  const failure = outcomes.find((outcome) => !outcome.ok);
  if (atomic && failure !== undefined && !failure.ok) {
    throw failure.error;
  }
  return outcomes.map((outcome) => itemResult<T>(outcome));
}

/** An item of a bulk call; anything but a LedgerError is a bug and fails the call. */
function itemResult<T>(outcome: Outcome): ItemResult<T> {
  if (outcome.ok) {
    return { ok: true, ...writeResult<T>(outcome) };
  }
  if (!(outcome.error instanceof LedgerError)) {
    throw outcome.error;
  }
  return { ok: false, error: outcome.error };
}
