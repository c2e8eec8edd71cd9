/**
 * Overload is not an outage. With every database connection busy (a pool of
 * one, its connection held by a write waiting for a row lock that another
 * database session holds), a call waits for a connection for at most its own
 * deadline or DB_QUEUE_WAIT_MS_MAX, whichever ends first: past the maximum it
 * is RESOURCE_EXHAUSTED with ErrorInfo OVERLOADED (and a RetryInfo), past its
 * deadline its own DEADLINE_EXCEEDED, and a call with a long deadline waits
 * past the old fixed 5 s and succeeds once the connection frees. A full queue
 * (DB_QUEUED_CALLS_MAX) refuses at once with OVERLOADED. Never
 * STORE_UNAVAILABLE. The client is @grpc/grpc-js over a real server.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack, durationMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../../gen/grpc/health/v1/health_pb.js";
import type { StoreConfig } from "../../src/store/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import {
  type DatabaseConditions,
  eventually,
  type HeldLock,
  openDatabaseConditions,
} from "./database-conditions.js";
import { grpcJsCall, grpcJsClient, type PlumbingServer, startPlumbingServer } from "./harness.js";

/** Far beyond every wait below: the held lock, not a timeout, decides when writes proceed. */
const LOCK_TIMEOUT_MS = 60_000;
/** The fixed connection wait of old: a long-deadline call must outlast it. */
const OLD_FIXED_WAIT_MS = 5000;
const LONG_DEADLINE_MS = 30_000;

let database: TestDatabase;
let conditions: DatabaseConditions;
let server: PlumbingServer | undefined;
let client: grpc.Client | undefined;
let lock: HeldLock | undefined;

beforeAll(async () => {
  database = await createTestDatabase();
  conditions = await openDatabaseConditions(database.url);
});
afterEach(async () => {
  await lock?.release();
  client?.close();
  await server?.close();
  lock = undefined;
  client = undefined;
  server = undefined;
});
afterAll(async () => {
  await conditions?.close();
  await database?.drop();
});

type Store = Omit<StoreConfig, "databaseUrl">;

/** A server whose one database connection is held by a write waiting for a locked row. */
async function saturated(store: Store): Promise<{ ledgerId: string; holder: Promise<unknown> }> {
  server = await startPlumbingServer({
    database,
    store: {
      poolSizeMax: 1,
      lockTimeoutMs: LOCK_TIMEOUT_MS,
      statementTimeoutMs: 2 * LOCK_TIMEOUT_MS,
      ...store,
    },
  });
  client = grpcJsClient(`127.0.0.1:${server.port}`);
  const ledgerId = await createLedger();
  lock = await conditions.holdLedgerLock(ledgerId);
  const holder = credit(ledgerId, "holder", LONG_DEADLINE_MS);
  await eventually(async () => (await conditions.lockWaiters()) === 1, "the holder waits");
  return { ledgerId, holder };
}

let ledgers = 0;
async function createLedger(): Promise<string> {
  ledgers += 1;
  const created = await call<{ ledger: { id: string } }>("createLedger", {
    app: "content",
    ownerId: `overload-${ledgers}`,
    unit: "CREDITS",
    idempotencyKey: `create-${ledgers}`,
  });
  return created.ledger.id;
}

function credit(ledgerId: string, key: string, deadlineMs: number): Promise<unknown> {
  return call(
    "recordEntry",
    { ledgerId, operation: "CREDIT_ADD", amount: "1", idempotencyKey: `${ledgerId}-${key}` },
    deadlineMs,
  );
}

function call<T>(method: string, request: Record<string, unknown>, deadlineMs = 10_000) {
  if (client === undefined) {
    throw new Error("no client");
  }
  const options = { deadline: Date.now() + deadlineMs };
  return grpcJsCall<T>(client, method, request, new grpc.Metadata(), options);
}

interface Refusal {
  readonly code: grpc.status;
  readonly reason: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  readonly retryDelayMs: number | undefined;
  readonly elapsedMs: number;
}

/** How a call failed, with its google.rpc.Status details decoded. */
async function refusal(started: number, promise: Promise<unknown>): Promise<Refusal> {
  const error = (await promise.then(
    () => expect.fail("the call succeeded"),
    (e: unknown) => e,
  )) as grpc.ServiceError;
  const elapsedMs = Date.now() - started;
  const [bin] = error.metadata.get("grpc-status-details-bin");
  const details = bin instanceof Buffer ? fromBinary(StatusSchema, bin).details : [];
  const info = details.map((d) => anyUnpack(d, ErrorInfoSchema)).find((d) => d !== undefined);
  const retry = details.map((d) => anyUnpack(d, RetryInfoSchema)).find((d) => d !== undefined);
  return {
    code: error.code,
    reason: info?.reason,
    metadata: { ...info?.metadata },
    retryDelayMs: retry?.retryDelay === undefined ? undefined : durationMs(retry.retryDelay),
    elapsedMs,
  };
}

describe("overload", () => {
  it("answers RESOURCE_EXHAUSTED / OVERLOADED with a RetryInfo after DB_QUEUE_WAIT_MS_MAX, though the caller's deadline is far", async () => {
    const { ledgerId, holder } = await saturated({ queueWaitMsMax: 300 });
    const started = Date.now();
    const refused = await refusal(started, credit(ledgerId, "waiter", LONG_DEADLINE_MS));
    expect(refused).toMatchObject({
      code: grpc.status.RESOURCE_EXHAUSTED,
      reason: "OVERLOADED",
      metadata: { cause: "queue_wait" },
    });
    expect(refused.retryDelayMs).toBeGreaterThan(0);
    expect(refused.elapsedMs).toBeGreaterThanOrEqual(250);
    expect(refused.elapsedMs).toBeLessThan(OLD_FIXED_WAIT_MS);
    await lock?.release();
    await expect(holder).resolves.toBeDefined();
  });

  it("lets a call with a long deadline wait past 5 s for a connection, and succeed when it frees", async () => {
    const { ledgerId, holder } = await saturated({});
    const started = Date.now();
    const waiter = credit(ledgerId, "patient", LONG_DEADLINE_MS);
    await sleep(OLD_FIXED_WAIT_MS + 1000);
    await lock?.release();
    await expect(holder).resolves.toBeDefined();
    await expect(waiter).resolves.toMatchObject({ entry: { balanceAfter: "2" } });
    expect(Date.now() - started).toBeGreaterThan(OLD_FIXED_WAIT_MS);
  });

  it("ends the wait at the caller's own deadline with DEADLINE_EXCEEDED, not OVERLOADED", async () => {
    const { ledgerId, holder } = await saturated({});
    const started = Date.now();
    const refused = await refusal(started, credit(ledgerId, "hurried", 1000));
    expect(refused.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(refused.reason).toBeUndefined();
    expect(refused.elapsedMs).toBeLessThan(OLD_FIXED_WAIT_MS);
    await lock?.release();
    await expect(holder).resolves.toBeDefined();
  });

  it("refuses at once with OVERLOADED when DB_QUEUED_CALLS_MAX calls already wait, and serves the queued ones", async () => {
    const { ledgerId, holder } = await saturated({ queuedCallsMax: 1 });
    const queued = credit(ledgerId, "queued", LONG_DEADLINE_MS);
    await sleep(200); // the queued call reaches the server's queue
    const started = Date.now();
    const refused = await refusal(started, credit(ledgerId, "one-too-many", LONG_DEADLINE_MS));
    expect(refused).toMatchObject({
      code: grpc.status.RESOURCE_EXHAUSTED,
      reason: "OVERLOADED",
      metadata: { cause: "queue_full" },
    });
    expect(refused.elapsedMs).toBeLessThan(2000);
    await lock?.release();
    await expect(holder).resolves.toBeDefined();
    await expect(queued).resolves.toMatchObject({ entry: { balanceAfter: "2" } });
  });

  it("drops a health ping it gave up on from the queue, so pings never crowd out calls", async () => {
    const { ledgerId, holder } = await saturated({ queuedCallsMax: 1 });
    const health = createClient(
      Health,
      createGrpcTransport({ baseUrl: `http://127.0.0.1:${server?.port}` }),
    );
    // Each check's ping waits for the held connection, and is given up on after its timeout.
    for (let check = 0; check < 2; check += 1) {
      expect((await health.check({})).status).toBe(ServingStatus.NOT_SERVING);
    }
    const queued = credit(ledgerId, "after-pings", LONG_DEADLINE_MS);
    await sleep(200);
    await lock?.release();
    await expect(holder).resolves.toBeDefined();
    await expect(queued, "the queue's one place was free").resolves.toMatchObject({
      entry: { balanceAfter: "2" },
    });
  });
});
