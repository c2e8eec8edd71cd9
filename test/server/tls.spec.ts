/**
 * With TLS_CERT_FILE and TLS_KEY_FILE the same single port speaks TLS, and
 * ALPN picks HTTP/2 (gRPC, Connect) or HTTP/1.1 (Connect, gRPC-Web). Idle
 * HTTP/2 sessions are closed there too.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { grpcJsCall, grpcJsClient, type PlumbingServer, startPlumbingServer } from "./harness.js";

function opensslMissing(): string | undefined {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return undefined;
  } catch {
    return "openssl is not installed: cannot make a self-signed certificate";
  }
}

const skipReason = opensslMissing();
if (skipReason !== undefined) {
  console.warn(`skipping the TLS spec: ${skipReason}`);
}

describe.skipIf(skipReason !== undefined)("TLS on the one port", () => {
  let dir: string;
  let cert: Buffer;
  let certFile: string;
  let keyFile: string;
  let s: PlumbingServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ledger-tls-"));
    certFile = join(dir, "cert.pem");
    keyFile = join(dir, "key.pem");
    execFileSync(
      "openssl",
      [
        ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"],
        ...["-keyout", keyFile, "-out", certFile, "-subj", "/CN=localhost"],
        ...["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
      ],
      { stdio: "ignore" },
    );
    cert = readFileSync(certFile);
    s = await startPlumbingServer({ config: { tls: { certFile, keyFile } } });
  });

  afterAll(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reports an https URL", () => {
    expect(s.url).toBe(`https://127.0.0.1:${s.port}`);
  });

  it("serves Connect over HTTP/2 and HTTP/1.1, gRPC and gRPC-Web", async () => {
    const transports = [
      createConnectTransport({ baseUrl: s.url, httpVersion: "2", nodeOptions: { ca: cert } }),
      createConnectTransport({ baseUrl: s.url, httpVersion: "1.1", nodeOptions: { ca: cert } }),
      createGrpcTransport({ baseUrl: s.url, nodeOptions: { ca: cert } }),
      createGrpcWebTransport({ baseUrl: s.url, httpVersion: "1.1", nodeOptions: { ca: cert } }),
    ];
    for (const [i, transport] of transports.entries()) {
      const client = createClient(LedgerService, transport);
      const { ledger } = await client.createLedger({
        app: "content",
        ownerId: `tls-${i}`,
        unit: "CREDITS",
        idempotencyKey: `k-${i}`,
      });
      const got = await client.getLedger({ ledgerId: ledger?.id ?? "" });
      expect(got.ledger?.ownerId).toBe(`tls-${i}`);
    }
  });

  it("serves grpc-js with TLS credentials", async () => {
    const client = grpcJsClient(`localhost:${s.port}`, grpc.credentials.createSsl(cert));
    try {
      const created = await grpcJsCall<{ ledger: { id: string } }>(client, "createLedger", {
        app: "content",
        ownerId: "tls-grpc-js",
        unit: "CREDITS",
        idempotencyKey: "k-grpc-js",
      });
      const listed = await grpcJsCall<{ ledgers: { id: string }[] }>(client, "listLedgers", {
        app: "content",
        ownerId: "tls-grpc-js",
      });
      expect(listed.ledgers.map((l) => l.id)).toEqual([created.ledger.id]);
    } finally {
      client.close();
    }
  });

  it("sends a GOAWAY to an HTTP/2 session idle for HTTP2_IDLE_TIMEOUT_MS, and closes it", async () => {
    const idle = await startPlumbingServer({
      config: { tls: { certFile, keyFile }, http2IdleTimeoutMs: 300 },
    });
    const session = http2.connect(idle.url, { ca: cert });
    try {
      session.on("error", () => {});
      const goaway = new Promise<void>((resolve) => session.once("goaway", () => resolve()));
      const closed = new Promise<void>((resolve) => session.once("close", () => resolve()));
      const within5s = (p: Promise<void>) => Promise.race([p.then(() => true), sleep(5000, false)]);
      expect(await within5s(goaway)).toBe(true);
      expect(await within5s(closed)).toBe(true);
    } finally {
      session.destroy();
      await idle.close();
    }
  });

  it("shuts down gracefully with idle TLS connections open", async () => {
    const started = Date.now();
    await s.server.close();
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
