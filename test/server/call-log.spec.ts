/**
 * Every call leaves exactly one JSON log line ("rpc") with its method, final
 * code, duration, request id, the ledger it concerns and the ErrorInfo reason,
 * including calls refused before they reach the service: an oversized request
 * is RESOURCE_EXHAUSTED, logged, and never INTERNAL.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  connectClient,
  grpcClient,
  grpcJsCall,
  grpcJsClient,
  grpcWebClient,
  type PlumbingServer,
  startPlumbingServer,
} from "./harness.js";
import { rpcLines } from "./log-capture.js";

const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";
const REQUEST_BYTES_MAX = 2048;

let s: PlumbingServer;
beforeAll(async () => {
  s = await startPlumbingServer({ config: { requestBytesMax: REQUEST_BYTES_MAX } });
});
afterAll(async () => {
  await s?.close();
});

function linesFor(requestId: string) {
  return rpcLines(s.log.lines()).filter((line) => line.request_id === requestId);
}

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  return call.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => ConnectError.from(e),
  );
}

describe("the call log", () => {
  it.each([
    ["connect", () => connectClient(s.url, "1.1")],
    ["grpc", () => grpcClient(s.url)],
    ["grpc-web", () => grpcWebClient(s.url)],
  ])("carries the trace id of a W3C traceparent header (%s)", async (_, client) => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const requestId = `log-trace-${_}`;
    await failure(
      client().getLedger(
        { ledgerId: UNKNOWN_ID },
        {
          headers: {
            "x-request-id": requestId,
            traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
          },
        },
      ),
    );
    expect(linesFor(requestId)).toEqual([
      expect.objectContaining({ trace_id: traceId, parent_span_id: "00f067aa0ba902b7" }),
    ]);
  });

  it.each(
    [
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
      "not a trace",
    ].map((traceparent, index) => [traceparent, index] as const),
  )("ignores an invalid traceparent: %s", async (traceparent, index) => {
    const requestId = `log-bad-trace-${index}`;
    await failure(
      connectClient(s.url, "1.1").getLedger(
        { ledgerId: UNKNOWN_ID },
        { headers: { "x-request-id": requestId, traceparent } },
      ),
    );
    const [line] = linesFor(requestId);
    expect(line).toBeDefined();
    expect(line).not.toHaveProperty("trace_id");
  });

  it("writes one line for a successful call, naming the ledger", async () => {
    const client = connectClient(s.url, "1.1");
    const { ledger } = await client.createLedger(
      { app: "content", ownerId: "log-ok", unit: "CREDITS", idempotencyKey: "k-log-ok" },
      { headers: { "x-request-id": "log-ok" } },
    );
    const lines = linesFor("log-ok");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      msg: "rpc",
      level: 30,
      method: "ledger.v1.LedgerService/CreateLedger",
      protocol: "connect",
      code: "ok",
      ledger_id: ledger?.id,
    });
    expect(typeof lines[0]?.duration_ms).toBe("number");
  });

  it("names a transfer's source ledger and the transaction it made", async () => {
    const client = connectClient(s.url, "1.1");
    const open = async (ownerId: string, unbounded: boolean) =>
      (
        await client.createLedger({
          app: "content",
          ownerId,
          unit: "CREDITS",
          unbounded,
          idempotencyKey: `k-${ownerId}`,
        })
      ).ledger?.id ?? "";
    const fromLedgerId = await open("log-transfer-from", true);
    const toLedgerId = await open("log-transfer-to", false);
    const { transaction } = await client.transfer(
      { fromLedgerId, toLedgerId, amount: 5n, idempotencyKey: "k-log-transfer" },
      { headers: { "x-request-id": "log-transfer" } },
    );
    expect(linesFor("log-transfer")).toEqual([
      expect.objectContaining({
        method: "ledger.v1.LedgerService/Transfer",
        code: "ok",
        ledger_id: fromLedgerId,
        transaction_id: transaction?.id,
      }),
    ]);
  });

  it.each([
    ["connect", () => connectClient(s.url, "1.1")],
    ["grpc", () => grpcClient(s.url)],
    ["grpc-web", () => grpcWebClient(s.url)],
  ])("writes one line with code and reason for a failed %s call", async (protocol, client) => {
    const requestId = `log-fail-${protocol}`;
    await failure(
      client().getLedger({ ledgerId: UNKNOWN_ID }, { headers: { "x-request-id": requestId } }),
    );
    await vi.waitFor(() => expect(linesFor(requestId)).toHaveLength(1));
    expect(linesFor(requestId)[0]).toMatchObject({
      method: "ledger.v1.LedgerService/GetLedger",
      protocol,
      code: "not_found",
      reason: "LEDGER_NOT_FOUND",
      ledger_id: UNKNOWN_ID,
    });
  });

  it("names the transaction of a reversal", async () => {
    const transactionId = "11111111-1111-4111-8111-111111111111";
    await failure(
      connectClient(s.url, "2").reverseTransaction(
        { transactionId, idempotencyKey: "k" },
        { headers: { "x-request-id": "log-tx" } },
      ),
    );
    expect(linesFor("log-tx")[0]).toMatchObject({
      code: "not_found",
      reason: "TRANSACTION_NOT_FOUND",
      transaction_id: transactionId,
    });
  });

  it("replaces a request id that is not short and plain", async () => {
    const seen: (string | null)[] = [];
    await connectClient(s.url, "1.1").listLedgers(
      { app: "content" },
      {
        headers: { "x-request-id": "x".repeat(500) },
        onHeader: (h) => seen.push(h.get("x-request-id")),
      },
    );
    expect(seen[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(linesFor(seen[0] ?? "")).toHaveLength(1);
  });
});

describe("request size", () => {
  /** Every field within its limit, the whole over REQUEST_BYTES_MAX: decoded, it would create a ledger. */
  const oversized = (ownerId: string) => ({
    app: "content",
    ownerId,
    unit: "CREDITS",
    idempotencyKey: `k-${ownerId}`,
    description: "x".repeat(1000),
    metadata: { a: "x".repeat(1000), b: "x".repeat(1000) },
  });

  async function ledgerExists(ownerId: string): Promise<boolean> {
    try {
      await connectClient(s.url, "1.1").getBalance({ app: "content", ownerId, unit: "CREDITS" });
      return true;
    } catch (e) {
      if (ConnectError.from(e).code === Code.NotFound) {
        return false;
      }
      throw e;
    }
  }

  it("would accept the same request within the limit (so the refusal is the size)", async () => {
    const grown = await startPlumbingServer({
      config: { requestBytesMax: 4 * REQUEST_BYTES_MAX },
      database: s.database,
    });
    try {
      await connectClient(grown.url, "1.1").createLedger(oversized("fits"));
    } finally {
      await grown.close();
    }
    expect(await ledgerExists("fits")).toBe(true);
  });

  it.each([
    ["connect", () => connectClient(s.url, "1.1")],
    ["grpc", () => grpcClient(s.url)],
    ["grpc-web", () => grpcWebClient(s.url)],
  ])(
    "refuses an oversized %s request with RESOURCE_EXHAUSTED, and logs it once",
    async (protocol, client) => {
      const requestId = `big-${protocol}`;
      const error = await failure(
        client().createLedger(oversized(requestId), { headers: { "x-request-id": requestId } }),
      );
      expect(error.code).toBe(Code.ResourceExhausted);
      await vi.waitFor(() => expect(linesFor(requestId)).toHaveLength(1));
      expect(linesFor(requestId)[0]).toMatchObject({
        method: "ledger.v1.LedgerService/CreateLedger",
        code: "resource_exhausted",
      });
      expect(await ledgerExists(requestId)).toBe(false);
    },
  );

  it("refuses an oversized grpc-js request with RESOURCE_EXHAUSTED", async () => {
    const grpcJs = grpcJsClient(`127.0.0.1:${s.port}`);
    try {
      const error = await grpcJsCall(grpcJs, "createLedger", oversized("big-grpc-js")).then(
        () => undefined,
        (e: grpc.ServiceError) => e,
      );
      expect(error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(await ledgerExists("big-grpc-js")).toBe(false);
    } finally {
      grpcJs.close();
    }
  });
});
