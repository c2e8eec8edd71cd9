import { DEFAULT_HOLD_POLICY, type HoldPolicy, type OperationRegistry } from "../domain/index.js";
import { appOperationRegistry } from "./app-operations.js";

export interface StoreConfig {
  readonly databaseUrl: string;
  /** Default 10. */
  readonly poolSizeMax?: number | undefined;
  /** Longest wait for a row lock (SET LOCAL lock_timeout). Default 2000. */
  readonly lockTimeoutMs?: number | undefined;
  /** Longest statement (SET LOCAL statement_timeout), capped by CallOptions.timeoutMs. Default 5000. */
  readonly statementTimeoutMs?: number | undefined;
  /** Retries after a deadlock or serialization failure before CONCURRENCY_CONFLICT. Default 3. */
  readonly retryAttemptsMax?: number | undefined;
  /** Bounds opening a connection (a burst of calls queues in front of the pool instead). Default 2000. */
  readonly connectTimeoutMs?: number | undefined;
  /**
   * Longest wait of a call for a free connection when all are busy, then
   * OVERLOADED; a call's own deadline ends its wait sooner. Default 30000.
   */
  readonly queueWaitMsMax?: number | undefined;
  /** Calls that may wait for a connection at once; more are refused at once (OVERLOADED). Default 4096. */
  readonly queuedCallsMax?: number | undefined;
  /**
   * Write batches in flight at once (each holds a connection), at most
   * poolSizeMax. Fewer, larger batches share one lock, round trip and commit
   * among more calls; more overlap their commits. Default 2 (README, Performance).
   */
  readonly writeBatchesMax?: number | undefined;
  /** Default: appOperationRegistry(), the apps declared in proto/apps. */
  readonly operations?: OperationRegistry | undefined;
  /**
   * The ledger's clock, read once per write batch: created_at of what it
   * writes and the bound of occurred_at. Default: the system clock.
   */
  readonly clock?: (() => Date) | undefined;
  /** Told of every write batch once it has answered its callers (for metrics and tests). */
  readonly onWriteBatch?: ((batch: WriteBatchReport) => void) | undefined;
  /**
   * databaseUrl leads through a pooler in transaction mode (PgBouncer
   * pool_mode=transaction), which lends a server connection for one
   * transaction at a time: no session state is kept (orm.ts,
   * unit-of-work.ts). Default false.
   */
  readonly transactionPooling?: boolean | undefined;
  /** A hold's lifetime when its request names no deadline. Default 24 h. */
  readonly holdTtlMsDefault?: number | undefined;
  /** The longest lifetime a hold may ask for. Default 30 days. */
  readonly holdTtlMsMax?: number | undefined;
}

/** One write batch, as onWriteBatch reports it. */
export interface WriteBatchReport {
  /** Calls the batch served. */
  readonly calls: number;
  /** Their commands (a RecordEntries call has one per item). */
  readonly commands: number;
  /** Transactions it took: 1, more after retries and splits. */
  readonly transactions: number;
  /** From taking its calls off the queue (a connection in hand) to answering them. */
  readonly durationSeconds: number;
  /** Time in its ledgers' lock statement (the wait for the row locks and the read), over all its transactions. */
  readonly lockWaitSeconds: number;
}

/** The connection pool now, as metrics read it at scrape time. */
export interface PoolStats {
  /** Connections checked out. */
  readonly inUse: number;
  /** Connections open and free. */
  readonly idle: number;
  /** Reads and write batches waiting for a connection (admission.ts). */
  readonly waiting: number;
  /** Write calls queued for a batch (pipeline/group-commit.ts). */
  readonly queuedWrites: number;
}

export interface ResolvedStoreConfig {
  readonly databaseUrl: string;
  readonly poolSizeMax: number;
  readonly lockTimeoutMs: number;
  readonly statementTimeoutMs: number;
  readonly retryAttemptsMax: number;
  readonly connectTimeoutMs: number;
  readonly queueWaitMsMax: number;
  readonly queuedCallsMax: number;
  readonly writeBatchesMax: number;
  readonly transactionPooling: boolean;
  readonly operations: OperationRegistry;
  readonly onWriteBatch: ((batch: WriteBatchReport) => void) | undefined;
  readonly clock: () => Date;
  readonly holdPolicy: HoldPolicy;
}

/** Measured with `npm run bench` (README, Performance): see the write-batch sweep. */
export const WRITE_BATCHES_MAX_DEFAULT = 2;

/** A burst waits as long as a typical client deadline rather than failing early. */
export const QUEUE_WAIT_MS_MAX_DEFAULT = 30_000;
/** Bounds the memory of waiting calls; a few thousand is a burst, not a flood. */
export const QUEUED_CALLS_MAX_DEFAULT = 4096;

/** The longest hold anyone may configure: a year. */
export const HOLD_TTL_MS_LIMIT = 366 * 24 * 60 * 60 * 1000;

/** Fills defaults and refuses nonsensical limits when configured, not when first used. */
export function resolveStoreConfig(config: StoreConfig): ResolvedStoreConfig {
  if (config.databaseUrl.length === 0) {
    throw new RangeError("StoreConfig.databaseUrl is required");
  }
  const poolSizeMax = bounded("poolSizeMax", config.poolSizeMax ?? 10, 1, 1000);
  const holdTtlMsMax = bounded(
    "holdTtlMsMax",
    config.holdTtlMsMax ?? DEFAULT_HOLD_POLICY.maxTtlMs,
    1,
    HOLD_TTL_MS_LIMIT,
  );
  return {
    databaseUrl: config.databaseUrl,
    poolSizeMax,
    lockTimeoutMs: bounded("lockTimeoutMs", config.lockTimeoutMs ?? 2000, 1, 600_000),
    statementTimeoutMs: bounded(
      "statementTimeoutMs",
      config.statementTimeoutMs ?? 5000,
      1,
      600_000,
    ),
    retryAttemptsMax: bounded("retryAttemptsMax", config.retryAttemptsMax ?? 3, 0, 100),
    connectTimeoutMs: bounded("connectTimeoutMs", config.connectTimeoutMs ?? 2000, 1, 600_000),
    queueWaitMsMax: bounded(
      "queueWaitMsMax",
      config.queueWaitMsMax ?? QUEUE_WAIT_MS_MAX_DEFAULT,
      1,
      600_000,
    ),
    queuedCallsMax: bounded(
      "queuedCallsMax",
      config.queuedCallsMax ?? QUEUED_CALLS_MAX_DEFAULT,
      0,
      1_000_000,
    ),
    writeBatchesMax: Math.min(
      poolSizeMax,
      bounded("writeBatchesMax", config.writeBatchesMax ?? WRITE_BATCHES_MAX_DEFAULT, 1, 1000),
    ),
    transactionPooling: config.transactionPooling ?? false,
    operations: config.operations ?? appOperationRegistry(),
    onWriteBatch: config.onWriteBatch,
    clock: config.clock ?? (() => new Date()),
    holdPolicy: {
      maxTtlMs: holdTtlMsMax,
      defaultTtlMs: bounded(
        "holdTtlMsDefault",
        config.holdTtlMsDefault ?? Math.min(DEFAULT_HOLD_POLICY.defaultTtlMs, holdTtlMsMax),
        1,
        holdTtlMsMax,
      ),
    },
  };
}

function bounded(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `StoreConfig.${name} must be an integer in [${min}, ${max}], got ${value}`,
    );
  }
  return value;
}
