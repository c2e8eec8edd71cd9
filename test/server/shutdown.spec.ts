/**
 * close() is graceful: the port stops accepting at once, calls in flight on
 * HTTP/2 and HTTP/1.1 finish and are answered (their writes committed),
 * idle connections do not hold shutdown up, and calls outlasting
 * SHUTDOWN_GRACE_MS are aborted, their statements cancelled in the database
 * and their writes rolled back, so close() always returns. The calls in
 * flight are real writes waiting for a ledger row lock held by another
 * database session.
 */
import * as net from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLedgerServer, loadConfig } from "../../src/server/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import {
  type DatabaseConditions,
  eventually,
  openDatabaseConditions,
} from "./database-conditions.js";
import {
  connectClient,
  grpcClient,
  grpcJsCall,
  grpcJsClient,
  type PlumbingServer,
  type PlumbingServerOptions,
  startPlumbingServer,
} from "./harness.js";
import { captureLog } from "./log-capture.js";

/** Far beyond every wait below: a lock wait that ends sooner was ended by the server. */
const STORE_LOCK_TIMEOUT_MS = 30_000;

let database: TestDatabase;
let conditions: DatabaseConditions;
const servers: PlumbingServer[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  conditions = await openDatabaseConditions(database.url);
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await conditions?.close();
  await database?.drop();
});

async function start(
  config: PlumbingServerOptions["config"],
  store: PlumbingServerOptions["store"] = {},
): Promise<PlumbingServer> {
  const s = await startPlumbingServer({
    config,
    database,
    store: {
      lockTimeoutMs: STORE_LOCK_TIMEOUT_MS,
      statementTimeoutMs: 2 * STORE_LOCK_TIMEOUT_MS,
      ...store,
    },
  });
  servers.push(s);
  return s;
}

let ledgers = 0;
async function openLedger(url: string): Promise<string> {
  ledgers += 1;
  const { ledger } = await connectClient(url, "1.1").createLedger({
    app: "content",
    ownerId: `u-${ledgers}`,
    unit: "CREDITS",
    idempotencyKey: `k-${ledgers}`,
  });
  return ledger?.id ?? "";
}

function credit(ledgerId: string, key: string) {
  return { ledgerId, operation: "CREDIT_ADD", amount: 1n, idempotencyKey: key };
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

describe("graceful shutdown", () => {
  it("lets in-flight calls on HTTP/2 and HTTP/1.1 finish, and stops accepting", async () => {
    // One ledger per call and a write batch for each, so each call is seen
    // waiting for its own row lock in the database before the close.
    const s = await start({ shutdownGraceMs: 10_000 }, { writeBatchesMax: 3 });
    const ledgerIds = [await openLedger(s.url), await openLedger(s.url), await openLedger(s.url)];
    const locks = await Promise.all(ledgerIds.map((id) => conditions.holdLedgerLock(id)));
    const grpcJs = grpcJsClient(`127.0.0.1:${s.port}`);
    const [viaGrpcJs = "", viaGrpc = "", viaConnect = ""] = ledgerIds;
    const senders = [
      () =>
        grpcJsCall<{ entry: { ledgerId: string } }>(
          grpcJs,
          "recordEntry",
          credit(viaGrpcJs, "k-grpc-js"),
        ).then((r) => r.entry.ledgerId),
      () =>
        grpcClient(s.url)
          .recordEntry(credit(viaGrpc, "k-grpc"))
          .then((r) => r.entry?.ledgerId),
      () =>
        connectClient(s.url, "1.1")
          .recordEntry(credit(viaConnect, "k-connect"))
          .then((r) => r.entry?.ledgerId),
    ];
    try {
      const calls: Promise<string | undefined>[] = [];
      for (const send of senders) {
        calls.push(send());
        const waiting = calls.length;
        await eventually(
          async () => (await conditions.lockWaiters()) === waiting,
          `call ${waiting} waits for its lock`,
        );
      }
      const closing = s.server.close();
      expect(await refusesConnections(s.port)).toBe(true);
      await Promise.all(locks.map((lock) => lock.release()));
      expect(await Promise.all(calls)).toEqual(ledgerIds);
      await closing;
    } finally {
      grpcJs.close();
      await Promise.all(locks.map((lock) => lock.release()));
    }
    for (const ledgerId of ledgerIds) {
      expect(await s.store.getLedger(ledgerId)).toMatchObject({ balanceMinor: 1n, version: 1n });
    }
  });

  it("is not held up by idle keep-alive connections and sessions", async () => {
    const s = await start({ shutdownGraceMs: 10_000 });
    await openLedger(s.url); // leaves an idle HTTP/1.1 keep-alive connection
    await grpcClient(s.url).listLedgers({ app: "content" }); // and an idle HTTP/2 session
    const grpcJs = grpcJsClient(`127.0.0.1:${s.port}`);
    await grpcJsCall(grpcJs, "listLedgers", { app: "content" });
    const started = Date.now();
    await s.server.close();
    grpcJs.close();
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("aborts calls still running after the grace period, cancelling their statements, then returns", async () => {
    const s = await start({ shutdownGraceMs: 200 });
    const ledgerId = await openLedger(s.url);
    const lock = await conditions.holdLedgerLock(ledgerId);
    try {
      const call = grpcClient(s.url)
        .recordEntry(credit(ledgerId, "k-cut"))
        .then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
      await eventually(async () => (await conditions.lockWaiters()) === 1, "the call waits");
      const closeStarted = Date.now();
      await s.server.close();
      expect(Date.now() - closeStarted).toBeLessThan(3000);
      const error = await call;
      expect(error?.code).toBe(Code.Unavailable);
      expect(error?.rawMessage).toBe("the server is shutting down");
      // The lock is still held: only a cancelled statement stops waiting for it.
      await eventually(
        async () => (await conditions.lockWaiters()) === 0,
        "the store's statement is cancelled",
        2000,
      );
    } finally {
      await lock.release();
    }
    expect(await s.store.getLedger(ledgerId)).toMatchObject({ balanceMinor: 0n, version: 0n });
  });

  it("can be closed before it ever listened, and twice", async () => {
    const s = await start({});
    const neverListened = createLedgerServer({
      store: s.store,
      config: loadConfig({ PORT: "0", HOST: "127.0.0.1", METRICS_PORT: "0" }),
      logger: captureLog().logger,
    });
    await Promise.all([neverListened.close(), neverListened.close()]);
    await Promise.all([s.server.close(), s.server.close()]);
    await s.server.close();
  });
});
