import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse, Http2Session } from "node:http2";
import type { Socket } from "node:net";
import { closeWhenIdle } from "./idle-sessions.js";

/**
 * Every connection of one server, so that shutdown can be graceful: HTTP/2
 * sessions get a GOAWAY and finish their streams, idle HTTP/1 connections
 * close at once, busy ones right after their response. HTTP/2 sessions
 * without an open stream for `http2IdleTimeoutMs` are closed meanwhile.
 */
export class ConnectionTracker {
  private readonly sockets = new Set<Socket>();
  /** Plaintext connections whose protocol is not known yet. */
  private readonly sniffing = new Set<Socket>();
  private readonly sessions = new Set<Http2Session>();
  /** HTTP/1 connections, with the number of their requests in progress. */
  private readonly http1 = new Map<Socket, number>();
  private closing = false;

  constructor(private readonly http2IdleTimeoutMs: number) {}

  /** A raw connection, whatever it turns out to speak. */
  addSocket(socket: Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => {
      this.sockets.delete(socket);
      this.sniffing.delete(socket);
    });
  }

  /** A plaintext connection being sniffed; `sniffed` ends that phase. */
  addSniffing(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.sniffing.add(socket);
  }

  sniffed(socket: Socket): void {
    this.sniffing.delete(socket);
  }

  addHttp1Socket(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (!this.http1.has(socket)) {
      this.http1.set(socket, 0);
      socket.once("close", () => this.http1.delete(socket));
    }
  }

  addSession(session: Http2Session): void {
    this.sessions.add(session);
    session.once("close", () => this.sessions.delete(session));
    if (this.closing) {
      session.close();
      return;
    }
    closeWhenIdle(session, this.http2IdleTimeoutMs);
  }

  /** Wraps each request to know when an HTTP/1 connection is idle. */
  trackRequest(
    req: IncomingMessage | Http2ServerRequest,
    res: ServerResponse | Http2ServerResponse,
  ): void {
    if (req.httpVersionMajor !== 1) {
      return;
    }
    const socket = req.socket;
    this.addHttp1Socket(socket);
    this.http1.set(socket, (this.http1.get(socket) ?? 0) + 1);
    if (this.closing && !res.headersSent) {
      res.setHeader("connection", "close");
    }
    res.once("close", () => {
      const inFlight = (this.http1.get(socket) ?? 1) - 1;
      this.http1.set(socket, inFlight);
      if (this.closing && inFlight === 0) {
        socket.end();
      }
    });
  }

  /** Stops new work: GOAWAY to every session, idle HTTP/1 connections closed. */
  beginShutdown(): void {
    this.closing = true;
    for (const socket of this.sniffing) {
      socket.destroy();
    }
    for (const session of this.sessions) {
      session.close();
    }
    for (const [socket, inFlight] of this.http1) {
      if (inFlight === 0) {
        socket.end();
      }
    }
  }

  destroyAll(): void {
    for (const session of this.sessions) {
      session.destroy();
    }
    for (const socket of this.sockets) {
      socket.destroy();
    }
  }
}
