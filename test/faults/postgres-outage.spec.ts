/**
 * PostgreSQL taken away under write load, two ways: killed by an immediate
 * stop and restarted, and frozen (SIGSTOP: connections open, nothing answers,
 * as with a hung host or a network partition) and thawed. While it is away
 * every call fails fast with UNAVAILABLE / STORE_UNAVAILABLE (none hangs
 * until its deadline, not even one whose query was already in flight), the
 * same service process recovers by itself once the database is back, every
 * write acknowledged OK is stored, no transaction is half-applied (an
 * unacknowledged write left all of itself or nothing, a hold's unacknowledged
 * post or void left it PENDING or resolved it whole; retrying each with its
 * key replays what was stored or applies it, exactly once), and
 * `npm run verify` finds no breach.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.js";
import { type FaultCluster, startFaultCluster } from "./support/cluster.js";
import {
  expectExactlyTheAcknowledgedWrites,
  expectRetriesToAnswerAsStored,
  observeUnacknowledged,
} from "./support/exactly-once.js";
import { type ServiceProcess, startService } from "./support/service-process.js";
import {
  type Ack,
  ATTEMPT_TIMEOUT_MS,
  holdSummary,
  type LedgerClient,
  ledgerClient,
  openLedgers,
  runWriteLoad,
  settleAll,
} from "./support/write-load.js";

const WRITERS = 8;
const LEDGERS = 4;
const LOAD_BEFORE_OUTAGE_MS = 1500;

interface Outage {
  readonly name: string;
  readonly begin: () => Promise<void>;
  readonly end: () => Promise<void>;
  readonly durationMs: number;
  /**
   * "Fails fast": well under the client's deadline (ATTEMPT_TIMEOUT_MS), which
   * a hanging call would run into instead.
   */
  readonly failFastMsMax: number;
}

const OUTAGES: readonly Outage[] = [
  {
    name: "killed and restarted",
    begin: () => cluster.killImmediately(),
    end: () => cluster.restart(),
    durationMs: 3000,
    // The store's bound: a 2 s connect timeout (8 writers never queue for the pool's 10 connections).
    failFastMsMax: 8000,
  },
  {
    name: "frozen and thawed",
    begin: () => cluster.freeze(),
    end: () => cluster.thaw(),
    // Longer than the 7 s the store waits for an answer to a query in flight
    // (5 s statement timeout + 2 s grace), so those calls end during the
    // outage, and longer than failFastMsMax, so a call left waiting for the
    // thaw shows as slow.
    durationMs: 12_000,
    failFastMsMax: 10_000,
  },
];
/** How long the service may take to serve again once PostgreSQL is back. */
const RECOVERY_MS_MAX = 30_000;

let cluster: FaultCluster;
let service: ServiceProcess;
let client: LedgerClient;

beforeAll(async () => {
  cluster = await startFaultCluster();
  service = await startService({ databaseUrl: cluster.url, port: await freePort() });
  client = ledgerClient(service.port);
}, 120_000);

afterAll(async () => {
  await service?.stop();
  await cluster?.destroy();
}, 60_000);

/** Polls with a cheap read until the service answers OK again. */
async function waitUntilServing(ledgerId: string): Promise<number> {
  const startMs = Date.now();
  while (Date.now() - startMs < RECOVERY_MS_MAX) {
    try {
      await client.getBalance({ ledgerId });
      return Date.now() - startMs;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`the service did not serve again within ${RECOVERY_MS_MAX} ms`);
}

describe.each(OUTAGES)("PostgreSQL $name under write load", (outage) => {
  it("fails fast while away, recovers by itself, and keeps every acknowledged write exactly once", async () => {
    const ledgerIds = await openLedgers(client, `pg-${outage.name.split(" ")[0]}`, LEDGERS);
    const stop = new AbortController();
    const load = runWriteLoad(
      client,
      { writers: WRITERS, ledgerIds, retryUntilAcknowledged: false, retryForMsMax: 0 },
      stop.signal,
    );

    await sleep(LOAD_BEFORE_OUTAGE_MS);
    const awayAtMs = Date.now();
    await outage.begin();
    await sleep(outage.durationMs);
    const backAtMs = Date.now();
    await outage.end();
    const recoveryMs = await waitUntilServing(ledgerIds[0] ?? "");
    // Load goes on after recovery, so writes acknowledged afterwards are checked too.
    await sleep(1000);
    stop.abort();
    const result = await load;

    const duringOutage = result.failures.filter(
      (f) => f.startMs >= awayAtMs && f.startMs + f.latencyMs <= backAtMs,
    );
    const slowest = Math.max(0, ...result.failures.map((f) => f.latencyMs));
    console.log(
      `pg ${outage.name}: ${result.acks.size} acknowledged, ${result.failures.length} failed` +
        ` (${duringOutage.length} while away, slowest ${slowest} ms), serving again ${recoveryMs} ms after its return`,
    );
    expect(duringOutage.length, "calls made while PostgreSQL was away").toBeGreaterThan(0);
    const notUnavailable = result.failures.filter(
      (f) => f.code !== "Unavailable" || f.reason !== "STORE_UNAVAILABLE",
    );
    expect(
      notUnavailable.map((f) => `${f.code} ${f.reason} after ${f.latencyMs} ms: ${f.message}`),
      `every failure is UNAVAILABLE / STORE_UNAVAILABLE well within the ${ATTEMPT_TIMEOUT_MS} ms deadline`,
    ).toEqual([]);
    const slow = [
      ...result.failures.map((f) => ({ latencyMs: f.latencyMs, outcome: f.message })),
      ...[...result.acks.values()].map((a) => ({ latencyMs: a.latencyMs, outcome: "OK" })),
    ].filter((call) => call.latencyMs > outage.failFastMsMax);
    expect(
      slow.map((call) => `${call.latencyMs} ms: ${call.outcome}`),
      `calls slower than ${outage.failFastMsMax} ms (a call left hanging)`,
    ).toEqual([]);
    const afterReturn = [...result.acks.values()].filter((a) => a.atMs > backAtMs);
    expect(afterReturn.length, "writes acknowledged after PostgreSQL returned").toBeGreaterThan(0);
    expect(await Promise.race([service.exited, sleep(0, "running")])).toBe("running");

    // Nothing unacknowledged is half-applied: each left all of itself behind, or
    // nothing (a hold's post or void: the hold still PENDING).
    const observed = await observeUnacknowledged(cluster.url, result.unacknowledged);
    // The client's side of exactly-once: each unacknowledged write retried with its key,
    // answered as the database stood: a replay of what was stored, or a first application.
    const settled = await settleAll(client, result.unacknowledged, 30_000);
    expectRetriesToAnswerAsStored(observed, settled);
    const acks: Ack[] = [...result.acks.values(), ...settled];
    console.log(
      `pg ${outage.name}: ${[...observed.values()].filter((id) => id !== undefined).length} of` +
        ` ${observed.size} unacknowledged writes had been applied; ${holdSummary(acks)}`,
    );
    await expectExactlyTheAcknowledgedWrites(cluster.url, ledgerIds, acks, client);
  }, 180_000);
});
