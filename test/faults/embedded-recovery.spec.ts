/**
 * `npm start` on its embedded PostgreSQL recovers from a SIGKILL of either
 * process with no human: a killed PostgreSQL is restarted by the service,
 * which comes back to SERVING by itself; a killed service leaves an orphaned
 * PostgreSQL that the next start stops before starting its own. Under write
 * load, with clients retrying each write with its idempotency key, every
 * acknowledged write is stored exactly once and `npm run verify` finds no breach.
 */
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../../gen/grpc/health/v1/health_pb.js";
import { freePort } from "../support/ports.js";
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
const LOAD_AROUND_KILL_MS = 1500;
const RETRY_FOR_MS_MAX = 60_000;
const RECOVERY_WAIT_MS_MAX = 30_000;

let dir: string;
let dataDir: string;
let port: number;
let service: ServiceProcess | undefined;
let client: LedgerClient;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ledger-embedded-recovery-"));
  await chmod(dir, 0o755);
  dataDir = join(dir, "db");
  port = await freePort();
  service = await startService({ dataDir, port });
  client = ledgerClient(port);
}, 120_000);

afterAll(async () => {
  await service?.stop();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

/** Runs the write load around `fault`, then checks exactly-once on the scenario's ledgers. */
async function underWriteLoad(label: string, fault: () => Promise<void>): Promise<void> {
  const ledgerIds = await openLedgers(client, label, LEDGERS);
  const stop = new AbortController();
  const load = runWriteLoad(
    client,
    { writers: WRITERS, ledgerIds, retryUntilAcknowledged: true, retryForMsMax: RETRY_FOR_MS_MAX },
    stop.signal,
  );
  await sleep(LOAD_AROUND_KILL_MS);
  await fault();
  await sleep(LOAD_AROUND_KILL_MS);
  stop.abort();
  const result = await load;
  const acks = [...result.acks.values()];
  console.log(
    `${label}: ${acks.length} logical writes acknowledged (${acks.filter((a) => a.replayed).length} as replays), ${result.failures.length} failed attempts retried; ${holdSummary(acks)}`,
  );
  expect(result.failures.length, "attempts that met the fault").toBeGreaterThan(0);
  expect(result.unacknowledged).toEqual([]);
  await expectExactlyTheAcknowledgedWrites(await databaseUrl(), ledgerIds, acks, client);
}

/** postmaster.pid: line 1 the PID, line 4 the port. */
async function postmaster(): Promise<{ pid: number; port: number }> {
  const lines = (await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n");
  return { pid: Number(lines[0]), port: Number(lines[3]) };
}

async function databaseUrl(): Promise<string> {
  const password = (await readFile(join(dataDir, "ledger-superuser.password"), "utf8")).trim();
  return `postgres://postgres:${password}@127.0.0.1:${(await postmaster()).port}/postgres`;
}

async function untilServing(): Promise<void> {
  const health = createClient(
    Health,
    createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}`, defaultTimeoutMs: 2000 }),
  );
  const deadline = Date.now() + RECOVERY_WAIT_MS_MAX;
  while (Date.now() < deadline) {
    const status = await health.check({}).then(
      (response) => response.status,
      () => undefined,
    );
    if (status === ServingStatus.SERVING) {
      return;
    }
    await sleep(100);
  }
  throw new Error(`not SERVING again within ${RECOVERY_WAIT_MS_MAX} ms`);
}

describe("SIGKILL of the embedded PostgreSQL or of the service, under write load", () => {
  it("restarts a killed PostgreSQL and serves again by itself", async () => {
    await underWriteLoad("pg-killed", async () => {
      const killed = await postmaster();
      process.kill(killed.pid, "SIGKILL");
      await untilServing();
      expect((await postmaster()).pid, "a new postmaster").not.toBe(killed.pid);
    });
    const events = service?.events() ?? [];
    expect(
      events.filter((line) => line.includes('"level":50')).map((l) => JSON.parse(l).msg),
      "the death is an error in the log",
    ).toContain("embedded PostgreSQL died: restarting it");
    expect(events.some((line) => line.includes('"msg":"embedded PostgreSQL restarted"'))).toBe(
      true,
    );
  });

  it("starts again on the data directory of a killed service, stopping its orphaned PostgreSQL", async () => {
    await underWriteLoad("service-killed", async () => {
      const orphan = await postmaster();
      await service?.kill();
      expect(await service?.exited).toBe("SIGKILL");
      service = await startService({ dataDir, port });
      expect((await postmaster()).pid, "the orphan was replaced").not.toBe(orphan.pid);
      expect(() => process.kill(orphan.pid, 0), "the orphan is gone").toThrow();
    });
  });

  it("exits 1, saying why, once its PostgreSQL cannot be restarted, so an outer supervisor takes over", async () => {
    const lostDir = join(dir, "lost");
    const lost = await startService({ dataDir: lostDir, port: await freePort() });
    const [pidLine = "", , , portLine = ""] = (
      await readFile(join(lostDir, "postmaster.pid"), "utf8")
    ).split("\n");
    // Another program takes PostgreSQL's port as it dies: every restart fails.
    const squatter = createServer();
    process.kill(Number(pidLine), "SIGKILL");
    await untilListening(squatter, Number(portLine));
    try {
      expect(await lost.exited).toBe(1);
      expect(lost.stderr()).toMatch(
        /the embedded database is lost: embedded PostgreSQL could not be kept running: 6 restarts in a row failed/,
      );
    } finally {
      squatter.close();
    }
  }, 60_000);
});

async function untilListening(server: Server, port: number): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const bound = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (bound) {
      return;
    }
    await sleep(10);
  }
  throw new Error(`port ${port} stayed taken`);
}
