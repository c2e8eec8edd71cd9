import type { Socket } from "node:net";

/** The first bytes of every HTTP/2 connection without TLS (RFC 9113, 3.4). */
export const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export interface SniffHandlers {
  readonly http1: (socket: Socket) => void;
  readonly http2: (socket: Socket) => void;
  /** A socket that sent nothing decisive within the timeout is destroyed. */
  readonly timeoutMs: number;
}

/**
 * Decides from its first bytes whether a plaintext connection speaks HTTP/2
 * (the preface) or HTTP/1.x, then hands it over with those bytes pushed back.
 * The socket stays in paused mode throughout: reading it with 'data' events
 * would switch it to flowing mode, which HTTP/2 sessions do not survive.
 */
export function sniffProtocol(socket: Socket, handlers: SniffHandlers): void {
  let received: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), handlers.timeoutMs);
  timer.unref();

  // An error, or the peer closing before deciding, ends the connection.
  const onGone = () => socket.destroy();
  const stopSniffing = () => {
    clearTimeout(timer);
    socket.off("readable", onReadable);
    socket.off("error", onGone);
    socket.off("end", onGone);
    socket.off("close", stopSniffing);
  };
  const onReadable = () => {
    for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read()) {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
    }
    const compared = Math.min(received.length, HTTP2_PREFACE.length);
    const isPrefacePrefix = received
      .subarray(0, compared)
      .equals(HTTP2_PREFACE.subarray(0, compared));
    if (compared === 0 || (isPrefacePrefix && received.length < HTTP2_PREFACE.length)) {
      socket.once("readable", onReadable);
      return;
    }
    stopSniffing();
    socket.unshift(received);
    if (isPrefacePrefix) {
      handlers.http2(socket);
    } else {
      handlers.http1(socket);
    }
  };

  socket.on("error", onGone);
  socket.once("end", onGone);
  socket.once("close", stopSniffing);
  socket.once("readable", onReadable);
}
