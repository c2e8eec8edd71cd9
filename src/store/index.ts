/**
 * The PostgreSQL store: what src/server and tests use. Everything else in
 * src/store is internal.
 */
export type { LedgerStore } from "../domain/index.js";
export { appOperationRegistry } from "./app-operations.js";
export {
  HOLD_TTL_MS_LIMIT,
  type PoolStats,
  QUEUE_WAIT_MS_MAX_DEFAULT,
  QUEUED_CALLS_MAX_DEFAULT,
  type StoreConfig,
  WRITE_BATCHES_MAX_DEFAULT,
  type WriteBatchReport,
} from "./config.js";
export {
  type EmbeddedDatabase,
  type EmbeddedPostgresOptions,
  startEmbeddedPostgres,
} from "./embedded-postgres.js";
export { migrate } from "./migrate.js";
export { openStore, type PostgresLedgerStore } from "./postgres-ledger-store.js";
export {
  DEFAULT_DATA_DIR,
  type LevelLogger,
  type LogFn,
  type LogLevel,
  logTo,
  type ResolvedDatabase,
  resolveDatabase,
} from "./resolve-database.js";
export { type InvariantBreach, type InvariantCheck, verifyInvariants } from "./verify.js";
