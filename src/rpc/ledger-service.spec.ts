/**
 * LedgerService over an in-memory transport with the production router
 * options and the real PostgreSQL store: requests become validated domain
 * inputs before any store call, results come back from the database as proto
 * messages, the caller's deadline and cancellation reach the store's SQL,
 * and failures leave as codes with ErrorInfo, or as INTERNAL with the cause
 * logged and never sent.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { anyUnpack, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { LedgerService, LedgerStatus, TransactionKind } from "../../gen/ledger/v1/ledger_pb.js";
import {
  type DatabaseConditions,
  eventually,
  FAILING_ENTRY_DESCRIPTION,
  INJECTED_FAULT_DETAIL,
  openDatabaseConditions,
  SLOW_ENTRY_DESCRIPTION,
} from "../../test/server/database-conditions.js";
import { type CapturedLog, captureLog, rpcLines } from "../../test/server/log-capture.js";
import { createTestDatabase, type TestDatabase } from "../../test/support/database.js";
import type { LedgerStore } from "../domain/index.js";
import { openStore, type PostgresLedgerStore } from "../store/index.js";
import { type Authenticator, DECLARED_APPS, ledgerRouterOptions, ledgerRoutes } from "./index.js";

const NOW = new Date("2030-01-01T00:00:00Z");
const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";
/** Far beyond any deadline below: a call that ends sooner was bounded by its deadline. */
const STORE_LOCK_TIMEOUT_MS = 10_000;
const STORE_STATEMENT_TIMEOUT_MS = 20_000;
/** The store gives up a lock wait at 90% of this; the 150 ms margin absorbs a busy machine. */
const LOCK_WAIT_DEADLINE_MS = 1500;
const LOCK_HOLD_MS = 1000;
const STATEMENT_DEADLINE_MS = 300;

type Client = ReturnType<typeof createClient<typeof LedgerService>>;

let database: TestDatabase;
let conditions: DatabaseConditions;
let store: PostgresLedgerStore;
/** Opened, then closed: it answers every call with STORE_UNAVAILABLE, first thing. */
let closedStore: PostgresLedgerStore;

let log: CapturedLog;
let client: Client;
/** Over closedStore: any answer but UNAVAILABLE was given before the store was asked. */
let closedStoreClient: Client;
/** Each test's own app, so idempotency keys and (app, owner, unit) never collide. */
let app: string;
let apps = 0;

beforeAll(async () => {
  database = await createTestDatabase();
  conditions = await openDatabaseConditions(database.url);
  await conditions.installEntryTrigger();
  const config = {
    databaseUrl: database.url,
    lockTimeoutMs: STORE_LOCK_TIMEOUT_MS,
    statementTimeoutMs: STORE_STATEMENT_TIMEOUT_MS,
    // The ledger's clock, which writes created_at and bounds occurred_at.
    clock: () => NOW,
  };
  store = await openStore(config);
  closedStore = await openStore(config);
  await closedStore.close();
});

afterAll(async () => {
  await conditions?.close();
  await store?.close();
  await database?.drop();
});

beforeEach(() => {
  apps += 1;
  app = `svc-${apps}`;
  log = captureLog();
  client = clientOf(store, log);
  closedStoreClient = clientOf(closedStore, log);
});

/** Development mode (no tokens); every test's own app counts as declared here. */
const DEVELOPMENT: Authenticator = { enabled: false, authenticate: () => undefined };

function clientOf(ledgerStore: LedgerStore, captured: CapturedLog): Client {
  const declared = [...DECLARED_APPS, ...Array.from({ length: 200 }, (_, i) => `svc-${i + 1}`)];
  const transport = createRouterTransport(ledgerRoutes(ledgerStore), {
    router: ledgerRouterOptions(captured.logger, DEVELOPMENT, declared),
  });
  return createClient(LedgerService, transport);
}

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected the call to fail");
}

function errorInfo(error: ConnectError) {
  const [info] = error.findDetails(ErrorInfoSchema);
  return info;
}

function linesFor(requestId: string) {
  return rpcLines(log.lines()).filter((line) => line.request_id === requestId);
}

async function openLedger(ownerId = "user-1"): Promise<string> {
  const { ledger } = await client.createLedger({
    app,
    ownerId,
    unit: "CREDITS",
    idempotencyKey: `k-open-${ownerId}`,
  });
  return ledger?.id ?? "";
}

/** A write of one credit under `idempotencyKey`, its log line tagged with `requestId`. */
function creditOne(
  ledgerId: string,
  idempotencyKey: string,
  requestId: string,
  options: { description?: string; timeoutMs?: number; signal?: AbortSignal } = {},
) {
  const { description, ...callOptions } = options;
  return client.recordEntry(
    {
      ledgerId,
      operation: "CREDIT_ADD",
      amount: 1n,
      idempotencyKey,
      ...(description === undefined ? {} : { description }),
    },
    { ...callOptions, headers: { "x-request-id": requestId } },
  );
}

/** `count` valid CREDIT_ADD items on an unknown ledger, keyed k-bulk-0, k-bulk-1... */
function credits(count: number) {
  return Array.from({ length: count }, (_, i) => ({
    ledgerId: UNKNOWN_ID,
    operation: "CREDIT_ADD",
    idempotencyKey: `k-bulk-${i}`,
  }));
}

/** The ledger's balance and version as the database has them now. */
async function stored(ledgerId: string) {
  const { ledger } = await client.getLedger({ ledgerId });
  const { entries } = await client.listEntries({ ledgerId });
  return { balance: ledger?.balance, version: ledger?.version, entries: entries.length };
}

describe("mapping requests and results", () => {
  it("creates a ledger from the request fields, stores every one, and replays it by key", async () => {
    const request = {
      app,
      ownerId: "user-1",
      unit: "CREDITS",
      description: "wallet",
      reference: "ref-1",
      metadata: { plan: "pro" },
      minBalance: -500n,
      idempotencyKey: "k-1",
    };
    const { ledger, replayed } = await client.createLedger(request);
    const expected = {
      app,
      ownerId: "user-1",
      unit: "CREDITS",
      description: "wallet",
      reference: "ref-1",
      metadata: { plan: "pro" },
      status: LedgerStatus.ACTIVE,
      balance: 0n,
      minBalance: -500n,
      version: 0n,
      unbounded: false,
    };
    expect(replayed).toBe(false);
    expect(ledger).toMatchObject(expected);
    expect(ledger?.createdAt).toBeDefined();
    expect(ledger?.terminatedAt).toBeUndefined();

    const read = await client.getLedger({ ledgerId: ledger?.id ?? "" });
    expect(read.ledger).toMatchObject({ ...expected, id: ledger?.id });
    expect(read.ledger?.createdAt).toEqual(ledger?.createdAt);

    const again = await client.createLedger(request);
    expect(again.replayed).toBe(true);
    expect(again.ledger?.id).toBe(ledger?.id);
  });

  it("gives an absent min_balance the default floor of 0, and an unbounded ledger none", async () => {
    const floored = await client.createLedger({
      app,
      ownerId: "o",
      unit: "U",
      idempotencyKey: "k",
    });
    expect(floored.ledger).toMatchObject({ minBalance: 0n, unbounded: false });
    const unbounded = await client.createLedger({
      app,
      ownerId: "bank",
      unit: "U",
      unbounded: true,
      idempotencyKey: "k2",
    });
    expect(unbounded.ledger?.unbounded).toBe(true);
    expect(unbounded.ledger?.minBalance).toBeUndefined();

    const spend = (ledgerId: string, key: string) =>
      client.recordEntry({ ledgerId, operation: "CREDIT_SPEND", amount: -5n, idempotencyKey: key });
    const refused = await failure(spend(floored.ledger?.id ?? "", "k-spend-1"));
    expect(errorInfo(refused)?.reason).toBe("INSUFFICIENT_FUNDS");
    const { entry } = await spend(unbounded.ledger?.id ?? "", "k-spend-2");
    expect(entry?.balanceAfter).toBe(-5n);
  });

  it("carries int64 amounts beyond 2^53 exactly, as bigint, through the database and back", async () => {
    const ledgerId = await openLedger();
    const amount = 2n ** 62n + 1n;
    const occurredAt = new Date("2029-12-31T23:00:00Z");
    const { entry } = await client.recordEntry({
      ledgerId,
      operation: "CREDIT_ADD",
      amount,
      idempotencyKey: "k-big",
      occurredAt: timestampFromDate(occurredAt),
    });
    expect(entry?.amount).toBe(amount);
    expect(entry?.balanceAfter).toBe(amount);
    expect(entry?.sequence).toBe(1n);
    expect(entry?.occurredAt && timestampDate(entry.occurredAt)).toEqual(occurredAt);

    const { entries } = await client.listEntries({ ledgerId });
    expect(entries.map((e) => [e.amount, e.balanceAfter])).toEqual([[amount, amount]]);
    expect(entries[0]?.occurredAt && timestampDate(entries[0].occurredAt)).toEqual(occurredAt);
    expect((await client.getBalance({ ledgerId })).balance).toBe(amount);
  });

  it("refuses an occurred_at past the ledger's clock (plus skew), and writes nothing", async () => {
    const ledgerId = await openLedger();
    const error = await failure(
      client.recordEntry({
        ledgerId,
        operation: "CREDIT_ADD",
        amount: 1n,
        idempotencyKey: "k-future",
        occurredAt: timestampFromDate(new Date(NOW.getTime() + 5 * 60 * 1000 + 1)),
      }),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(errorInfo(error)?.metadata).toMatchObject({ field: "occurred_at" });
    const { entry } = await client.recordEntry({
      ledgerId,
      operation: "CREDIT_ADD",
      amount: 1n,
      idempotencyKey: "k-future",
      occurredAt: timestampFromDate(new Date(NOW.getTime() + 5 * 60 * 1000)),
    });
    expect(entry?.sequence).toBe(1n);
    expect(entry?.createdAt && timestampDate(entry.createdAt)).toEqual(NOW);
  });

  it("gives an absent amount the operation's default, and an absent occurred_at the write time", async () => {
    const ledgerId = await openLedger();
    const { entry } = await client.recordEntry({
      ledgerId,
      operation: "DAILY_REWARD",
      idempotencyKey: "k",
    });
    expect(entry?.amount).toBe(1n);
    expect(entry?.occurredAt).toBeDefined();
    expect(entry?.occurredAt).toEqual(entry?.createdAt);
  });

  it("normalizes page sizes: 0 is the default of 50, above 500 is capped", async () => {
    await conditions.insertLedgers(app, 501);
    const byDefault = await client.listLedgers({ app });
    const capped = await client.listLedgers({ app, pageSize: 10_000 });
    expect(byDefault.ledgers).toHaveLength(50);
    expect(byDefault.nextPageToken).not.toBe("");
    expect(capped.ledgers).toHaveLength(500);
    expect(capped.nextPageToken).not.toBe("");
  });

  it("returns a reversal as a REVERSAL transaction with its entries", async () => {
    const ledgerId = await openLedger();
    const { entry } = await client.recordEntry({
      ledgerId,
      operation: "CREDIT_ADD",
      amount: 10n,
      idempotencyKey: "k-1",
    });
    const { transaction } = await client.reverseTransaction({
      transactionId: entry?.transactionId ?? "",
      amount: 4n,
      idempotencyKey: "k-2",
    });
    expect(transaction?.kind).toBe(TransactionKind.REVERSAL);
    expect(transaction?.reversesTransactionId).toBe(entry?.transactionId);
    expect(transaction?.amount).toBe(4n);
    expect(transaction?.entries.map((e) => [e.ledgerId, e.amount, e.balanceAfter])).toEqual([
      [ledgerId, -4n, 6n],
    ]);
  });
});

describe("validation before the store", () => {
  const valid = { app: "content", ownerId: "u", unit: "CREDITS", idempotencyKey: "k" };
  it.each([
    ["app", () => closedStoreClient.createLedger({ ...valid, app: "" })],
    ["app", () => closedStoreClient.createLedger({ ...valid, app: "Content!" })],
    ["owner_id", () => closedStoreClient.createLedger({ ...valid, ownerId: "" })],
    ["unit", () => closedStoreClient.createLedger({ ...valid, unit: "credits" })],
    ["min_balance", () => closedStoreClient.createLedger({ ...valid, minBalance: 1n })],
    [
      "min_balance",
      () => closedStoreClient.createLedger({ ...valid, minBalance: 0n, unbounded: true }),
    ],
    ["idempotency_key", () => closedStoreClient.createLedger({ ...valid, idempotencyKey: "" })],
    ["ledger_id", () => closedStoreClient.getLedger({ ledgerId: "not-a-uuid" })],
    ["ledger_id", () => closedStoreClient.terminateLedger({ ledgerId: "" })],
    [
      "operation",
      () =>
        closedStoreClient.recordEntry({
          ledgerId: UNKNOWN_ID,
          operation: "spend",
          idempotencyKey: "k",
        }),
    ],
    [
      "occurred_at",
      () =>
        closedStoreClient.recordEntry({
          ledgerId: UNKNOWN_ID,
          operation: "CREDIT_ADD",
          idempotencyKey: "k",
          occurredAt: { seconds: 0n, nanos: 1_000_000_000 },
        }),
    ],
    [
      "amount",
      () =>
        closedStoreClient.recordEntry({
          ledgerId: UNKNOWN_ID,
          operation: "CREDIT_SPEND",
          amount: -(2n ** 63n),
          idempotencyKey: "k",
        }),
    ],
    [
      "amount",
      () =>
        closedStoreClient.reverseTransaction({
          transactionId: UNKNOWN_ID,
          amount: 0n,
          idempotencyKey: "k",
        }),
    ],
    ["page_size", () => closedStoreClient.listEntries({ ledgerId: UNKNOWN_ID, pageSize: -1 })],
    ["entries", () => closedStoreClient.recordEntries({ entries: [], atomic: true })],
    ["entries", () => closedStoreClient.recordEntries({ entries: credits(1001), atomic: false })],
    [
      "entries[2].amount",
      () =>
        closedStoreClient.recordEntries({
          entries: credits(3).map((item, i) =>
            i === 2 ? { ...item, amount: -(2n ** 63n) } : item,
          ),
          atomic: false,
        }),
    ],
    [
      "entries[1].occurred_at",
      () =>
        closedStoreClient.recordEntries({
          entries: credits(3).map((item, i) =>
            i === 1 ? { ...item, occurredAt: { seconds: 0n, nanos: -1 } } : item,
          ),
          atomic: true,
        }),
    ],
    [
      "entries[0].metadata",
      () =>
        closedStoreClient.recordEntries({
          entries: credits(2).map((item, i) =>
            i === 0 ? { ...item, metadata: { "": "x" } } : item,
          ),
          atomic: false,
        }),
    ],
    [
      "entries[3].idempotency_key",
      () =>
        closedStoreClient.recordEntries({
          entries: credits(4).map((item, i) =>
            i === 3 ? { ...item, idempotencyKey: "k-bulk-1" } : item,
          ),
          atomic: false,
        }),
    ],
    [
      "occurred_before",
      () =>
        closedStoreClient.listEntries({
          ledgerId: UNKNOWN_ID,
          occurredAfter: timestampFromDate(new Date("2029-01-02T00:00:00Z")),
          occurredBefore: timestampFromDate(new Date("2029-01-01T00:00:00Z")),
        }),
    ],
  ])(
    "refuses a bad %s with INVALID_ARGUMENT naming it, before the (closed) store is asked",
    async (field, call) => {
      const error = await failure(call());
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage.startsWith(`${field}: `), error.rawMessage).toBe(true);
      expect(errorInfo(error)).toMatchObject({
        domain: "ledger.v1",
        reason: "INVALID_ARGUMENT",
        metadata: { field },
      });
    },
  );
});

describe("declared apps only", () => {
  it.each([
    ["CreateLedger", () => closedStoreClient.createLedger({ ...VALID_CREATE, app: "giftcards" })],
    ["ListLedgers", () => closedStoreClient.listLedgers({ app: "contnet" })],
    [
      "GetBalance",
      () => closedStoreClient.getBalance({ app: "contnet", ownerId: "u", unit: "CREDITS" }),
    ],
    [
      "GetTransaction",
      () => closedStoreClient.getTransaction({ app: "contnet", externalTransactionId: "x" }),
    ],
  ])(
    "%s naming an undeclared app is refused UNKNOWN_APP, listing the declared ones",
    async (_, call) => {
      const error = await failure(call());
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toContain("declared apps: content, learning");
      expect(errorInfo(error)).toMatchObject({
        reason: "UNKNOWN_APP",
        metadata: { field: "app", declared_apps: expect.stringContaining("content,learning") },
      });
    },
  );
});

const VALID_CREATE = { app: "content", ownerId: "u", unit: "CREDITS", idempotencyKey: "k" };

describe("RecordEntries", () => {
  it("names both items that share an idempotency key", async () => {
    const entries = credits(3).map((item, i) =>
      i === 2 ? { ...item, idempotencyKey: "k-bulk-0" } : item,
    );
    const error = await failure(closedStoreClient.recordEntries({ entries, atomic: true }));
    expect(error.rawMessage).toBe(
      "entries[2].idempotency_key: repeats entries[0].idempotency_key: each item needs its own key",
    );
  });

  it("answers each item in order: its entry, or its failure as a google.rpc.Status", async () => {
    const ledgerId = await openLedger();
    const { results } = await client.recordEntries({
      entries: [
        { ledgerId, operation: "CREDIT_ADD", amount: 5n, idempotencyKey: "k-1" },
        { ledgerId, operation: "CREDIT_SPEND", amount: -9n, idempotencyKey: "k-2" },
        { ledgerId, operation: "CREDIT_SPEND", amount: -2n, idempotencyKey: "k-3" },
      ],
      atomic: false,
    });
    expect(results.map((r) => r.result.case)).toEqual(["entry", "error", "entry"]);
    const [first, refused, third] = results.map((r) => r.result);
    expect(first?.case === "entry" && first.value.entry?.balanceAfter).toBe(5n);
    expect(third?.case === "entry" && third.value.entry?.balanceAfter).toBe(3n);
    if (refused?.case !== "error") {
      throw new Error("the second item should have failed");
    }
    expect(refused.value.code).toBe(Code.FailedPrecondition);
    const [info] = refused.value.details.map((any) => anyUnpack(any, ErrorInfoSchema));
    expect(info).toMatchObject({
      domain: "ledger.v1",
      reason: "INSUFFICIENT_FUNDS",
      metadata: { ledger_id: ledgerId, balance: "5", amount: "-9" },
    });
  });
});

describe("GetBalance names a ledger by ledger_id XOR (app, owner_id, unit)", () => {
  it("looks up by ledger_id", async () => {
    const ledgerId = await openLedger();
    await client.recordEntry({
      ledgerId,
      operation: "CREDIT_ADD",
      amount: 7n,
      idempotencyKey: "k",
    });
    const balance = await client.getBalance({ ledgerId });
    expect(balance).toMatchObject({ ledgerId, balance: 7n, unit: "CREDITS", version: 1n });
  });

  it("looks up by app, owner_id and unit, among ledgers sharing two of them", async () => {
    const ledgerId = await openLedger("user-1");
    await openLedger("user-2");
    await client.createLedger({ app, ownerId: "user-1", unit: "POINTS", idempotencyKey: "k-pts" });
    const balance = await client.getBalance({ app, ownerId: "user-1", unit: "CREDITS" });
    expect(balance.ledgerId).toBe(ledgerId);
  });

  it.each([
    ["ledger_id", { ledgerId: UNKNOWN_ID, app: "content" }],
    ["ledger_id", {}],
    ["owner_id", { app: "content", unit: "CREDITS" }],
    ["unit", { app: "content", ownerId: "u" }],
  ])(
    "refuses with INVALID_ARGUMENT naming %s before the (closed) store is asked: %o",
    async (field, request) => {
      const error = await failure(closedStoreClient.getBalance(request));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(errorInfo(error)?.metadata).toEqual({ field });
    },
  );
});

describe("deadlines and cancellation reach the store", () => {
  it("bounds a lock wait by the caller's deadline, not the store's lock timeout, and writes nothing", async () => {
    const ledgerId = await openLedger();
    const lock = await conditions.holdLedgerLock(ledgerId);
    let error: ConnectError;
    try {
      error = await failure(
        creditOne(ledgerId, "k-busy", "req-busy", { timeoutMs: LOCK_WAIT_DEADLINE_MS }),
      );
    } finally {
      await lock.release();
    }
    // Only the store's lock_timeout, capped below the caller's deadline, ends a lock wait
    // as contention (retry with the same key) before that deadline: its own is 10 s.
    expect(error.code).toBe(Code.Aborted);
    expect(errorInfo(error)?.reason).toBe("CONCURRENCY_CONFLICT");
    expect(linesFor("req-busy")[0]).toMatchObject({ code: "aborted", ledger_id: ledgerId });
    expect(await stored(ledgerId)).toEqual({ balance: 0n, version: 0n, entries: 0 });
  });

  it("waits for the lock as long as the store allows when there is no deadline, then writes once", async () => {
    const ledgerId = await openLedger();
    const lock = await conditions.holdLedgerLock(ledgerId);
    let settled = false;
    const call = client
      .recordEntry({ ledgerId, operation: "CREDIT_ADD", amount: 1n, idempotencyKey: "k-wait" })
      .finally(() => {
        settled = true;
      });
    try {
      await eventually(async () => (await conditions.lockWaiters()) === 1, "the write waits");
      await sleep(LOCK_HOLD_MS);
      expect(settled).toBe(false);
      expect(await conditions.lockWaiters()).toBe(1);
    } finally {
      await lock.release();
    }
    const { entry, replayed } = await call;
    expect(replayed).toBe(false);
    expect(entry?.sequence).toBe(1n);
    expect(await stored(ledgerId)).toEqual({ balance: 1n, version: 1n, entries: 1 });
  });

  it("cancels the store's waiting statement in the database when the caller cancels", async () => {
    const ledgerId = await openLedger();
    const lock = await conditions.holdLedgerLock(ledgerId);
    const controller = new AbortController();
    try {
      const call = failure(
        creditOne(ledgerId, "k-cancel", "req-cancel", { signal: controller.signal }),
      );
      await eventually(async () => (await conditions.lockWaiters()) === 1, "the write waits");
      controller.abort();
      expect((await call).code).toBe(Code.Canceled);
      // The lock is still held: only a cancelled statement stops waiting this soon.
      await eventually(
        async () => (await conditions.lockWaiters()) === 0,
        "the store's statement is cancelled",
        2000,
      );
      await vi.waitFor(() => expect(linesFor("req-cancel")[0]).toMatchObject({ code: "canceled" }));
    } finally {
      await lock.release();
    }
    expect(await stored(ledgerId)).toEqual({ balance: 0n, version: 0n, entries: 0 });
  });

  it("reports a statement cut short by the deadline as DEADLINE_EXCEEDED, and writes nothing", async () => {
    const ledgerId = await openLedger();
    const error = await failure(
      creditOne(ledgerId, "k-slow", "req-slow", {
        description: SLOW_ENTRY_DESCRIPTION,
        timeoutMs: STATEMENT_DEADLINE_MS,
      }),
    );
    expect(error.code).toBe(Code.DeadlineExceeded);
    await vi.waitFor(() =>
      expect(linesFor("req-slow")[0]).toMatchObject({ code: "deadline_exceeded" }),
    );
    // The statement sleeps 30 s unless stopped; the server's handler returned within a second.
    expect(linesFor("req-slow")[0]?.duration_ms).toBeLessThan(1000);
    await eventually(
      async () => (await conditions.sleepers()) === 0,
      "the slow statement is stopped",
      2000,
    );
    expect(await stored(ledgerId)).toEqual({ balance: 0n, version: 0n, entries: 0 });
  });
});

describe("failures", () => {
  it("sends a domain failure as its code with ErrorInfo", async () => {
    const error = await failure(client.getLedger({ ledgerId: UNKNOWN_ID }));
    expect(error.code).toBe(Code.NotFound);
    expect(errorInfo(error)).toMatchObject({
      domain: "ledger.v1",
      reason: "LEDGER_NOT_FOUND",
      metadata: { ledger_id: UNKNOWN_ID },
    });
  });

  it("sends an unexpected database error as INTERNAL with the request id only, and logs the cause", async () => {
    const ledgerId = await openLedger();
    const error = await failure(
      creditOne(ledgerId, "k-fault", "req-bug-1", { description: FAILING_ENTRY_DESCRIPTION }),
    );
    expect(error.code).toBe(Code.Internal);
    expect(error.rawMessage).toBe("internal error (request id req-bug-1)");
    expect(error.details).toEqual([]);
    const [line] = linesFor("req-bug-1");
    expect(line).toMatchObject({ code: "internal", request_id: "req-bug-1", level: 50 });
    expect(JSON.stringify(line?.err)).toContain(INJECTED_FAULT_DETAIL);
    expect(await stored(ledgerId)).toEqual({ balance: 0n, version: 0n, entries: 0 });
  });

  it("maps a LedgerError of the store whatever its reason: an unavailable store is UNAVAILABLE", async () => {
    const error = await failure(closedStoreClient.listLedgers({ app }));
    expect(error.code).toBe(Code.Unavailable);
    expect(errorInfo(error)).toMatchObject({ domain: "ledger.v1", reason: "STORE_UNAVAILABLE" });
  });
});
