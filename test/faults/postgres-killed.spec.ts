/**
 * PostgreSQL killed by an immediate stop under write load, then restarted:
 * while it is down every call fails fast with UNAVAILABLE / STORE_UNAVAILABLE
 * (none hangs until its deadline), the same service process recovers by
 * itself once the database is back, every write acknowledged OK is stored,
 * no transaction is half-applied (retrying the unacknowledged writes with
 * their keys applies each exactly once), and `npm run verify` finds no breach.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.js";
import { type FaultCluster, startFaultCluster } from "./support/cluster.js";
import { expectExactlyTheAcknowledgedWrites } from "./support/exactly-once.js";
import { type ServiceProcess, startService } from "./support/service-process.js";
import {
  type Ack,
  ATTEMPT_TIMEOUT_MS,
  type LedgerClient,
  ledgerClient,
  openLedgers,
  runWriteLoad,
  settleAll,
} from "./support/write-load.js";

const WRITERS = 8;
const LEDGERS = 4;
const LOAD_BEFORE_KILL_MS = 1500;
const OUTAGE_MS = 3000;
/**
 * "Fails fast": well under the client's deadline. The store's own bounds are a
 * 2 s connect timeout and a 5 s wait for a free connection; a hanging call
 * would instead run into ATTEMPT_TIMEOUT_MS.
 */
const FAIL_FAST_MS_MAX = 8000;
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

describe("PostgreSQL killed under write load", () => {
  it("fails fast while down, recovers by itself, and keeps every acknowledged write exactly once", async () => {
    const ledgerIds = await openLedgers(client, "pg-kill", LEDGERS);
    const stop = new AbortController();
    const load = runWriteLoad(
      client,
      { writers: WRITERS, ledgerIds, retryUntilAcknowledged: false, retryForMsMax: 0 },
      stop.signal,
    );

    await sleep(LOAD_BEFORE_KILL_MS);
    const killedAtMs = Date.now();
    await cluster.killImmediately();
    await sleep(OUTAGE_MS);
    const restartAtMs = Date.now();
    await cluster.restart();
    const recoveryMs = await waitUntilServing(ledgerIds[0] ?? "");
    // Load goes on after recovery, so writes acknowledged afterwards are checked too.
    await sleep(1000);
    stop.abort();
    const result = await load;

    const duringOutage = result.failures.filter(
      (f) => f.startMs >= killedAtMs && f.startMs + f.latencyMs <= restartAtMs,
    );
    const slowest = Math.max(0, ...result.failures.map((f) => f.latencyMs));
    console.log(
      `pg-kill: ${result.acks.size} acknowledged, ${result.failures.length} failed` +
        ` (${duringOutage.length} while down, slowest ${slowest} ms), serving again ${recoveryMs} ms after restart`,
    );
    expect(duringOutage.length, "calls made while PostgreSQL was down").toBeGreaterThan(0);
    const notUnavailable = result.failures.filter(
      (f) => f.code !== "Unavailable" || f.reason !== "STORE_UNAVAILABLE",
    );
    expect(
      notUnavailable.map((f) => `${f.code} ${f.reason} after ${f.latencyMs} ms: ${f.message}`),
      `every failure is UNAVAILABLE / STORE_UNAVAILABLE well within the ${ATTEMPT_TIMEOUT_MS} ms deadline`,
    ).toEqual([]);
    const slow = result.failures.filter((f) => f.latencyMs > FAIL_FAST_MS_MAX);
    expect(
      slow.map((f) => `${f.latencyMs} ms: ${f.message}`),
      `failures slower than ${FAIL_FAST_MS_MAX} ms`,
    ).toEqual([]);
    const afterRestart = [...result.acks.values()].filter((a) => a.atMs > restartAtMs);
    expect(afterRestart.length, "writes acknowledged after the restart").toBeGreaterThan(0);
    expect(await Promise.race([service.exited, sleep(0, "running")])).toBe("running");

    // The client's side of exactly-once: each unacknowledged write retried with its key.
    const settled = await settleAll(client, result.unacknowledged, 30_000);
    const acks: Ack[] = [...result.acks.values(), ...settled];
    await expectExactlyTheAcknowledgedWrites(cluster.url, acks);
  }, 180_000);
});
