import { translateError } from "./db-errors.js";
import { initOrm } from "./orm.js";

/**
 * Applies the committed migrations that the database has not seen yet, all
 * in one transaction. Idempotent: a migrated database is left as it is.
 */
export async function migrate(databaseUrl: string): Promise<void> {
  const orm = await initOrm(databaseUrl, { poolSizeMax: 1, connectTimeoutMs: 5000 });
  try {
    await orm.migrator.up();
  } catch (error) {
    throw translateError(error);
  } finally {
    await orm.close(true);
  }
}
