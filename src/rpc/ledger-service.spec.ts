/**
 * LedgerService over an in-memory transport with the production router
 * options: requests become validated domain inputs before any store call,
 * results come back as proto messages, failures as codes with ErrorInfo.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { LedgerService, LedgerStatus } from "../../gen/ledger/v1/ledger_pb.js";
import { FakeStore } from "../../test/server/fake-store.js";
import { captureLog, rpcLines } from "../../test/server/log-capture.js";
import { LedgerError } from "../domain/index.js";
import { ledgerRouterOptions, ledgerRoutes } from "./index.js";

const NOW = new Date("2030-01-01T00:00:00Z");
const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";

let store: FakeStore;
let log: ReturnType<typeof captureLog>;
let client: ReturnType<typeof createClient<typeof LedgerService>>;

beforeEach(() => {
  store = new FakeStore();
  log = captureLog();
  const transport = createRouterTransport(ledgerRoutes(store, { now: () => NOW }), {
    router: ledgerRouterOptions(log.logger),
  });
  client = createClient(LedgerService, transport);
});

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

async function openLedger(): Promise<string> {
  const { ledger } = await client.createLedger({
    app: "content",
    ownerId: "user-1",
    unit: "CREDITS",
    idempotencyKey: "k-open",
  });
  return ledger?.id ?? "";
}

describe("mapping requests and results", () => {
  it("creates a ledger from the request fields and returns it as a proto Ledger", async () => {
    const { ledger, replayed } = await client.createLedger({
      app: "content",
      ownerId: "user-1",
      unit: "CREDITS",
      description: "wallet",
      reference: "ref-1",
      metadata: { plan: "pro" },
      minBalance: -500n,
      idempotencyKey: "k-1",
    });
    expect(store.callsOf("createLedger")[0]?.input).toEqual({
      app: "content",
      ownerId: "user-1",
      unit: "CREDITS",
      description: "wallet",
      reference: "ref-1",
      metadata: { plan: "pro" },
      minBalanceMinor: -500n,
      unbounded: false,
      idempotencyKey: "k-1",
    });
    expect(replayed).toBe(false);
    expect(ledger).toMatchObject({
      app: "content",
      ownerId: "user-1",
      unit: "CREDITS",
      metadata: { plan: "pro" },
      status: LedgerStatus.ACTIVE,
      balance: 0n,
      minBalance: -500n,
      version: 0n,
      unbounded: false,
    });
    expect(ledger?.createdAt).toBeDefined();
    expect(ledger?.terminatedAt).toBeUndefined();
  });

  it("leaves min_balance absent when it is absent, and reports an unbounded ledger", async () => {
    await client.createLedger({ app: "a", ownerId: "o", unit: "U", idempotencyKey: "k" });
    expect(store.callsOf("createLedger")[0]?.input).toMatchObject({ minBalanceMinor: undefined });
    const { ledger } = await client.createLedger({
      app: "a",
      ownerId: "bank",
      unit: "U",
      unbounded: true,
      idempotencyKey: "k2",
    });
    expect(ledger?.unbounded).toBe(true);
    expect(ledger?.minBalance).toBeUndefined();
  });

  it("carries int64 amounts beyond 2^53 exactly, as bigint, both ways", async () => {
    const ledgerId = await openLedger();
    const amount = 2n ** 62n + 1n;
    const { entry } = await client.recordEntry({
      ledgerId,
      operation: "CREDIT_ADD",
      amount,
      idempotencyKey: "k-big",
      occurredAt: timestampFromDate(new Date("2029-12-31T23:00:00Z")),
    });
    expect(store.callsOf("recordEntry")[0]?.input).toMatchObject({
      amountMinor: amount,
      occurredAt: new Date("2029-12-31T23:00:00Z"),
    });
    expect(entry?.amount).toBe(amount);
    expect(entry?.balanceAfter).toBe(amount);
    expect(entry?.sequence).toBe(1n);
  });

  it("passes an absent amount as undefined (the operation's default)", async () => {
    const ledgerId = await openLedger();
    await client.recordEntry({ ledgerId, operation: "DAILY_REWARD", idempotencyKey: "k" });
    expect(store.callsOf("recordEntry")[0]?.input).toMatchObject({
      amountMinor: undefined,
      occurredAt: undefined,
    });
  });

  it("normalizes page sizes: 0 is the default of 50, above 500 is capped", async () => {
    await client.listLedgers({ app: "content" });
    await client.listLedgers({ app: "content", pageSize: 10_000 });
    expect(
      store.callsOf("listLedgers").map((c) => (c.input as { pageSize: number }).pageSize),
    ).toEqual([50, 500]);
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
    expect(transaction?.reversesTransactionId).toBe(entry?.transactionId);
    expect(transaction?.amount).toBe(4n);
    expect(transaction?.entries.map((e) => e.amount)).toEqual([-4n]);
  });
});

describe("validation before the store", () => {
  const valid = { app: "content", ownerId: "u", unit: "CREDITS", idempotencyKey: "k" };
  it.each([
    ["app", () => client.createLedger({ ...valid, app: "" })],
    ["app", () => client.createLedger({ ...valid, app: "Content!" })],
    ["owner_id", () => client.createLedger({ ...valid, ownerId: "" })],
    ["unit", () => client.createLedger({ ...valid, unit: "credits" })],
    ["min_balance", () => client.createLedger({ ...valid, minBalance: 1n })],
    ["min_balance", () => client.createLedger({ ...valid, minBalance: 0n, unbounded: true })],
    ["idempotency_key", () => client.createLedger({ ...valid, idempotencyKey: "" })],
    ["ledger_id", () => client.getLedger({ ledgerId: "not-a-uuid" })],
    ["ledger_id", () => client.terminateLedger({ ledgerId: "" })],
    [
      "operation",
      () => client.recordEntry({ ledgerId: UNKNOWN_ID, operation: "spend", idempotencyKey: "k" }),
    ],
    [
      "occurred_at",
      () =>
        client.recordEntry({
          ledgerId: UNKNOWN_ID,
          operation: "CREDIT_ADD",
          idempotencyKey: "k",
          occurredAt: timestampFromDate(new Date("2030-01-02T00:00:00Z")),
        }),
    ],
    [
      "occurred_at",
      () =>
        client.recordEntry({
          ledgerId: UNKNOWN_ID,
          operation: "CREDIT_ADD",
          idempotencyKey: "k",
          occurredAt: { seconds: 0n, nanos: 1_000_000_000 },
        }),
    ],
    [
      "amount",
      () =>
        client.recordEntry({
          ledgerId: UNKNOWN_ID,
          operation: "CREDIT_SPEND",
          amount: -(2n ** 63n),
          idempotencyKey: "k",
        }),
    ],
    [
      "amount",
      () =>
        client.reverseTransaction({ transactionId: UNKNOWN_ID, amount: 0n, idempotencyKey: "k" }),
    ],
    ["page_size", () => client.listEntries({ ledgerId: UNKNOWN_ID, pageSize: -1 })],
    [
      "occurred_before",
      () =>
        client.listEntries({
          ledgerId: UNKNOWN_ID,
          occurredAfter: timestampFromDate(new Date("2029-01-02T00:00:00Z")),
          occurredBefore: timestampFromDate(new Date("2029-01-01T00:00:00Z")),
        }),
    ],
  ])(
    "refuses a bad %s with INVALID_ARGUMENT naming it, without calling the store",
    async (field, call) => {
      const error = await failure(call());
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toMatch(new RegExp(`^${field}: `));
      expect(errorInfo(error)).toMatchObject({
        domain: "ledger.v1",
        reason: "INVALID_ARGUMENT",
        metadata: { field },
      });
      expect(store.calls).toEqual([]);
    },
  );
});

describe("GetBalance names a ledger by ledger_id XOR (app, owner_id, unit)", () => {
  it("looks up by ledger_id", async () => {
    const ledgerId = await openLedger();
    const balance = await client.getBalance({ ledgerId });
    expect(store.callsOf("getBalance")[0]?.input).toEqual({ ledgerId });
    expect(balance).toMatchObject({ ledgerId, balance: 0n, unit: "CREDITS", version: 0n });
  });

  it("looks up by app, owner_id and unit", async () => {
    const ledgerId = await openLedger();
    const balance = await client.getBalance({ app: "content", ownerId: "user-1", unit: "CREDITS" });
    expect(store.callsOf("getBalance")[0]?.input).toEqual({
      app: "content",
      ownerId: "user-1",
      unit: "CREDITS",
    });
    expect(balance.ledgerId).toBe(ledgerId);
  });

  it.each([
    ["ledger_id", { ledgerId: UNKNOWN_ID, app: "content" }],
    ["ledger_id", {}],
    ["owner_id", { app: "content", unit: "CREDITS" }],
    ["unit", { app: "content", ownerId: "u" }],
  ])("refuses with INVALID_ARGUMENT naming %s: %o", async (field, request) => {
    const error = await failure(client.getBalance(request));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(errorInfo(error)?.metadata).toEqual({ field });
    expect(store.calls).toEqual([]);
  });
});

describe("deadlines and failures", () => {
  it("hands the caller's deadline and abort signal to the store", async () => {
    const ledgerId = await openLedger();
    await client.getLedger({ ledgerId }, { timeoutMs: 5000 });
    await client.getLedger({ ledgerId });
    const [withDeadline, without] = store.callsOf("getLedger");
    expect(withDeadline?.options?.timeoutMs).toBeGreaterThan(0);
    expect(withDeadline?.options?.timeoutMs).toBeLessThanOrEqual(5000);
    expect(withDeadline?.options?.signal).toBeInstanceOf(AbortSignal);
    expect(without?.options?.timeoutMs).toBeUndefined();
  });

  it("reports a store call cut short by the deadline as DEADLINE_EXCEEDED", async () => {
    const ledgerId = await openLedger();
    store.hook = ({ options }) =>
      new Promise((_, reject) => {
        options?.signal?.addEventListener("abort", () => reject(new Error("query canceled")));
      });
    const error = await failure(client.getLedger({ ledgerId }, { timeoutMs: 50 }));
    expect(error.code).toBe(Code.DeadlineExceeded);
    await vi.waitFor(() =>
      expect(rpcLines(log.lines()).at(-1)).toMatchObject({ code: "deadline_exceeded" }),
    );
  });

  it("sends a domain failure as its code with ErrorInfo", async () => {
    const error = await failure(client.getLedger({ ledgerId: UNKNOWN_ID }));
    expect(error.code).toBe(Code.NotFound);
    expect(errorInfo(error)).toMatchObject({
      domain: "ledger.v1",
      reason: "LEDGER_NOT_FOUND",
      metadata: { ledger_id: UNKNOWN_ID },
    });
  });

  it("sends a bug as INTERNAL with the request id only, and logs the cause", async () => {
    store.hook = () => {
      throw new TypeError("cannot read properties of undefined (secret detail)");
    };
    const error = await failure(
      client.getLedger({ ledgerId: UNKNOWN_ID }, { headers: { "x-request-id": "req-bug-1" } }),
    );
    expect(error.code).toBe(Code.Internal);
    expect(error.rawMessage).toBe("internal error (request id req-bug-1)");
    expect(error.details).toEqual([]);
    const [line] = rpcLines(log.lines());
    expect(line).toMatchObject({ code: "internal", request_id: "req-bug-1", level: 50 });
    expect(JSON.stringify(line?.err)).toContain("secret detail");
  });

  it("maps a LedgerError thrown by the store whatever its reason", async () => {
    store.hook = () => {
      throw new LedgerError("CONCURRENCY_CONFLICT", "lock contention", {});
    };
    const error = await failure(client.listLedgers({ app: "content" }));
    expect(error.code).toBe(Code.Aborted);
    expect(errorInfo(error)?.reason).toBe("CONCURRENCY_CONFLICT");
  });
});
