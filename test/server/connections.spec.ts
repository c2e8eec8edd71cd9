/**
 * Connections are bounded. An HTTP/2 session with no open stream for
 * HTTP2_IDLE_TIMEOUT_MS gets a GOAWAY and is closed, whether it only sent the
 * preface (a raw socket) or is a real client gone quiet; a session holding a
 * health Watch open is not idle however silent. Past CONNECTIONS_MAX open
 * connections, a new one is closed at once and the refusals are logged once,
 * not once each; when a connection closes, the next one is served.
 */
import * as http2 from "node:http2";
import * as net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { HTTP2_PREFACE } from "../../src/server/sniff.js";
import { connectClient, type PlumbingServer, startPlumbingServer } from "./harness.js";

const IDLE_TIMEOUT_MS = 300;
/** Generous: a session closed within this was closed by the idle timeout, not by luck. */
const CLOSE_WITHIN_MS = 5000;
const GOAWAY_FRAME_TYPE = 0x7;

const servers: PlumbingServer[] = [];
const sockets: net.Socket[] = [];
const sessions: http2.ClientHttp2Session[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) {
    socket.destroy();
  }
  for (const session of sessions.splice(0)) {
    session.destroy();
  }
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(config: { http2IdleTimeoutMs?: number; connectionsMax?: number }) {
  const s = await startPlumbingServer({ config });
  servers.push(s);
  return s;
}

/** A raw TCP connection, with everything it receives and whether it closed. */
function rawConnection(port: number) {
  const socket = net.connect(port, "127.0.0.1");
  sockets.push(socket);
  const received: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => received.push(chunk));
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  const connected = new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  return { socket, connected, closed, received: () => Buffer.concat(received) };
}

/** The types of the HTTP/2 frames in `bytes` (RFC 9113, 4.1). */
function frameTypes(bytes: Buffer): number[] {
  const types: number[] = [];
  for (let at = 0; at + 9 <= bytes.length; at += 9 + bytes.readUIntBE(at, 3)) {
    types.push(bytes.readUInt8(at + 3));
  }
  return types;
}

/** True when `promise` settles within `ms`. */
function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([promise.then(() => true), sleep(ms, false)]);
}

function h2Client(url: string) {
  const session = http2.connect(url);
  sessions.push(session);
  session.on("error", () => {});
  const goaway = new Promise<void>((resolve) => session.once("goaway", () => resolve()));
  const closed = new Promise<void>((resolve) => session.once("close", () => resolve()));
  return { session, goaway, closed };
}

/** A grpc.health.v1.Health/Watch stream for the whole server, open until closed. */
function openWatch(session: http2.ClientHttp2Session) {
  const stream = session.request({
    ":method": "POST",
    ":path": "/grpc.health.v1.Health/Watch",
    "content-type": "application/grpc",
    te: "trailers",
  });
  stream.on("error", () => {});
  // The one request message: not compressed, 0 bytes long (service "").
  stream.end(Buffer.alloc(5));
  const firstAnswer = new Promise<void>((resolve) => stream.once("data", () => resolve()));
  const ended = new Promise<void>((resolve) => stream.once("close", () => resolve()));
  return { stream, firstAnswer, ended };
}

describe("idle HTTP/2 sessions", () => {
  it("closes a connection that sent only the preface, with a GOAWAY, after HTTP2_IDLE_TIMEOUT_MS", async () => {
    const s = await start({ http2IdleTimeoutMs: IDLE_TIMEOUT_MS });
    const raw = rawConnection(s.port);
    await raw.connected;
    const started = Date.now();
    raw.socket.write(HTTP2_PREFACE);
    expect(await within(raw.closed, CLOSE_WITHIN_MS)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS - 50);
    expect(frameTypes(raw.received())).toContain(GOAWAY_FRAME_TYPE);
  });

  it("closes a real client's session once it has had no open stream for the idle time", async () => {
    const s = await start({ http2IdleTimeoutMs: IDLE_TIMEOUT_MS });
    const client = h2Client(s.url);
    expect(await within(client.goaway, CLOSE_WITHIN_MS)).toBe(true);
    expect(await within(client.closed, CLOSE_WITHIN_MS)).toBe(true);
  });

  it("keeps a session with an open health Watch however long it is silent, and closes it after the Watch ends", async () => {
    const s = await start({ http2IdleTimeoutMs: IDLE_TIMEOUT_MS });
    const client = h2Client(s.url);
    const watch = openWatch(client.session);
    await watch.firstAnswer;
    expect(await within(client.goaway, 4 * IDLE_TIMEOUT_MS)).toBe(false);
    expect(client.session.closed).toBe(false);
    watch.stream.close(http2.constants.NGHTTP2_CANCEL);
    await watch.ended;
    expect(await within(client.closed, CLOSE_WITHIN_MS)).toBe(true);
  });
});

describe("CONNECTIONS_MAX", () => {
  it("closes connections over the cap at once, logs the refusals once, and serves again below it", async () => {
    const s = await start({ connectionsMax: 2 });
    const held = [rawConnection(s.port), rawConnection(s.port)];
    await Promise.all(held.map((c) => c.connected));
    const extra = [rawConnection(s.port), rawConnection(s.port), rawConnection(s.port)];
    for (const connection of extra) {
      expect(await within(connection.closed, 2000)).toBe(true);
    }
    expect(await within(held[0]?.closed ?? Promise.resolve(), 200)).toBe(false);
    const refusalLines = s.log.lines().filter((line) => String(line.msg).includes("refused"));
    expect(refusalLines).toHaveLength(1);
    expect(refusalLines[0]).toMatchObject({ level: 40, connections_max: 2 });

    held[0]?.socket.destroy();
    await sleep(100);
    await expect(
      connectClient(s.url, "1.1").listLedgers({ app: "content", ownerId: "connections-nobody" }),
    ).resolves.toEqual(expect.objectContaining({ ledgers: [] }));
  });
});
