import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { EntityManager } from "@mikro-orm/postgresql";
import { type CallOptions, LedgerError } from "../../domain/index.js";
import { type Admission, overloaded, queueWaitMs } from "../admission.js";
import type { ResolvedStoreConfig } from "../config.js";
import { concurrencyConflict, isRetryable, translateError } from "../db-errors.js";
import type { Scope } from "../scope.js";
import { type Command, namedLedgerIds, type Outcome } from "./apply.js";
import { type BatchUnit, runBatch } from "./batch.js";

/** Bounds a batch: its commands, so its statements and its lock set stay small. */
export const BATCH_COMMANDS_MAX = 1000;

/** A batch in flight this long is stalled and stops counting against DB_WRITE_BATCHES_MAX. */
export const BATCH_STALL_MS = 1000;

const BACKOFF_BASE_MS = 5;
const BACKOFF_CAP_MS = 100;

export interface GroupCommitDeps {
  readonly config: ResolvedStoreConfig;
  readonly admission: Admission;
  /** One transaction attempt with the call's timeouts; errors as the database raised them. */
  transaction<T>(
    options: CallOptions | undefined,
    work: (em: EntityManager) => Promise<T>,
  ): Promise<T>;
  /** The batch itself; tests replace it to provoke failures of a whole batch. Default: runBatch. */
  readonly runBatch?: typeof runBatch | undefined;
}

/** One call waiting for a batch. */
interface Pending extends BatchUnit {
  readonly options: CallOptions | undefined;
  /**
   * Ledgers known before locking (records, terminations), each with the
   * scope it is named under (flightKey): no two batches in flight share one.
   */
  readonly ledgerIds: readonly string[];
  /** A deadline tighter than the statement timeout: its batch is its own, with its bounds. */
  readonly alone: boolean;
  settle(outcomes: Outcome[] | { error: unknown }): void;
}

/**
 * Group commit. Calls queue here; whenever a connection is free (a permit
 * of the admission shared with reads), one batch takes what is queued, in
 * arrival order, up to BATCH_COMMANDS_MAX commands, and runs in one
 * transaction. Idle, a call starts its batch at once; busy, calls gather
 * while the batches ahead commit, so one lock, one round trip per statement
 * and one commit serve many. A call whose ledger is in a batch in flight
 * waits for the next one instead of blocking a connection on the row lock.
 */
export class GroupCommit {
  private readonly queue: Pending[] = [];
  private readonly inFlight = new Map<string, number>();
  private waitingForPermit = false;
  /** Batches in flight for less than BATCH_STALL_MS: the ones DB_WRITE_BATCHES_MAX counts. */
  private freshBatches = 0;

  constructor(private readonly deps: GroupCommitDeps) {}

  /** The outcome of every command; atomic: all or nothing. Rejects only when the call never ran. */
  submit(commands: readonly Command[], atomic: boolean, options?: CallOptions): Promise<Outcome[]> {
    options?.signal?.throwIfAborted();
    const { config } = this.deps;
    // The bound counts calls that wait: one a free batch slot takes at once does not.
    const startsNow =
      this.queue.length === 0 &&
      !this.waitingForPermit &&
      this.freshBatches < config.writeBatchesMax;
    if (!startsNow && this.queue.length >= config.queuedCallsMax) {
      return Promise.reject(
        overloaded("queue_full", `${config.queuedCallsMax} calls are already waiting`),
      );
    }
    return new Promise<Outcome[]>((resolve, reject) => {
      const pending = this.pending(commands, atomic, options, resolve, reject);
      this.queue.push(pending);
      this.pump();
    });
  }

  private pending(
    commands: readonly Command[],
    atomic: boolean,
    options: CallOptions | undefined,
    resolve: (outcomes: Outcome[]) => void,
    reject: (error: unknown) => void,
  ): Pending {
    const leaveQueue = (): boolean => {
      const index = this.queue.indexOf(pending);
      if (index >= 0) this.queue.splice(index, 1);
      return index >= 0;
    };
    const waitMs = this.deps.config.queueWaitMsMax;
    const timer = setTimeout(
      () => {
        if (leaveQueue()) {
          pending.settle({
            error: overloaded(
              "queue_wait",
              `no database connection became free within ${waitMs} ms`,
            ),
          });
        }
      },
      queueWaitMs(waitMs, options),
    );
    // A caller that gives up is answered at once; a batch it is part of runs on.
    const onAbort = () => {
      leaveQueue();
      pending.settle({ error: options?.signal?.reason });
    };
    options?.signal?.addEventListener("abort", onAbort, { once: true });
    const pending: Pending = {
      commands,
      atomic,
      options,
      ledgerIds: knownLedgerIds(commands),
      alone: tighterThanStatements(this.deps.config, options),
      settle: (result) => {
        clearTimeout(timer);
        options?.signal?.removeEventListener("abort", onAbort);
        if (Array.isArray(result)) resolve(result);
        else reject(result.error);
      },
    };
    return pending;
  }

  /** Starts a batch when something queued could run and no batch already waits for a connection. */
  private pump(): void {
    if (
      this.waitingForPermit ||
      this.freshBatches >= this.deps.config.writeBatchesMax ||
      this.select().length === 0
    ) {
      return;
    }
    this.waitingForPermit = true;
    this.deps.admission.permit(this.deps.config.queueWaitMsMax).then(
      (release) => {
        this.waitingForPermit = false;
        // Calls may have left the queue meanwhile (deadline, queue wait).
        const batch = this.take();
        if (batch.length === 0) {
          release();
          return;
        }
        const stalled = this.countWhileFresh();
        this.pump();
        void this.run(batch).finally(() => {
          stalled();
          release();
          this.pump();
        });
      },
      () => {
        this.waitingForPermit = false;
        this.pump();
      },
    );
  }

  /**
   * Counts a batch among the fresh ones until it ends or has run for
   * BATCH_STALL_MS. A stalled batch (a lock wait, a database that stopped
   * answering) then no longer holds up writes to other ledgers: the next
   * batch starts beside it, bounded by the pool's permits. Returns the
   * batch's end, idempotent.
   */
  private countWhileFresh(): () => void {
    this.freshBatches += 1;
    let fresh = true;
    const stale = () => {
      if (fresh) {
        fresh = false;
        this.freshBatches -= 1;
      }
    };
    const timer = setTimeout(() => {
      stale();
      this.pump();
    }, BATCH_STALL_MS);
    timer.unref();
    return () => {
      clearTimeout(timer);
      stale();
    };
  }

  private blocked(pending: Pending, held: ReadonlySet<string>): boolean {
    return pending.ledgerIds.some((id) => this.inFlight.has(id) || held.has(id));
  }

  /** Takes the calls of the next batch off the queue; their ledgers are in flight until it ends. */
  private take(): Pending[] {
    const taken = this.select();
    for (const pending of taken) {
      this.queue.splice(this.queue.indexOf(pending), 1);
      for (const id of pending.ledgerIds) this.inFlight.set(id, (this.inFlight.get(id) ?? 0) + 1);
    }
    return taken;
  }

  /**
   * The calls the next batch would take, in arrival order: calls whose
   * ledgers no batch in flight holds, and no call on a ledger of a call left
   * behind, so each ledger sees its calls in arrival order. pump() asks the
   * same question, so it never starts a batch that would take nothing.
   */
  private select(): Pending[] {
    const taken: Pending[] = [];
    const held = new Set<string>();
    let commands = 0;
    for (const pending of this.queue) {
      const full = taken.length > 0 && commands + pending.commands.length > BATCH_COMMANDS_MAX;
      if (
        full ||
        this.blocked(pending, held) ||
        (taken.length > 0 && (pending.alone || taken[0]?.alone))
      ) {
        for (const id of pending.ledgerIds) held.add(id);
        continue;
      }
      taken.push(pending);
      commands += pending.commands.length;
    }
    return taken;
  }

  /** Write calls queued for a batch now. */
  get queuedCalls(): number {
    return this.queue.length;
  }

  private async run(batch: readonly Pending[]): Promise<void> {
    const startMs = performance.now();
    try {
      const units = batch.flatMap(unitsOf);
      const tally: Tally = { transactions: 0, lockWaitSeconds: 0 };
      const options = batch.length === 1 ? batch[0]?.options : undefined;
      const outcomes = await this.execute(units, options, tally);
      settleAll(batch, units, outcomes);
      const lost = lostDatabase(outcomes);
      if (lost !== undefined) {
        this.failQueuedBehind(batch, lost);
      }
      this.deps.config.onWriteBatch?.({
        calls: batch.length,
        commands: units.reduce((sum, unit) => sum + unit.commands.length, 0),
        transactions: tally.transactions,
        durationSeconds: (performance.now() - startMs) / 1000,
        lockWaitSeconds: tally.lockWaitSeconds,
      });
    } finally {
      for (const id of batch.flatMap((p) => p.ledgerIds)) {
        const count = (this.inFlight.get(id) ?? 1) - 1;
        if (count === 0) this.inFlight.delete(id);
        else this.inFlight.set(id, count);
      }
    }
  }

  /**
   * A database lost under a batch is lost for the calls queued behind its
   * ledgers too: they fail now (STORE_UNAVAILABLE, safe to retry) instead of
   * starting a batch of their own that would wait out a query bound again.
   */
  private failQueuedBehind(batch: readonly Pending[], error: LedgerError): void {
    const ledgers = new Set(batch.flatMap((pending) => pending.ledgerIds));
    for (const pending of [...this.queue]) {
      if (pending.ledgerIds.some((id) => ledgers.has(id))) {
        this.queue.splice(this.queue.indexOf(pending), 1);
        pending.settle({ error });
      }
    }
  }

  /**
   * Runs units as one transaction. A deadlock or serialization failure runs
   * them again (bounded, with jittered backoff); any other error of the
   * whole batch splits it in halves run one after the other, in order, until
   * the unit that causes it fails alone. A lost database fails them all.
   */
  private async execute(
    units: readonly Unit[],
    options: CallOptions | undefined,
    tally: Tally,
  ): Promise<Outcome[][]> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const run = this.deps.runBatch ?? runBatch;
        tally.transactions += 1;
        return await this.deps.transaction(options, (em) =>
          run(em, units, {
            now: this.deps.config.clock(),
            operations: this.deps.config.operations,
            holdPolicy: this.deps.config.holdPolicy,
            signal: options?.signal,
            onLocked: (seconds) => {
              tally.lockWaitSeconds += seconds;
            },
          }),
        );
      } catch (error) {
        if (options?.signal?.aborted) {
          return units.map((unit) => failed(unit, options.signal?.reason));
        }
        if (isRetryable(error) && attempt < this.deps.config.retryAttemptsMax) {
          await sleep(backoffMs(attempt));
          continue;
        }
        return this.afterFailure(units, options, tally, error);
      }
    }
  }

  private async afterFailure(
    units: readonly Unit[],
    options: CallOptions | undefined,
    tally: Tally,
    error: unknown,
  ): Promise<Outcome[][]> {
    const translated = isRetryable(error) ? concurrencyConflict(error) : translateError(error);
    const lost = translated instanceof LedgerError && translated.reason === "STORE_UNAVAILABLE";
    if (units.length === 1 || lost) {
      return units.map((unit) => failed(unit, translated));
    }
    const half = Math.ceil(units.length / 2);
    const first = await this.execute(units.slice(0, half), options, tally);
    return [...first, ...(await this.execute(units.slice(half), options, tally))];
  }
}

/** What a batch's transactions add up to, for its WriteBatchReport. */
interface Tally {
  transactions: number;
  lockWaitSeconds: number;
}

/** A unit of a call: an atomic call is one; a call that is not, one per command. */
interface Unit extends BatchUnit {
  readonly pending: Pending;
}

function unitsOf(pending: Pending): Unit[] {
  if (pending.atomic || pending.commands.length === 1) {
    return [{ pending, commands: pending.commands, atomic: pending.atomic }];
  }
  return pending.commands.map((command) => ({ pending, commands: [command], atomic: false }));
}

function failed(unit: Unit, error: unknown): Outcome[] {
  return unit.commands.map(() => ({ ok: false, error }));
}

/** The STORE_UNAVAILABLE every command of a batch failed with, when the database was lost under it. */
function lostDatabase(outcomes: readonly Outcome[][]): LedgerError | undefined {
  const [first] = outcomes.flat();
  const lost =
    first !== undefined &&
    !first.ok &&
    first.error instanceof LedgerError &&
    first.error.reason === "STORE_UNAVAILABLE" &&
    outcomes.flat().every((outcome) => !outcome.ok && outcome.error === first.error);
  return lost ? (first.error as LedgerError) : undefined;
}

function settleAll(batch: readonly Pending[], units: readonly Unit[], outcomes: Outcome[][]): void {
  for (const pending of batch) {
    pending.settle(
      units.flatMap((unit, index) => (unit.pending === pending ? (outcomes[index] ?? []) : [])),
    );
  }
}

function knownLedgerIds(commands: readonly Command[]): string[] {
  return [
    ...new Set(commands.flatMap((c) => namedLedgerIds(c).map((id) => flightKey(id, c.scope)))),
  ];
}

/**
 * What a call waits for in the queue: a ledger as its scope names it. A
 * call naming another app's ledger waits for nothing that ledger's own
 * calls do (as for one that does not exist); calls of one scope, or
 * unscoped ones, keep their order per ledger.
 */
function flightKey(ledgerId: string, scope: Scope): string {
  return scope === undefined ? ledgerId : JSON.stringify([scope, ledgerId]);
}

function tighterThanStatements(
  config: ResolvedStoreConfig,
  options: CallOptions | undefined,
): boolean {
  return options?.timeoutMs !== undefined && options.timeoutMs < config.statementTimeoutMs;
}

/** Full jitter over an exponential ceiling, so retrying batches spread out. */
function backoffMs(attempt: number): number {
  return Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
}
