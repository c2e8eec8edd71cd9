/**
 * A PostgreSQL of the benchmark's own in a temporary directory, migrated, with
 * two equal sets of unbounded ledgers: one written through the service, one by
 * the raw baseline, so neither sees the other's rows. Each set has the
 * --ledgers ledgers of the entry scenarios and TRANSFER_LEDGERS more, of the
 * same app and unit, for the transfer scenarios.
 */
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { migrate, startEmbeddedPostgres } from "../src/store/index.js";

export interface BenchDatabase {
  readonly url: string;
  readonly postmasterPid: number;
  readonly serverVersion: string;
  /** As PostgreSQL reports it once started. */
  readonly synchronousCommit: "on" | "off";
  /** The ledgers written through the service. */
  readonly service: BenchLedgers;
  /** The raw baselines' own ledgers, in another app. */
  readonly raw: BenchLedgers;
  stop(): Promise<void>;
}

/** Ledger ids of one app, all unbounded (a debit never fails for funds), in creation order. */
export interface BenchLedgers {
  /** The entry scenarios' --ledgers; the first one is the hot ledger. */
  readonly entries: readonly string[];
  /** The TRANSFER_LEDGERS of the transfer scenarios and hold-post, none of them in `entries`. */
  readonly transfers: readonly string[];
}

/** A transfer's two distinct ledgers of one app and unit. */
export interface TransferPair {
  readonly from: string;
  readonly to: string;
}

/** A declared app: the service refuses any other, and its token is bound to one. */
export const SERVICE_APP = "content";
export const RAW_APP = "bench-raw";
/** Ledgers per side that the transfer scenarios and hold-post move amounts between. */
export const TRANSFER_LEDGERS = 1000;

export async function startBenchDatabase(options: {
  readonly ledgers: number;
  readonly durable: boolean;
  readonly poolSize: number;
  readonly replicas: number;
}): Promise<BenchDatabase> {
  const dir = await mkdtemp(join(tmpdir(), "ledger-bench-pg-"));
  // mkdtemp makes it private; the postgres user must be able to pass through it.
  await chmod(dir, 0o755);
  const dataDir = join(dir, "data");
  const database = await startEmbeddedPostgres({
    dataDir,
    settings: {
      // Each replica's pool, the raw baselines' pool, and room for the rest.
      max_connections: String(Math.max(100, options.poolSize * (options.replicas + 2))),
      shared_buffers: "256MB",
      ...(options.durable ? {} : { synchronous_commit: "off" }),
    },
  });
  await migrate(database.url);
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const service = await insertBenchLedgers(client, SERVICE_APP, options.ledgers);
    const raw = await insertBenchLedgers(client, RAW_APP, options.ledgers);
    // Only the table that holds rows. Analysing the empty ones records them
    // as empty, and each connection then plans its foreign-key checks
    // against transactions as a sequential scan, kept for the session while
    // the table grows: about 1 ms per entry written within a minute (until
    // autovacuum analyses them again). A fresh database, never analysed, plans
    // them as index lookups, as production sees it.
    await client.query("vacuum analyze ledgers");
    const { rows } = await client.query<{ server_version: string }>("show server_version");
    const commit = await client.query<{ synchronous_commit: string }>("show synchronous_commit");
    const synchronousCommit = commit.rows[0]?.synchronous_commit;
    if (synchronousCommit !== (options.durable ? "on" : "off")) {
      throw new Error(`synchronous_commit is ${synchronousCommit}, not what the run asked for`);
    }
    const pid = Number((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]);
    return {
      url: database.url,
      postmasterPid: pid,
      serverVersion: rows[0]?.server_version ?? "unknown",
      synchronousCommit: options.durable ? "on" : "off",
      service,
      raw,
      async stop() {
        await database.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } finally {
    await client.end();
  }
}

async function insertBenchLedgers(
  client: pg.Client,
  app: string,
  entryLedgers: number,
): Promise<BenchLedgers> {
  return {
    entries: await insertLedgers(client, app, "owner-", entryLedgers),
    transfers: await insertLedgers(client, app, "transfer-owner-", TRANSFER_LEDGERS),
  };
}

/** `count` unbounded CREDITS ledgers of `app`, owned by ownerPrefix 1..count. */
async function insertLedgers(
  client: pg.Client,
  app: string,
  ownerPrefix: string,
  count: number,
): Promise<string[]> {
  const { rows } = await client.query<{ id: string }>(
    `insert into ledgers (id, app, owner_id, unit, status, min_balance, created_at)
     select gen_random_uuid(), $1, $2 || i, 'CREDITS', 'ACTIVE', null, now()
       from generate_series(1, $3::int) as i
     returning id`,
    [app, ownerPrefix, count],
  );
  return rows.map((row) => row.id);
}
