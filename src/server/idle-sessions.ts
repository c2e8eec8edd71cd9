import type { Http2Session, ServerHttp2Stream } from "node:http2";

/** How long a session told to close (GOAWAY) may take before it is destroyed. */
const CLOSE_GRACE_MS = 1000;

/**
 * Closes an HTTP/2 session that has had no open stream for `idleTimeoutMs`:
 * a GOAWAY, then the connection. Open streams count, traffic does not: a
 * health Watch silent for an hour is in use, while a client that only sends
 * PINGs (or nothing after its preface) holds a connection for nothing.
 */
export function closeWhenIdle(session: Http2Session, idleTimeoutMs: number): void {
  let openStreams = 0;
  let timer: NodeJS.Timeout | undefined;
  const after = (delayMs: number, action: () => void) => {
    clearTimeout(timer);
    timer = setTimeout(action, delayMs);
    timer.unref();
  };
  const close = () => {
    session.close();
    // A peer that never reads can keep the GOAWAY from being written; a
    // stream that slipped in before it is left to finish.
    after(CLOSE_GRACE_MS, () => {
      if (openStreams === 0) {
        session.destroy();
      }
    });
  };
  session.on("stream", (stream: ServerHttp2Stream) => {
    openStreams += 1;
    clearTimeout(timer);
    stream.once("close", () => {
      openStreams -= 1;
      if (openStreams === 0 && !session.closed) {
        after(idleTimeoutMs, close);
      }
    });
  });
  session.once("close", () => clearTimeout(timer));
  after(idleTimeoutMs, close);
}
