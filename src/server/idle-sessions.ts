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
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => closeIdle(session), idleTimeoutMs);
    timer.unref();
  };
  session.on("stream", (stream: ServerHttp2Stream) => {
    openStreams += 1;
    clearTimeout(timer);
    stream.once("close", () => {
      openStreams -= 1;
      if (openStreams === 0 && !session.closed) {
        arm();
      }
    });
  });
  session.once("close", () => clearTimeout(timer));
  arm();
}

function closeIdle(session: Http2Session): void {
  session.close();
  // A peer that never reads can keep the GOAWAY from being written.
  setTimeout(() => session.destroy(), CLOSE_GRACE_MS).unref();
}
