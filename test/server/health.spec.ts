/**
 * grpc.health.v1 tells the truth about the database: a server on a
 * PostgreSQL of its own reports SERVING, then NOT_SERVING (Check and Watch,
 * overall and per service) once that PostgreSQL is really stopped, then
 * SERVING again once it is restarted, when ledger calls work again. Unknown
 * services are NOT_FOUND (Check) or SERVICE_UNKNOWN (Watch); shutting down
 * turns the server NOT_SERVING and ends every Watch at once.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Health,
  HealthCheckResponse_ServingStatus as Status,
} from "../../gen/grpc/health/v1/health_pb.js";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { createLedgerServer, type LedgerServer, loadConfig } from "../../src/server/index.js";
import {
  type EmbeddedDatabase,
  type LedgerStore,
  migrate,
  openStore,
  startEmbeddedPostgres,
} from "../../src/store/index.js";

const POLL_INTERVAL_MS = 100;
const STATUS_WAIT_MS = 20_000;

let dir: string;
let database: EmbeddedDatabase;
let port: number;
let store: LedgerStore;
let server: LedgerServer;
let url: string;

async function startDatabase(): Promise<EmbeddedDatabase> {
  return startEmbeddedPostgres({
    dataDir: join(dir, "data"),
    port,
    settings: { fsync: "off", synchronous_commit: "off" },
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ledger-health-pg-"));
  // mkdtemp makes it private; the postgres user must be able to pass through it.
  await chmod(dir, 0o755);
  database = await startEmbeddedPostgres({ dataDir: join(dir, "data") });
  port = Number(new URL(database.url).port);
  await migrate(database.url);
  store = await openStore({ databaseUrl: database.url });
  server = createLedgerServer({
    store,
    config: {
      ...loadConfig({ PORT: "0", HOST: "127.0.0.1", METRICS_PORT: "0" }),
      // Long enough that a Watch holding the drain open would time the test out.
      shutdownGraceMs: 60_000,
    },
    logger: pino({ level: "silent" }),
    healthPollIntervalMs: POLL_INTERVAL_MS,
  });
  ({ url } = await server.listen());
}, 120_000);

afterAll(async () => {
  await server?.close();
  await store?.close();
  await database?.stop();
  await rm(dir, { recursive: true, force: true });
}, 120_000);

const health = () => createClient(Health, createGrpcTransport({ baseUrl: url }));

async function check(service = ""): Promise<Status> {
  return (await health().check({ service })).status;
}

/** A Watch whose statuses are collected as they arrive. */
function watch(service = "") {
  const abort = new AbortController();
  const seen: Status[] = [];
  let failure: unknown;
  const ended = (async () => {
    try {
      for await (const response of health().watch({ service }, { signal: abort.signal })) {
        seen.push(response.status);
      }
    } catch (error) {
      if (!abort.signal.aborted) {
        failure = error;
      }
    }
  })();
  return {
    seen,
    ended,
    failure: () => failure,
    async until(status: Status, count = 1): Promise<void> {
      const deadline = Date.now() + STATUS_WAIT_MS;
      while (seen.filter((s) => s === status).length < count) {
        if (Date.now() > deadline || failure !== undefined) {
          throw new Error(
            `waited for ${Status[status]} #${count}; saw ${seen.map((s) => Status[s]).join(", ")}; ${String(failure ?? "")}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    cancel: () => abort.abort(),
  };
}

describe("grpc.health.v1", () => {
  it("is SERVING overall and for every served service while the database answers", async () => {
    expect(await check()).toBe(Status.SERVING);
    for (const service of [
      "ledger.v1.LedgerService",
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
    ]) {
      expect(await check(service), service).toBe(Status.SERVING);
    }
    const list = await health().list({});
    expect(list.statuses[""]?.status).toBe(Status.SERVING);
    expect(list.statuses["ledger.v1.LedgerService"]?.status).toBe(Status.SERVING);
  });

  it("answers Check for an unknown service with NOT_FOUND", async () => {
    const failure = await check("no.such.Service").then(
      () => undefined,
      (error: unknown) => ConnectError.from(error),
    );
    expect(failure?.code).toBe(Code.NotFound);
    expect(failure?.rawMessage).toContain("no.such.Service");
  });

  it("streams SERVICE_UNKNOWN for an unknown service on Watch and keeps the stream open", async () => {
    const unknown = watch("no.such.Service");
    await unknown.until(Status.SERVICE_UNKNOWN);
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS * 3));
    expect(unknown.seen).toEqual([Status.SERVICE_UNKNOWN]);
    unknown.cancel();
    await unknown.ended;
    expect(unknown.failure()).toBeUndefined();
  });

  it("turns NOT_SERVING when PostgreSQL stops and SERVING when it is back, on Watch and Check", async () => {
    const overall = watch();
    const ledger = watch("ledger.v1.LedgerService");
    await overall.until(Status.SERVING);
    await ledger.until(Status.SERVING);

    await database.stop();
    await overall.until(Status.NOT_SERVING);
    await ledger.until(Status.NOT_SERVING);
    expect(await check()).toBe(Status.NOT_SERVING);
    expect(await check("ledger.v1.LedgerService")).toBe(Status.NOT_SERVING);
    const ledgers = createClient(LedgerService, createGrpcTransport({ baseUrl: url }));
    const refused = await ledgers.listLedgers({ app: "content" }).then(
      () => undefined,
      (error: unknown) => ConnectError.from(error),
    );
    expect(refused?.code).toBe(Code.Unavailable);

    database = await startDatabase();
    await overall.until(Status.SERVING, 2);
    await ledger.until(Status.SERVING, 2);
    expect(await check()).toBe(Status.SERVING);
    expect(overall.seen).toEqual([Status.SERVING, Status.NOT_SERVING, Status.SERVING]);
    await expect(ledgers.listLedgers({ app: "content" })).resolves.toBeDefined();

    overall.cancel();
    ledger.cancel();
    await Promise.all([overall.ended, ledger.ended]);
    expect(overall.failure()).toBeUndefined();
  }, 90_000);

  it("reports NOT_SERVING and ends every Watch when the server shuts down", async () => {
    const overall = watch();
    await overall.until(Status.SERVING);
    // The grace period is a minute: close() returns well within the test's
    // timeout only if the Watch streams end on their own when shutdown begins.
    await server.close();
    await overall.ended;
    expect(overall.failure()).toBeUndefined();
    expect(overall.seen.at(-1)).toBe(Status.NOT_SERVING);
  }, 30_000);
});
