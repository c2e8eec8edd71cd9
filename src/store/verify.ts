import type { LedgerStore } from "../domain/index.js";
import { translateError } from "./db-errors.js";
import { initOrm } from "./orm.js";
import type { PostgresLedgerStore } from "./postgres-ledger-store.js";
import { findInvariantBreaches, type InvariantBreach } from "./verify-invariants.js";

export type { InvariantBreach, InvariantCheck } from "./verify-invariants.js";

/**
 * Audits a whole database (by URL) or the database of an open store: every
 * ledger's balance is the sum of its entries, balance_after chains in
 * sequence order, sequences run 1..version without gaps, and no transaction
 * is reversed beyond its amount or by other than the sum of its reversals.
 * Empty: everything holds.
 */
export async function verifyInvariants(
  target: string | LedgerStore,
): Promise<readonly InvariantBreach[]> {
  if (typeof target !== "string") {
    if (!isPostgresStore(target)) {
      throw new TypeError("verifyInvariants needs a database URL or a store from openStore()");
    }
    return target.verifyInvariants();
  }
  const orm = await initOrm(target, { poolSizeMax: 1, connectTimeoutMs: 5000 });
  try {
    return await findInvariantBreaches(orm.em.fork());
  } catch (error) {
    throw translateError(error);
  } finally {
    await orm.close(true);
  }
}

function isPostgresStore(store: LedgerStore): store is PostgresLedgerStore {
  return typeof (store as Partial<PostgresLedgerStore>).verifyInvariants === "function";
}
