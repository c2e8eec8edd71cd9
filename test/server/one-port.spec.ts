/**
 * One plaintext port serves every client: gRPC over h2c (grpc-js and
 * connect-node), Connect over HTTP/1.1 and HTTP/2, and gRPC-Web over fetch.
 * The sniffer copes with a preface split across packets, and closes sockets
 * that never say anything.
 */
import * as net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import {
  connectClient,
  grpcClient,
  grpcJsCall,
  grpcJsClient,
  grpcWebClient,
  type PlumbingServer,
  startPlumbingServer,
} from "./harness.js";

const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";

let s: PlumbingServer;
beforeAll(async () => {
  s = await startPlumbingServer({ sniffTimeoutMs: 300 });
});
afterAll(async () => {
  await s?.close();
});

describe("one port, every protocol", () => {
  it("answers grpc-js, gRPC, Connect (HTTP/1.1 and HTTP/2) and gRPC-Web about the same ledger", async () => {
    const grpcJs = grpcJsClient(`127.0.0.1:${s.port}`);
    try {
      const created = await grpcJsCall<{ ledger: { id: string; balance: string } }>(
        grpcJs,
        "createLedger",
        { app: "content", ownerId: "u-1", unit: "CREDITS", idempotencyKey: "k-1" },
      );
      const ledgerId = created.ledger.id;
      expect(created.ledger.balance).toBe("0");

      for (const client of [
        connectClient(s.url, "1.1"),
        connectClient(s.url, "2"),
        grpcClient(s.url),
        grpcWebClient(s.url),
      ]) {
        const { ledger } = await client.getLedger({ ledgerId });
        expect(ledger?.id).toBe(ledgerId);
        expect(ledger?.ownerId).toBe("u-1");
      }
      const got = await grpcJsCall<{ ledger: { id: string } }>(grpcJs, "getLedger", { ledgerId });
      expect(got.ledger.id).toBe(ledgerId);
    } finally {
      grpcJs.close();
    }
  });

  it("gives grpc-js the code and an ErrorInfo in grpc-status-details-bin", async () => {
    const grpcJs = grpcJsClient(`127.0.0.1:${s.port}`);
    try {
      const error = await grpcJsCall(grpcJs, "getLedger", { ledgerId: UNKNOWN_ID }).then(
        () => undefined,
        (e: grpc.ServiceError) => e,
      );
      expect(error?.code).toBe(grpc.status.NOT_FOUND);
      const [bin] = error?.metadata.get("grpc-status-details-bin") ?? [];
      const status = fromBinary(StatusSchema, bin as Buffer);
      expect(status.code).toBe(grpc.status.NOT_FOUND);
      const info = status.details[0] && anyUnpack(status.details[0], ErrorInfoSchema);
      expect(info).toMatchObject({
        domain: "ledger.v1",
        reason: "LEDGER_NOT_FOUND",
        metadata: { ledger_id: UNKNOWN_ID },
      });
    } finally {
      grpcJs.close();
    }
  });

  it("gives Connect and gRPC-Web clients the same code and ErrorInfo", async () => {
    for (const client of [connectClient(s.url, "1.1"), grpcWebClient(s.url)]) {
      const error = await client.getLedger({ ledgerId: UNKNOWN_ID }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(error?.code).toBe(Code.NotFound);
      expect(error?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("LEDGER_NOT_FOUND");
    }
  });

  it("echoes the caller's x-request-id, and generates one otherwise", async () => {
    const client = connectClient(s.url, "1.1");
    const seen: (string | null)[] = [];
    const onHeader = (headers: Headers) => seen.push(headers.get("x-request-id"));
    await client.listLedgers(
      { app: "content" },
      { headers: { "x-request-id": "abc-123" }, onHeader },
    );
    await client.listLedgers({ app: "content" }, { onHeader });
    expect(seen[0]).toBe("abc-123");
    expect(seen[1]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers 404 for a path that is not an RPC", async () => {
    const response = await fetch(`${s.url}/nothing/here`, { method: "POST" });
    expect(response.status).toBe(404);
  });
});

describe("protocol sniffing", () => {
  it("waits for a preface split across packets, then speaks HTTP/2", async () => {
    const socket = net.connect(s.port, "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    const firstFrame = new Promise<Buffer>((resolve) => socket.once("data", resolve));
    socket.write("PRI * HTTP/2.0\r\n");
    await sleep(50);
    socket.write("\r\nSM\r\n\r\n");
    // An empty SETTINGS frame: length 0, type 4, flags 0, stream 0.
    socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
    const frame = await firstFrame;
    expect(frame[3]).toBe(4); // the server's own SETTINGS frame
    socket.destroy();
  });

  it("tells HTTP/1.1 apart even when its first byte also starts the preface", async () => {
    const { ledger } = await connectClient(s.url, "2").createLedger({
      app: "content",
      ownerId: "u-sniff",
      unit: "CREDITS",
      idempotencyKey: "k-sniff",
    });
    const socket = net.connect(s.port, "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    const ended = new Promise((resolve) => socket.once("end", resolve));
    const body = JSON.stringify({ app: "content", ownerId: "u-sniff" });
    socket.write("P");
    await sleep(50);
    socket.write(
      "OST /ledger.v1.LedgerService/ListLedgers HTTP/1.1\r\n" +
        "Host: localhost\r\nContent-Type: application/json\r\nConnection: close\r\n" +
        `Content-Length: ${body.length}\r\n\r\n${body}`,
    );
    await ended;
    const response = Buffer.concat(chunks).toString("utf8");
    expect(response).toMatch(/^HTTP\/1\.1 200 /);
    expect(response).toContain(`"id":"${ledger?.id}"`);
  });

  it("closes a connection that sends nothing within the sniff timeout", async () => {
    const socket = net.connect(s.port, "127.0.0.1");
    const started = Date.now();
    await new Promise((resolve) => socket.once("close", resolve));
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
