/**
 * close() is graceful: the port stops accepting at once, calls in flight on
 * HTTP/2 and HTTP/1.1 finish and are answered, idle connections do not hold
 * shutdown up, and calls outlasting SHUTDOWN_GRACE_MS are aborted so close()
 * always returns.
 */
import * as net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { connectClient, grpcClient, grpcJsCall, grpcJsClient, startFakeServer } from "./harness.js";

async function openLedger(url: string): Promise<string> {
  const { ledger } = await connectClient(url, "1.1").createLedger({
    app: "content",
    ownerId: "u",
    unit: "CREDITS",
    idempotencyKey: "k",
  });
  return ledger?.id ?? "";
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
    const s = await startFakeServer({ shutdownGraceMs: 5000 });
    const ledgerId = await openLedger(s.url);
    let started = 0;
    s.store.hook = async ({ method }) => {
      if (method === "getLedger") {
        started += 1;
        await sleep(300);
      }
    };
    const grpcJs = grpcJsClient(`127.0.0.1:${s.port}`);
    try {
      const calls = [
        grpcJsCall<{ ledger: { id: string } }>(grpcJs, "getLedger", { ledgerId }).then(
          (r) => r.ledger.id,
        ),
        grpcClient(s.url)
          .getLedger({ ledgerId })
          .then((r) => r.ledger?.id),
        connectClient(s.url, "1.1")
          .getLedger({ ledgerId })
          .then((r) => r.ledger?.id),
      ];
      while (started < calls.length) {
        await sleep(5);
      }
      const closing = s.server.close();
      expect(await refusesConnections(s.port)).toBe(true);
      expect(await Promise.all(calls)).toEqual([ledgerId, ledgerId, ledgerId]);
      await closing;
    } finally {
      grpcJs.close();
    }
  });

  it("is not held up by idle keep-alive connections and sessions", async () => {
    const s = await startFakeServer({ shutdownGraceMs: 10_000 });
    await openLedger(s.url); // leaves an idle HTTP/1.1 keep-alive connection
    await grpcClient(s.url).listLedgers({ app: "content" }); // and an idle HTTP/2 session
    const grpcJs = grpcJsClient(`127.0.0.1:${s.port}`);
    await grpcJsCall(grpcJs, "listLedgers", { app: "content" });
    const started = Date.now();
    await s.server.close();
    grpcJs.close();
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("aborts calls still running after the grace period, then returns", async () => {
    const s = await startFakeServer({ shutdownGraceMs: 200 });
    const ledgerId = await openLedger(s.url);
    let aborted = false;
    let started = false;
    s.store.hook = ({ options }) =>
      new Promise((_, reject) => {
        started = true;
        options?.signal?.addEventListener("abort", () => {
          aborted = true;
          reject(options.signal?.reason);
        });
      });
    const call = grpcClient(s.url)
      .getLedger({ ledgerId })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    while (!started) {
      await sleep(5);
    }
    const closeStarted = Date.now();
    await s.server.close();
    expect(Date.now() - closeStarted).toBeLessThan(3000);
    expect(aborted).toBe(true);
    const error = await call;
    expect(error?.code).toBe(Code.Unavailable);
    expect(error?.rawMessage).toBe("the server is shutting down");
  });

  it("can be closed before it ever listened, and twice", async () => {
    const s = await startFakeServer();
    await Promise.all([s.server.close(), s.server.close()]);
    await s.server.close();
  });
});
