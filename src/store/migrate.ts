import { translateError } from "./db-errors.js";
import { initOrm } from "./orm.js";

export interface MigrateOptions {
  /** databaseUrl leads through a pooler in transaction mode: no settings at connect (orm.ts). */
  readonly transactionPooling?: boolean | undefined;
}

/**
 * Applies the committed migrations that the database has not seen yet, all
 * in one transaction. Idempotent: a migrated database is left as it is.
 * MikroORM's migrator takes no advisory lock and keeps nothing in the
 * session, so one transaction is all it needs, through a pooler too.
 */
export async function migrate(databaseUrl: string, options: MigrateOptions = {}): Promise<void> {
  const orm = await initOrm(databaseUrl, {
    poolSizeMax: 1,
    connectTimeoutMs: 5000,
    transactionPooling: options.transactionPooling,
  });
  try {
    await orm.migrator.up();
  } catch (error) {
    throw translateError(error);
  } finally {
    await orm.close(true);
  }
}
