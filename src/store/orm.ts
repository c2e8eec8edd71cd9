import { Migrator } from "@mikro-orm/migrations";
import { MikroORM, type Options } from "@mikro-orm/postgresql";
import type { Pool } from "pg";
import { ENTITIES } from "./entities/index.js";
import { MIGRATIONS } from "./migrations/index.js";
import { guardPoolConnections } from "./pool-guard.js";

export interface OrmOptions {
  readonly poolSizeMax: number;
  /** Bounds opening a connection; callers queue before the pool (admission.ts), never in it. */
  readonly connectTimeoutMs: number;
  /**
   * Session defaults of every connection; transactions may lower them (SET
   * LOCAL). The statement timeout plus QUERY_TIMEOUT_GRACE_MS also bounds the
   * client's wait for any answer (pg's query_timeout).
   */
  readonly statementTimeoutMs?: number | undefined;
  readonly lockTimeoutMs?: number | undefined;
  /**
   * Through a pooler in transaction mode: no session defaults at connect
   * (see sessionDefaults); each transaction sets its own (unit-of-work.ts).
   */
  readonly transactionPooling?: boolean | undefined;
  /** Told of the pg pool once it exists (the store reads its counts for metrics). */
  readonly onPool?: ((pool: Pool) => void) | undefined;
}

/** A transaction left open by a bug must not hold its locks forever. */
export const IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;

/**
 * How much longer than the statement timeout the client waits for any answer
 * before it gives up on the connection: a live server ends a statement at its
 * timeout itself, so silence beyond this means a frozen or unreachable one.
 */
export const QUERY_TIMEOUT_GRACE_MS = 2000;

export async function initOrm(databaseUrl: string, options: OrmOptions): Promise<MikroORM> {
  return MikroORM.init(ormConfig(databaseUrl, options));
}

function ormConfig(databaseUrl: string, options: OrmOptions): Options {
  return {
    clientUrl: databaseUrl,
    entities: ENTITIES,
    extensions: [Migrator],
    migrations: {
      migrationsList: MIGRATIONS,
      tableName: "mikro_orm_migrations",
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
    pool: { min: 0, max: options.poolSizeMax, idleTimeoutMillis: 30_000 },
    driverOptions: {
      connectionTimeoutMillis: options.connectTimeoutMs,
      keepAlive: true,
      // PgBouncer tracks application_name per client and sets it on each server connection it lends.
      application_name: "shared-ledger",
      query_timeout:
        options.statementTimeoutMs === undefined
          ? undefined
          : options.statementTimeoutMs + QUERY_TIMEOUT_GRACE_MS,
      ...sessionDefaults(options),
      onPoolCreated: (pool: Pool) => {
        guardPoolConnections(pool);
        options.onPool?.(pool);
      },
    },
    timezone: "Z",
    debug: false,
    allowGlobalContext: false,
  };
}

/**
 * Settings pg sends as startup parameters: session defaults of the
 * connection. A pooler in transaction mode refuses them (PgBouncer:
 * "unsupported startup parameter") and could not keep them anyway, since
 * consecutive transactions may run on different server connections.
 */
function sessionDefaults(options: OrmOptions): Record<string, number | undefined> {
  if (options.transactionPooling === true) {
    return {};
  }
  return {
    statement_timeout: options.statementTimeoutMs,
    lock_timeout: options.lockTimeoutMs,
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
  };
}
