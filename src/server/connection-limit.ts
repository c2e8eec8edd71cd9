import type { Server } from "node:net";
import type { Logger } from "pino";

/** Refusals after the first are counted and logged at most once per interval. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

/**
 * Caps the open connections of `server` at `connectionsMax`: Node closes a
 * connection over the cap as soon as it is accepted (and emits "drop"). A
 * flood of refusals is logged as one line at once, then one count per
 * REFUSAL_LOG_INTERVAL_MS while it lasts, never a line per connection.
 */
export function limitConnections(server: Server, connectionsMax: number, logger: Logger): void {
  server.maxConnections = connectionsMax;
  let refusedSinceLog = 0;
  let quiet: NodeJS.Timeout | undefined;
  const startQuietInterval = () => {
    quiet = setTimeout(logCount, REFUSAL_LOG_INTERVAL_MS);
    quiet.unref();
  };
  const logCount = () => {
    quiet = undefined;
    if (refusedSinceLog > 0) {
      logger.warn(
        { connections_max: connectionsMax, refused: refusedSinceLog },
        `connections refused in the last ${REFUSAL_LOG_INTERVAL_MS} ms: CONNECTIONS_MAX open`,
      );
      refusedSinceLog = 0;
      startQuietInterval();
    }
  };
  server.on("drop", () => {
    if (quiet !== undefined) {
      refusedSinceLog += 1;
      return;
    }
    logger.warn(
      { connections_max: connectionsMax },
      "connection refused: CONNECTIONS_MAX open (further refusals are counted)",
    );
    startQuietInterval();
  });
  server.once("close", () => clearTimeout(quiet));
}
