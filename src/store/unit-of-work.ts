import { IsolationLevel, type TransactionOptions } from "@mikro-orm/core";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { CallOptions } from "../domain/index.js";
import { Admission, queueWaitMs } from "./admission.js";
import type { ResolvedStoreConfig } from "./config.js";
import { translateError } from "./db-errors.js";
import { IDLE_IN_TRANSACTION_TIMEOUT_MS } from "./orm.js";

const LOCK_SHARE_OF_STATEMENT = 0.9;

export interface UnitOfWork {
  /** Admits reads, and the write pipeline's batches, to the connection pool. */
  readonly admission: Admission;
  /**
   * One database transaction with the call's timeouts, in a fresh
   * EntityManager, for a caller that holds an admission permit (the write
   * pipeline, which retries). Errors are the database's, untranslated.
   */
  transaction<T>(
    options: CallOptions | undefined,
    work: (em: EntityManager) => Promise<T>,
  ): Promise<T>;
  /**
   * Runs a read; inside a transaction only when the caller's deadline is
   * tighter than the default, or through a transaction pooler (where only a
   * transaction can carry the timeouts).
   */
  read<T>(options: CallOptions | undefined, work: (em: EntityManager) => Promise<T>): Promise<T>;
  /**
   * A read of several statements that must agree with each other: one
   * read-only REPEATABLE READ transaction, so every statement sees the same
   * snapshot.
   */
  snapshot<T>(
    options: CallOptions | undefined,
    work: (em: EntityManager) => Promise<T>,
  ): Promise<T>;
}

const SNAPSHOT: TransactionOptions = {
  isolationLevel: IsolationLevel.REPEATABLE_READ,
  readOnly: true,
};

export function createUnitOfWork(orm: MikroORM, config: ResolvedStoreConfig): UnitOfWork {
  const admission = new Admission(config.poolSizeMax, config.queuedCallsMax);
  const admitted = <T>(options: CallOptions | undefined, work: () => Promise<T>): Promise<T> =>
    admission.run(queueWaitMs(config.queueWaitMsMax, options), options?.signal, work);

  /**
   * A fork per attempt. Connected directly, an aborted signal cancels the
   * statement in flight on the server (pg_cancel_backend of the connection's
   * pid). Through a transaction pooler that pid is the pooler's made-up key,
   * not a backend's, so the statement is left to end at its timeout, which
   * never outlasts the call's deadline (setLocalTimeouts).
   */
  const abortStrategy = config.transactionPooling ? "ignore query" : "cancel query";
  const fork = (options: CallOptions | undefined): EntityManager =>
    options?.signal === undefined
      ? orm.em.fork()
      : orm.em.fork({ signal: options.signal, inflightQueryAbortStrategy: abortStrategy });

  const inTransaction = async <T>(
    options: CallOptions | undefined,
    work: (em: EntityManager) => Promise<T>,
    transactionOptions?: TransactionOptions,
  ): Promise<T> =>
    fork(options).transactional(async (em) => {
      await setLocalTimeouts(em, config, options);
      return work(em);
    }, transactionOptions);

  return {
    admission,
    transaction: inTransaction,
    read(options, work) {
      return admitted(options, () => reading(options, work));
    },
    snapshot(options, work) {
      return admitted(options, () => reading(options, work, SNAPSHOT));
    },
  };

  async function reading<T>(
    options: CallOptions | undefined,
    work: (em: EntityManager) => Promise<T>,
    transactionOptions?: TransactionOptions,
  ): Promise<T> {
    options?.signal?.throwIfAborted();
    try {
      if (
        config.transactionPooling ||
        transactionOptions !== undefined ||
        statementTimeoutMs(config, options) < config.statementTimeoutMs
      ) {
        return await inTransaction(options, work, transactionOptions);
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
 * loose one) skips the statement and its round trip. Through a transaction
 * pooler there are no session defaults: every transaction sets them all,
 * the idle-in-transaction bound included.
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
  const settings: [name: string, value: string][] = [
    ["lock_timeout", `${lockMs}ms`],
    ["statement_timeout", `${statementMs}ms`],
  ];
  if (config.transactionPooling) {
    settings.push(["idle_in_transaction_session_timeout", `${IDLE_IN_TRANSACTION_TIMEOUT_MS}ms`]);
  } else if (statementMs === config.statementTimeoutMs && lockMs === config.lockTimeoutMs) {
    return;
  }
  await em.execute(
    `select ${settings.map(() => "set_config(?, ?, true)").join(", ")}`,
    settings.flat(),
  );
}

function statementTimeoutMs(config: ResolvedStoreConfig, options: CallOptions | undefined): number {
  const deadlineMs = options?.timeoutMs;
  if (deadlineMs === undefined) {
    return config.statementTimeoutMs;
  }
  return Math.max(1, Math.min(config.statementTimeoutMs, Math.floor(deadlineMs)));
}
