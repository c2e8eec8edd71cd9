/**
 * Real database conditions that make a call slow or fail, for the plumbing
 * specs, set up from a session of its own in the spec's own database: a row
 * lock held by another transaction, and a trigger on entries that sleeps or
 * raises for entries carrying a marker description. Nothing is faked; the
 * store meets them as it would in production.
 */
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";

/** An entry with this description sleeps in its INSERT for a long time. */
export const SLOW_ENTRY_DESCRIPTION = "plumbing: sleep in the database";
/** An entry with this description fails its INSERT with a non-domain error. */
export const FAILING_ENTRY_DESCRIPTION = "plumbing: raise in the database";
/** The text of that error: it may be logged, never sent. */
export const INJECTED_FAULT_DETAIL = "injected fault (secret detail)";

const SLOW_ENTRY_SLEEP_S = 30;
const POLL_INTERVAL_MS = 10;
const WAIT_TIMEOUT_MS_DEFAULT = 5000;

export interface HeldLock {
  /** Commits the holding transaction and ends its session; later calls do nothing. */
  release(): Promise<void>;
}

export interface DatabaseConditions {
  /** Takes a ledger's row lock (FOR UPDATE) in a transaction of its own and holds it. */
  holdLedgerLock(ledgerId: string): Promise<HeldLock>;
  /** Sessions of this database waiting for a lock right now. */
  lockWaiters(): Promise<number>;
  /** Sessions of this database sleeping in pg_sleep right now. */
  sleepers(): Promise<number>;
  /** Installs the trigger behind SLOW_ENTRY_DESCRIPTION and FAILING_ENTRY_DESCRIPTION. */
  installEntryTrigger(): Promise<void>;
  /** Inserts `count` active ledgers of an app directly, for specs that need many. */
  insertLedgers(app: string, count: number): Promise<void>;
  close(): Promise<void>;
}

export async function openDatabaseConditions(databaseUrl: string): Promise<DatabaseConditions> {
  const admin = await connect(databaseUrl);
  const count = async (where: string): Promise<number> => {
    const { rows } = await admin.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid() and ${where}`,
    );
    return rows[0]?.n ?? 0;
  };
  return {
    async holdLedgerLock(ledgerId) {
      const holder = await connect(databaseUrl);
      await holder.query("begin");
      const { rowCount } = await holder.query("select id from ledgers where id = $1 for update", [
        ledgerId,
      ]);
      if (rowCount !== 1) {
        await holder.end();
        throw new Error(`no ledger ${ledgerId} to lock`);
      }
      let released: Promise<void> | undefined;
      return {
        release() {
          released ??= holder.query("commit").then(() => holder.end());
          return released;
        },
      };
    },
    lockWaiters: () => count("wait_event_type = 'Lock'"),
    sleepers: () => count("wait_event = 'PgSleep'"),
    async installEntryTrigger() {
      await admin.query(`
        create function plumbing_entry_conditions() returns trigger language plpgsql as $$
        begin
          if new.description = '${SLOW_ENTRY_DESCRIPTION}' then
            perform pg_sleep(${SLOW_ENTRY_SLEEP_S});
          elsif new.description = '${FAILING_ENTRY_DESCRIPTION}' then
            raise exception '${INJECTED_FAULT_DETAIL}';
          end if;
          return new;
        end $$`);
      await admin.query(`
        create trigger plumbing_entry_conditions before insert on entries
          for each row execute function plumbing_entry_conditions()`);
    },
    async insertLedgers(app, ledgerCount) {
      await admin.query(
        `insert into ledgers (id, app, owner_id, unit, status, min_balance, created_at)
         select gen_random_uuid(), $1, 'bulk-' || i, 'CREDITS', 'ACTIVE', 0, now()
           from generate_series(1, $2::int) as i`,
        [app, ledgerCount],
      );
    },
    close: () => admin.end(),
  };
}

/** Polls `condition` until it holds; fails after `timeoutMs`. */
export async function eventually(
  condition: () => Promise<boolean>,
  what: string,
  timeoutMs = WAIT_TIMEOUT_MS_DEFAULT,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

async function connect(databaseUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  return client;
}
