/**
 * The service process SIGKILLed under write load, twice, and started again
 * on the same port: clients that retry each write with its idempotency key
 * until it is acknowledged end with every logical write applied exactly once
 * (a write that committed just before the kill comes back as a replay, never
 * as a second entry), and `npm run verify` finds no breach.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.js";
import { type FaultCluster, startFaultCluster } from "./support/cluster.js";
import { expectExactlyTheAcknowledgedWrites } from "./support/exactly-once.js";
import { type ServiceProcess, startService } from "./support/service-process.js";
import {
  holdSummary,
  type LedgerClient,
  ledgerClient,
  openLedgers,
  runWriteLoad,
} from "./support/write-load.js";

const WRITERS = 8;
const LEDGERS = 4;
const KILLS = 2;
const LOAD_BETWEEN_KILLS_MS = 1500;
/** A writer keeps retrying one write for at most this long (a restart takes a few seconds). */
const RETRY_FOR_MS_MAX = 60_000;

let cluster: FaultCluster;
let port: number;
let service: ServiceProcess | undefined;
let client: LedgerClient;

beforeAll(async () => {
  cluster = await startFaultCluster();
  port = await freePort();
  service = await startService({ databaseUrl: cluster.url, port });
  client = ledgerClient(port);
}, 120_000);

afterAll(async () => {
  await service?.stop();
  await cluster?.destroy();
}, 60_000);

describe("the service SIGKILLed under write load", () => {
  it("applies each logical write exactly once when clients retry with the same keys", async () => {
    const ledgerIds = await openLedgers(client, "sigkill", LEDGERS);
    const stop = new AbortController();
    const load = runWriteLoad(
      client,
      {
        writers: WRITERS,
        ledgerIds,
        retryUntilAcknowledged: true,
        retryForMsMax: RETRY_FOR_MS_MAX,
      },
      stop.signal,
    );
    const exits: (number | string)[] = [];
    for (let kill = 0; kill < KILLS; kill += 1) {
      await sleep(LOAD_BETWEEN_KILLS_MS);
      const killed = service;
      service = undefined;
      await killed?.kill();
      exits.push((await killed?.exited) ?? "none");
      service = await startService({ databaseUrl: cluster.url, port });
    }
    await sleep(LOAD_BETWEEN_KILLS_MS);
    stop.abort();
    const result = await load;

    const acks = [...result.acks.values()];
    const replays = acks.filter((a) => a.replayed).length;
    const codes = [...new Set(result.failures.map((f) => `${f.code}/${f.reason ?? "-"}`))];
    console.log(
      `sigkill: ${acks.length} logical writes acknowledged (${replays} as replays),` +
        ` ${result.failures.length} failed attempts retried (codes ${codes.join(", ")}); ${holdSummary(acks)}`,
    );
    expect(exits).toEqual(Array.from({ length: KILLS }, () => "SIGKILL"));
    expect(result.failures.length, "attempts that met a dead service").toBeGreaterThan(0);
    expect(result.unacknowledged).toEqual([]);
    // Broken connections fail on the client's side (no ErrorInfo); the server itself may
    // only have said "unavailable", never refused a retried key as reused.
    const refused = result.failures.filter(
      (f) => f.reason !== undefined && f.reason !== "STORE_UNAVAILABLE",
    );
    expect(refused.map((f) => `${f.code} ${f.reason}: ${f.message}`)).toEqual([]);
    await expectExactlyTheAcknowledgedWrites(cluster.url, ledgerIds, acks, client);
  }, 180_000);
});
