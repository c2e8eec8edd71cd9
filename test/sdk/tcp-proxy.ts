/**
 * A real TCP proxy in front of the test server that can lose responses: for
 * the connections it is told to, it forwards the request to the server (so
 * the server does the work) and then cuts the connection as the response
 * starts, so the client sees a transport failure after the write happened.
 * It counts the calls (HTTP/1.1 request lines, HTTP/2 HEADERS frames opened
 * by the client) that reach the server.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const H2_FRAME_HEADER_BYTES = 9;
const H2_HEADERS = 0x1;

/** What the proxy does with the n-th connection (0-based). */
export type ConnectionPlan = (connectionIndex: number) => "forward" | "cut-response";

export interface TestProxy {
  readonly url: string;
  /** Connections accepted so far. */
  connections(): number;
  /** Calls that reached the server so far. */
  calls(): number;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number, plan: ConnectionPlan): Promise<TestProxy> {
  let connections = 0;
  let calls = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const index = connections++;
    const cut = plan(index) === "cut-response";
    const upstream = tcpConnect(targetPort, "127.0.0.1");
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
    }
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", closeBoth);
    upstream.on("close", closeBoth);

    const requests = new RequestCounter(() => {
      calls += 1;
    });
    const responses = new ResponseWatcher();
    client.on("data", (chunk: Buffer) => {
      requests.push(chunk);
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (cut && responses.startsResponse(chunk)) {
        closeBoth();
        return;
      }
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") {
    throw new Error("the proxy has no TCP address");
  }
  return {
    url: `http://127.0.0.1:${address.port}`,
    connections: () => connections,
    calls: () => calls,
    async close() {
      for (const socket of sockets) {
        socket.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Finds where each call starts in the client's bytes, HTTP/1.1 or HTTP/2 alike. */
class RequestCounter {
  private buffer: Buffer = Buffer.alloc(0);
  private protocol: "unknown" | "h1" | "h2" = "unknown";

  constructor(private readonly onCall: () => void) {}

  push(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (this.protocol === "unknown") {
      if (this.buffer.length < H2_PREFACE.length) {
        return;
      }
      this.protocol = this.buffer.subarray(0, H2_PREFACE.length).equals(H2_PREFACE) ? "h2" : "h1";
      if (this.protocol === "h2") {
        this.buffer = this.buffer.subarray(H2_PREFACE.length);
      }
    }
    if (this.protocol === "h1") {
      // Bodies here are protobuf or JSON: "POST /" only starts a request line.
      // The last 5 bytes stay buffered, for a "POST /" split across chunks.
      const text = this.buffer.toString("latin1");
      for (let i = 0; i < text.split("POST /").length - 1; i++) {
        this.onCall();
      }
      this.buffer = Buffer.from(text.slice(-5), "latin1");
      return;
    }
    for (const frame of readFrames(this)) {
      if (frame.type === H2_HEADERS && frame.streamId % 2 === 1) {
        this.onCall();
      }
    }
  }

  /** For readFrames: the unread bytes. */
  get pending(): Buffer {
    return this.buffer;
  }

  set pending(rest: Buffer) {
    this.buffer = rest;
  }
}

/** Tells the first byte of a response: any byte on HTTP/1.1, a HEADERS frame on HTTP/2. */
class ResponseWatcher {
  private buffer: Buffer = Buffer.alloc(0);
  private protocol: "unknown" | "h1" | "h2" = "unknown";

  startsResponse(chunk: Buffer): boolean {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (this.protocol === "unknown") {
      if (this.buffer.length < H2_FRAME_HEADER_BYTES) {
        return false;
      }
      // An HTTP/2 server speaks first with a SETTINGS frame (type 4); an HTTP/1.1 one with "HTTP/1.1".
      this.protocol = this.buffer.subarray(0, 4).toString("latin1") === "HTTP" ? "h1" : "h2";
    }
    if (this.protocol === "h1") {
      return true;
    }
    return readFrames(this).some((frame) => frame.type === H2_HEADERS && frame.streamId !== 0);
  }

  get pending(): Buffer {
    return this.buffer;
  }

  set pending(rest: Buffer) {
    this.buffer = rest;
  }
}

/** Whole HTTP/2 frames at the front of `source.pending`, consumed. */
function readFrames(source: { pending: Buffer }): { type: number; streamId: number }[] {
  const frames: { type: number; streamId: number }[] = [];
  let buffer = source.pending;
  while (buffer.length >= H2_FRAME_HEADER_BYTES) {
    const length = buffer.readUIntBE(0, 3);
    if (buffer.length < H2_FRAME_HEADER_BYTES + length) {
      break;
    }
    frames.push({ type: buffer.readUInt8(3), streamId: buffer.readUInt32BE(5) & 0x7fffffff });
    buffer = buffer.subarray(H2_FRAME_HEADER_BYTES + length);
  }
  source.pending = buffer;
  return frames;
}
