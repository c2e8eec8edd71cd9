import { setTimeout as sleep } from "node:timers/promises";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { CallOptions } from "../domain/index.js";
import { Admission } from "./admission.js";
import type { ResolvedStoreConfig } from "./config.js";
import { concurrencyConflict, isRetryable, translateError } from "./db-errors.js";

const BACKOFF_BASE_MS = 5;
const BACKOFF_CAP_MS = 100;
const LOCK_SHARE_OF_STATEMENT = 0.9;

export interface UnitOfWork {
  /**
   * Runs `work` in one database transaction with the call's timeouts, and
   * runs it again from scratch after a deadlock or serialization failure, at
   * most `retryAttemptsMax` times. Every attempt gets a fresh EntityManager.
   */
  write<T>(options: CallOptions | undefined, work: (em: EntityManager) => Promise<T>): Promise<T>;
  /** Runs a read; inside a transaction only when the caller's deadline is tighter than the default. */
  read<T>(options: CallOptions | undefined, work: (em: EntityManager) => Promise<T>): Promise<T>;
}

export function createUnitOfWork(orm: MikroORM, config: ResolvedStoreConfig): UnitOfWork {
  const admission = new Admission(config.poolSizeMax, config.queuedCallsMax);
  const admitted = <T>(options: CallOptions | undefined, work: () => Promise<T>): Promise<T> =>
    admission.run(queueWaitMs(config, options), options?.signal, work);

  /** A fork per attempt; an aborted signal cancels the statement in flight on the server. */
  const fork = (options: CallOptions | undefined): EntityManager =>
    options?.signal === undefined
      ? orm.em.fork()
      : orm.em.fork({ signal: options.signal, inflightQueryAbortStrategy: "cancel query" });

  const inTransaction = async <T>(
    options: CallOptions | undefined,
    work: (em: EntityManager) => Promise<T>,
  ): Promise<T> =>
    fork(options).transactional(async (em) => {
      await setLocalTimeouts(em, config, options);
      return work(em);
    });

  return {
    write(options, work) {
      return admitted(options, () => retrying(options, work));
    },

    read(options, work) {
      return admitted(options, () => reading(options, work));
    },
  };

  async function retrying<T>(
    options: CallOptions | undefined,
    work: (em: EntityManager) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 0; ; attempt += 1) {
      options?.signal?.throwIfAborted();
      try {
        return await inTransaction(options, work);
      } catch (error) {
        // The caller gave up (deadline, cancellation): its own reason, not ours.
        options?.signal?.throwIfAborted();
        if (!isRetryable(error)) {
          throw translateError(error);
        }
        if (attempt >= config.retryAttemptsMax) {
          throw concurrencyConflict(error);
        }
      }
      await sleep(backoffMs(attempt));
    }
  }

  async function reading<T>(
    options: CallOptions | undefined,
    work: (em: EntityManager) => Promise<T>,
  ): Promise<T> {
    options?.signal?.throwIfAborted();
    try {
      if (statementTimeoutMs(config, options) < config.statementTimeoutMs) {
        return await inTransaction(options, work);
      }
      return await work(fork(options));
    } catch (error) {
      options?.signal?.throwIfAborted();
      throw translateError(error);
    }
  }
}

/**
 * Bounds every lock wait and statement of the transaction (SET LOCAL), the
 * statement timeout never outlasting the caller's deadline. The lock timeout
 * stays below the statement timeout (whose timer starts first), so a long
 * lock wait reports as contention (55P03), not as a statement timeout.
 *
 * Every connection starts with the store's timeouts as its session defaults
 * (orm.ts), so a call whose bounds are those defaults (no deadline, or a
 * loose one) skips the statement and its round trip.
 */
async function setLocalTimeouts(
  em: EntityManager,
  config: ResolvedStoreConfig,
  options: CallOptions | undefined,
): Promise<void> {
  const statementMs = statementTimeoutMs(config, options);
  const lockMs = Math.max(
    1,
    Math.min(config.lockTimeoutMs, Math.floor(statementMs * LOCK_SHARE_OF_STATEMENT)),
  );
  if (statementMs === config.statementTimeoutMs && lockMs === config.lockTimeoutMs) {
    return;
  }
  await em.execute(
    "select set_config('lock_timeout', ?, true), set_config('statement_timeout', ?, true)",
    [`${lockMs}ms`, `${statementMs}ms`],
  );
}

/**
 * How long a call may wait for a connection: the configured maximum, or its
 * own deadline when that is sooner. A call with a signal (every RPC: its
 * deadline aborts it) waits up to the maximum and its signal ends the wait at
 * the deadline, so the caller hears its own DEADLINE_EXCEEDED or CANCELED,
 * not OVERLOADED; only a deadline without a signal needs a shorter timer.
 */
function queueWaitMs(config: ResolvedStoreConfig, options: CallOptions | undefined): number {
  const deadlineMs = options?.timeoutMs;
  if (deadlineMs === undefined || options?.signal !== undefined) {
    return config.queueWaitMsMax;
  }
  return Math.max(1, Math.min(config.queueWaitMsMax, Math.floor(deadlineMs)));
}

function statementTimeoutMs(config: ResolvedStoreConfig, options: CallOptions | undefined): number {
  const deadlineMs = options?.timeoutMs;
  if (deadlineMs === undefined) {
    return config.statementTimeoutMs;
  }
  return Math.max(1, Math.min(config.statementTimeoutMs, Math.floor(deadlineMs)));
}

/** Full jitter over an exponential ceiling, so retrying writers spread out. */
function backoffMs(attempt: number): number {
  const ceilingMs = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.random() * ceilingMs;
}
