/**
 * The SDK's retries through a real TCP proxy in front of the real server,
 * over each protocol: a write whose response is lost (the server did the
 * work) is retried with the same idempotency key, so it lands once and comes
 * back as a replay; retries stop after attemptsMax; a refusal is never
 * retried; a server that never answers ends in DEADLINE_EXCEEDED; and the
 * caller's AbortSignal ends a call in flight or a wait between attempts.
 */
import { createServer, type Socket } from "node:net";
import { Code } from "@connectrpc/connect";
import { afterAll, describe, expect, it } from "vitest";
import {
  createContentClient,
  createLedgerClient,
  InsufficientFundsError,
  type LedgerClient,
  LedgerRpcError,
  PROTOCOLS,
  type Protocol,
} from "../../src/sdk/index.js";
import { useLedgerServer } from "../support/server.js";
import { startProxy, type TestProxy } from "./tcp-proxy.js";

const harness = useLedgerServer();
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) {
    await cleanup();
  }
});

/** Fast backoff: the behaviour under test is the count and the key, not the timing. */
const RETRY = { attemptsMax: 3, backoffMsInitial: 5, backoffMsMax: 20 };

function client(baseUrl: string, protocol: Protocol): LedgerClient {
  const ledger = createLedgerClient({ baseUrl, protocol, retry: RETRY });
  cleanups.push(() => ledger.close());
  return ledger;
}

async function proxy(plan: Parameters<typeof startProxy>[1]): Promise<TestProxy> {
  const started = await startProxy(harness.server().port, plan);
  cleanups.push(() => started.close());
  return started;
}

describe.each(PROTOCOLS)("retries over %s", (protocol) => {
  it("retries a write whose response was lost with the same key: one effect, a replay", async () => {
    const direct = createContentClient(client(harness.server().url, protocol));
    const { ledger } = await direct.createLedger({ ownerId: `lost-${protocol}`, unit: "CREDITS" });

    const lossy = await proxy((index) => (index === 0 ? "cut-response" : "forward"));
    const viaProxy = createContentClient(client(lossy.url, protocol));
    const result = await viaProxy.creditAdd(ledger.id);

    expect(lossy.calls()).toBe(2);
    expect(result.replayed).toBe(true);
    expect(result.entry.amount).toBe(10n);
    const { entries } = await direct.ledger.listEntries({ ledgerId: ledger.id });
    expect(entries).toHaveLength(1);
    expect(entries[0]?.id).toBe(result.entry.id);
    expect((await direct.getBalance(`lost-${protocol}`, "CREDITS")).balance).toBe(10n);
  });

  it("gives up after attemptsMax with UNAVAILABLE, the write still applied once", async () => {
    const direct = createContentClient(client(harness.server().url, protocol));
    const { ledger } = await direct.createLedger({ ownerId: `down-${protocol}`, unit: "CREDITS" });

    const cutting = await proxy(() => "cut-response");
    const viaProxy = createContentClient(client(cutting.url, protocol));
    const error = await viaProxy.dailyReward(ledger.id).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(LedgerRpcError);
    expect((error as LedgerRpcError).retryable).toBe(true);
    expect(cutting.calls()).toBe(RETRY.attemptsMax);
    expect((await direct.getBalance(`down-${protocol}`, "CREDITS")).balance).toBe(1n);
  });

  it("does not retry a refusal", async () => {
    const passing = await proxy(() => "forward");
    const content = createContentClient(client(passing.url, protocol));
    const { ledger } = await content.createLedger({
      ownerId: `broke-${protocol}`,
      unit: "CREDITS",
    });
    const before = passing.calls();
    const error = await content.contentCreation(ledger.id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InsufficientFundsError);
    expect(passing.calls() - before).toBe(1);
  });

  it("generates a fresh key per logical call", async () => {
    const content = createContentClient(client(harness.server().url, protocol));
    const { ledger } = await content.createLedger({ ownerId: `keys-${protocol}`, unit: "CREDITS" });
    const first = await content.dailyReward(ledger.id);
    const second = await content.dailyReward(ledger.id);
    expect(first.idempotencyKey).not.toBe(second.idempotencyKey);
    expect([first.replayed, second.replayed]).toEqual([false, false]);
    expect(second.entry.balanceAfter).toBe(2n);
  });

  it("ends in DEADLINE_EXCEEDED when the server never answers", async () => {
    const ledger = createLedgerClient({ baseUrl: await blackHole(), protocol, timeoutMs: 300 });
    cleanups.push(() => ledger.close());
    const error = await ledger
      .getLedger("00000000-0000-7000-8000-000000000000")
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LedgerRpcError);
    expect((error as LedgerRpcError).code).toBe(Code.DeadlineExceeded);
  });

  it("ends a call in flight as CANCELED when the caller's AbortSignal fires, not at the deadline", async () => {
    const ledger = createLedgerClient({ baseUrl: await blackHole(), protocol, timeoutMs: 60_000 });
    cleanups.push(() => ledger.close());
    const controller = new AbortController();
    const pending = ledger
      .getLedger("00000000-0000-7000-8000-000000000000", { signal: controller.signal })
      .catch((e: unknown) => e);
    setTimeout(() => controller.abort(new Error("the user left")), 100);
    const error = await pending;
    expect(error).toBeInstanceOf(LedgerRpcError);
    expect((error as LedgerRpcError).code).toBe(Code.Canceled);
    expect((error as LedgerRpcError).retryable).toBe(false);
  });

  it("stops waiting to retry when the caller's AbortSignal fires; the write that landed stays once", async () => {
    const direct = createContentClient(client(harness.server().url, protocol));
    const ownerId = `abort-backoff-${protocol}`;
    const { ledger } = await direct.createLedger({ ownerId, unit: "CREDITS" });

    const cutting = await proxy(() => "cut-response");
    // A backoff far longer than the test: only the signal can end the wait.
    const slow = createLedgerClient({
      baseUrl: cutting.url,
      protocol,
      timeoutMs: 120_000,
      retry: { attemptsMax: 5, backoffMsInitial: 60_000, backoffMsMax: 60_000 },
    });
    cleanups.push(() => slow.close());
    const controller = new AbortController();
    const pending = createContentClient(slow)
      .dailyReward(ledger.id, { signal: controller.signal })
      .catch((e: unknown) => e);
    await expect.poll(() => cutting.calls(), { timeout: 10_000 }).toBe(1);
    // Let the cut response reach the client, which then sleeps before its retry.
    await new Promise((resolve) => setTimeout(resolve, 300));
    controller.abort();
    const error = await pending;

    expect(error).toBeInstanceOf(LedgerRpcError);
    expect((error as LedgerRpcError).code).toBe(Code.Canceled);
    // No call count: full jitter may, rarely, have picked a short wait and retried already.
    expect((await direct.getBalance(ownerId, "CREDITS")).balance).toBe(1n);
  });
});

/** A TCP server that accepts connections and never answers; returns its base URL. */
async function blackHole(): Promise<string> {
  const silent = new Set<Socket>();
  const server = createServer((socket) => {
    silent.add(socket);
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of silent) {
          socket.destroy();
        }
        server.close(() => resolve());
      }),
  );
  const address = server.address();
  if (address === null || typeof address === "string") {
    throw new Error("no address");
  }
  return `http://127.0.0.1:${address.port}`;
}
