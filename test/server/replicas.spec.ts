/**
 * Two service processes (`npm start`'s main.ts) on one PostgreSQL, driven
 * together: every write is sent to both replicas at once under the same
 * idempotency key, transfers cross the same ledgers through both, and
 * WatchEntries streams see what both wrote: a ledger's on one replica, the
 * app's on the other, each ledger's entries once and in order. Exactly once
 * per key across replicas, balances that add up, and every invariant
 * (`npm run verify`'s check) holds afterwards.
 *
 * The scenario runs twice: with both replicas connected to PostgreSQL
 * directly, and through PgBouncer in transaction pooling mode, where the
 * replicas' connections share a few server connections and no session state
 * survives a transaction. Migrations and the invariant check use the
 * database directly.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyInvariants } from "../../src/store/index.js";
import { type ServiceProcess, startService } from "../faults/support/service-process.js";
import { LOAD_APP, ledgerClient, openLedgers } from "../faults/support/write-load.js";
import { IN_CI } from "../support/ci.js";
import { type LedgerApi, openClient, type WatchedEvent } from "../support/clients.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { mapBounded } from "../support/fixtures.js";
import {
  PGBOUNCER_AVAILABLE,
  PGBOUNCER_MISSING,
  type PgBouncer,
  startPgBouncer,
} from "../support/pgbouncer.js";
import { freePort } from "../support/ports.js";

const START_TIMEOUT_MS = 90_000;
const WRITES = 120;

/** How the replicas reach the database. */
interface Route {
  readonly name: string;
  /** undefined: it can run here; otherwise why not. */
  readonly missing: string | undefined;
  open(databaseUrl: string): Promise<OpenRoute>;
}

interface OpenRoute {
  /** The replicas' DATABASE_URL. */
  readonly url: string;
  readonly env: Readonly<Record<string, string>>;
  /** What the route itself must show once the scenario ran. */
  check(): Promise<void>;
  close(): Promise<void>;
}

const DIRECT: Route = {
  name: "directly",
  missing: undefined,
  open: async (databaseUrl) => ({
    url: databaseUrl,
    env: {},
    check: async () => {},
    close: async () => {},
  }),
};

const THROUGH_PGBOUNCER: Route = {
  name: "through PgBouncer in transaction mode",
  missing: PGBOUNCER_AVAILABLE ? undefined : PGBOUNCER_MISSING,
  async open(databaseUrl) {
    const pgbouncer = await startPgBouncer(databaseUrl);
    return {
      url: pgbouncer.url,
      env: { DB_TRANSACTION_POOLING: "true" },
      check: () => checkPooled(pgbouncer, databaseUrl),
      close: () => pgbouncer.stop(),
    };
  },
};

/**
 * Transaction pooling happened: the replicas' client connections, still
 * open in their pools, outnumber the server connections PgBouncer holds.
 * And the replicas left no session setting behind on those shared server
 * connections: a new client sees the database's own defaults.
 */
async function checkPooled(pgbouncer: PgBouncer, databaseUrl: string): Promise<void> {
  const pool = await pgbouncer.pool();
  expect(pool.servers).toBeGreaterThan(0);
  expect(pool.servers).toBeLessThanOrEqual(pgbouncer.poolSize);
  expect(pool.clients).toBeGreaterThan(pool.servers);
  expect(await timeoutSettings(pgbouncer.url)).toEqual(await timeoutSettings(databaseUrl));
}

/** The timeouts the service sets for its transactions (SET LOCAL), as a new session sees them. */
async function timeoutSettings(url: string): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<Record<string, string>>(
      `select current_setting('statement_timeout') as statement_timeout,
              current_setting('lock_timeout') as lock_timeout,
              current_setting('idle_in_transaction_session_timeout') as idle_in_transaction`,
    );
    return rows[0] ?? {};
  } finally {
    await client.end();
  }
}

if (THROUGH_PGBOUNCER.missing !== undefined && !IN_CI) {
  process.stderr.write(
    `\n[replicas] SKIPPED through PgBouncer: ${THROUGH_PGBOUNCER.missing}. In CI (CI=true) this is a failure.\n\n`,
  );
}

describe.runIf(THROUGH_PGBOUNCER.missing !== undefined && IN_CI)("replicas in CI", () => {
  it("have PgBouncer to run through", () => {
    throw new Error(`${THROUGH_PGBOUNCER.missing}: CI requires the PgBouncer run`);
  });
});

for (const route of [DIRECT, THROUGH_PGBOUNCER]) {
  describe.skipIf(route.missing !== undefined)(
    `two replicas on one database, ${route.name}${route.missing === undefined ? "" : ` (skipped: ${route.missing})`}`,
    () => replicaScenario(route),
  );
}

function replicaScenario(route: Route): void {
  let database: TestDatabase;
  let opened: OpenRoute | undefined;
  let replicas: ServiceProcess[] = [];

  beforeAll(async () => {
    // Migrated directly: MIGRATE_ON_START is off for the replicas.
    database = await createTestDatabase();
    opened = await route.open(database.url);
    const env = { WATCH_POLL_INTERVAL_MS: "100", MIGRATE_ON_START: "false", ...opened.env };
    const url = opened.url;
    replicas = await Promise.all(
      [0, 1].map(async () => startService({ databaseUrl: url, port: await freePort(), env })),
    );
  }, START_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all(replicas.map((replica) => replica.stop()));
    await opened?.close();
    await database?.drop();
  }, START_TIMEOUT_MS);

  it("write once per key, move money consistently, and stream each other's writes", async () => {
    const [a, b] = replicas.map((replica) => ledgerClient(replica.port));
    if (a === undefined || b === undefined) {
      throw new Error("two replicas expected");
    }
    const [source, ...wallets] = await openLedgers(a, `replicas-${randomUUID().slice(0, 8)}`, 4);
    const watched = wallets[0] as string;
    const watcher = openClient(
      "connect",
      `http://127.0.0.1:${(replicas[1] as ServiceProcess).port}`,
    );
    const stop = new AbortController();
    const streamed: bigint[] = [];
    const streaming = (async () => {
      for await (const entry of watcher.watchEntries(
        { ledgerId: watched, afterSequence: 0n },
        stop.signal,
      )) {
        streamed.push(entry.sequence);
      }
    })();

    const appWatcher = openClient(
      "grpc-js",
      `http://127.0.0.1:${(replicas[0] as ServiceProcess).port}`,
    );
    const appStream = await watchApp(appWatcher, stop.signal);

    // Each write goes to both replicas at once under one key: one effect, two equal answers.
    const answers = await mapBounded(
      Array.from({ length: WRITES }, (_, i) => i),
      16,
      async (i) => {
        const request = {
          fromLedgerId:
            i % 3 === 0 ? (source as string) : (wallets[(i + 1) % wallets.length] as string),
          toLedgerId: wallets[i % wallets.length] as string,
          amount: i % 3 === 0 ? 10n : 1n,
          idempotencyKey: `replicas-${i}-${randomUUID()}`,
        };
        const [viaA, viaB] = await Promise.allSettled([a.transfer(request), b.transfer(request)]);
        return { request, viaA, viaB };
      },
    );
    let landed = 0;
    let answeredByBoth = 0;
    for (const { viaA, viaB } of answers) {
      const made = [viaA, viaB].flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
      // A refusal (funds) uses no key, so the other replica may then make it: one effect at most.
      if (made.length === 0) {
        continue;
      }
      expect(new Set(made.map((r) => r.transaction?.id)).size).toBe(1);
      expect(made.filter((r) => !r.replayed)).toHaveLength(1);
      landed += 1;
      answeredByBoth += made.length === 2 ? 1 : 0;
    }
    expect(landed).toBeGreaterThan(WRITES / 3);
    // The replay across replicas happened: both answered with the one transaction.
    expect(answeredByBoth).toBeGreaterThan(WRITES / 4);

    const ledger = await b.getLedger({ ledgerId: watched });
    await expect
      .poll(() => streamed.length, { timeout: 10_000 })
      .toBe(Number(ledger.ledger?.version));
    const ours = [source, ...wallets] as string[];
    const versions = await Promise.all(
      ours.map(async (id) => Number((await a.getLedger({ ledgerId: id })).ledger?.version)),
    );
    const expectedEntries = versions.reduce((sum, version) => sum + version, 0);
    await expect
      .poll(() => entriesOf(appStream.events, ours).length, { timeout: 10_000 })
      .toBe(expectedEntries);
    stop.abort();
    await Promise.all([streaming, appStream.done]);
    expect(streamed).toEqual(streamed.map((_, i) => BigInt(i + 1)));
    ours.forEach((id, index) => {
      const sequences = entriesOf(appStream.events, [id]).map((entry) => entry.sequence);
      expect(sequences).toEqual(
        Array.from({ length: versions[index] ?? 0 }, (_, i) => BigInt(i + 1)),
      );
    });

    let total = 0n;
    for (const id of [source, ...wallets] as string[]) {
      total += (await a.getLedger({ ledgerId: id })).ledger?.balance ?? 0n;
    }
    expect(total).toBe(0n);
    expect(await verifyInvariants(database.url)).toEqual([]);
    await opened?.check();
    watcher.close();
    appWatcher.close();
  }, 120_000);
}

/** The load app's stream from now on, once it has started (its checkpoint received). */
async function watchApp(
  api: LedgerApi,
  signal: AbortSignal,
): Promise<{ events: WatchedEvent[]; done: Promise<void> }> {
  const events: WatchedEvent[] = [];
  let started: () => void = () => {};
  const first = new Promise<void>((resolve) => {
    started = resolve;
  });
  const done = (async () => {
    for await (const event of api.watchEvents({ app: LOAD_APP }, signal)) {
      events.push(event);
      started();
    }
  })().finally(started);
  await first;
  return { events, done };
}

function entriesOf(events: readonly WatchedEvent[], ledgerIds: readonly string[]) {
  return events.flatMap((event) =>
    event.kind === "entry" && ledgerIds.includes(event.entry.ledgerId) ? [event.entry] : [],
  );
}
