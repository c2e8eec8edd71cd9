import type { MikroORM } from "@mikro-orm/postgresql";
import {
  type Entry,
  type ItemResult,
  LedgerError,
  type LedgerStore,
  type RecordEntryInput,
} from "../domain/index.js";
import { createLedger } from "./commands/create-ledger.js";
import { recordEntry } from "./commands/record-entry.js";
import { reverseTransaction } from "./commands/reverse-transaction.js";
import { terminateLedger } from "./commands/terminate-ledger.js";
import { type ResolvedStoreConfig, resolveStoreConfig, type StoreConfig } from "./config.js";
import { initOrm } from "./orm.js";
import { listEntries } from "./queries/entries.js";
import { getBalance, getLedger, listLedgers } from "./queries/ledgers.js";
import { createUnitOfWork, type UnitOfWork } from "./unit-of-work.js";
import { findInvariantBreaches, type InvariantBreach } from "./verify-invariants.js";

/** The PostgreSQL LedgerStore, plus an audit of what it has stored. */
export interface PostgresLedgerStore extends LedgerStore {
  /** Every stored fact that contradicts the ledger's rules; empty when all hold. */
  verifyInvariants(): Promise<readonly InvariantBreach[]>;
}

/**
 * Connects to a migrated database (it does not migrate) and checks that it
 * answers. STORE_UNAVAILABLE when it does not.
 */
export async function openStore(config: StoreConfig): Promise<PostgresLedgerStore> {
  const resolved = resolveStoreConfig(config);
  const orm = await initOrm(resolved.databaseUrl, {
    poolSizeMax: resolved.poolSizeMax,
    connectTimeoutMs: resolved.connectTimeoutMs,
    statementTimeoutMs: resolved.statementTimeoutMs,
    lockTimeoutMs: resolved.lockTimeoutMs,
  });
  const store = storeOn(orm, resolved);
  try {
    await store.ping();
  } catch (error) {
    await orm.close(true).catch(() => {});
    throw error;
  }
  return store;
}

function storeOn(orm: MikroORM, config: ResolvedStoreConfig): PostgresLedgerStore {
  const unit: UnitOfWork = createUnitOfWork(orm, config);
  let closed: Promise<void> | undefined;
  /** A closed store must not reopen a pool behind the caller's back (MikroORM reconnects lazily). */
  const open = (): void => {
    if (closed !== undefined) {
      throw new LedgerError("STORE_UNAVAILABLE", "the ledger store is closed", {});
    }
  };
  return {
    async createLedger(input, options) {
      open();
      return unit.write(options, (em) => createLedger(em, input, new Date()));
    },
    async getLedger(ledgerId, options) {
      open();
      return unit.read(options, (em) => getLedger(em, ledgerId));
    },
    async listLedgers(input, options) {
      open();
      return unit.read(options, (em) => listLedgers(em, input));
    },
    async recordEntry(input, options) {
      open();
      return unit.write(options, (em) => recordEntry(em, config.operations, input, new Date()));
    },
    async recordEntries(input, options) {
      open();
      // Interim (replaced by the write pipeline): one transaction when atomic, one per item otherwise.
      const recordOne = (em: Parameters<Parameters<UnitOfWork["write"]>[1]>[0], index: number) =>
        recordEntry(
          em,
          config.operations,
          input.entries[index] as RecordEntryInput,
          new Date(),
        ).catch((error: unknown) => {
          if (error instanceof LedgerError) {
            throw new LedgerError(error.reason, `entries[${index}]: ${error.message}`, {
              ...error.metadata,
              index: String(index),
            });
          }
          throw error;
        });
      if (input.atomic) {
        return unit.write(options, async (em) => {
          const results: ItemResult<Entry>[] = [];
          for (let index = 0; index < input.entries.length; index += 1) {
            results.push({ ok: true, ...(await recordOne(em, index)) });
          }
          return results;
        });
      }
      const results: ItemResult<Entry>[] = [];
      for (let index = 0; index < input.entries.length; index += 1) {
        try {
          results.push({ ok: true, ...(await unit.write(options, (em) => recordOne(em, index))) });
        } catch (error) {
          if (
            !(error instanceof LedgerError) ||
            error.reason === "STORE_UNAVAILABLE" ||
            error.reason === "OVERLOADED"
          ) {
            throw error;
          }
          results.push({ ok: false, error });
        }
      }
      return results;
    },
    async reverseTransaction(input, options) {
      open();
      return unit.write(options, (em) => reverseTransaction(em, input, new Date()));
    },
    async getBalance(lookup, options) {
      open();
      return unit.read(options, (em) => getBalance(em, lookup));
    },
    async listEntries(input, options) {
      open();
      return unit.read(options, (em) => listEntries(em, input));
    },
    async terminateLedger(ledgerId, options) {
      open();
      return unit.write(options, (em) => terminateLedger(em, ledgerId, new Date()));
    },
    async ping(options) {
      open();
      await unit.read(options, (em) => em.execute("select 1"));
    },
    async verifyInvariants() {
      open();
      return unit.read(undefined, (em) => findInvariantBreaches(em));
    },
    close() {
      closed ??= orm.close(true);
      return closed;
    },
  };
}
