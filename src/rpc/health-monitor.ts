import { setTimeout as sleep } from "node:timers/promises";
import type { CallOptions } from "../domain/index.js";

/** How often the database is pinged while at least one client watches. */
export const HEALTH_POLL_INTERVAL_MS_DEFAULT = 1000;
/** A ping that has not answered within this time counts as unreachable. */
export const HEALTH_PING_TIMEOUT_MS_DEFAULT = 2000;

export interface HealthMonitorOptions {
  /**
   * Resolves when the database answers; rejects otherwise (LedgerStore.ping).
   * A ping given up on is aborted, so that none waits on in a full queue.
   */
  readonly ping: (options: CallOptions) => Promise<void>;
  readonly pollIntervalMs?: number;
  readonly pingTimeoutMs?: number;
}

/**
 * Whether the service can serve: it can while its database answers a ping,
 * and cannot from the moment shutdown begins. Check pings now; watchers see
 * every change, found by pinging at a fixed interval while anyone watches.
 */
export interface HealthMonitor {
  /** Pings the database (concurrent callers share one ping) and returns whether it answered. */
  check(): Promise<boolean>;
  /**
   * The current state at once, then each change, until `signal` aborts or
   * shutdown, which yields a last `false` and ends.
   */
  watch(signal: AbortSignal): AsyncIterable<boolean>;
  /** From now on not serving; ends every watch. */
  shutdown(): void;
}

export function createHealthMonitor(options: HealthMonitorOptions): HealthMonitor {
  const pollIntervalMs = options.pollIntervalMs ?? HEALTH_POLL_INTERVAL_MS_DEFAULT;
  const pingTimeoutMs = options.pingTimeoutMs ?? HEALTH_PING_TIMEOUT_MS_DEFAULT;
  const stopped = new AbortController();
  let serving: boolean | undefined;
  let inFlight: Promise<boolean> | undefined;
  let watchers = 0;
  let polling = false;
  /** Settles on every change of `serving`, and on shutdown. */
  let wake = latch();

  const notify = (): void => {
    wake.resolve();
    wake = latch();
  };
  const update = (next: boolean): void => {
    if (serving !== next) {
      serving = next;
      notify();
    }
  };

  const check = (): Promise<boolean> => {
    if (stopped.signal.aborted) {
      return Promise.resolve(false);
    }
    inFlight ??= answersWithin(options.ping, pingTimeoutMs)
      .then((answered) => {
        if (!stopped.signal.aborted) {
          update(answered);
        }
        return answered && !stopped.signal.aborted;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };

  const poll = async (): Promise<void> => {
    polling = true;
    try {
      while (watchers > 0 && !stopped.signal.aborted) {
        await sleep(pollIntervalMs, undefined, { signal: stopped.signal }).catch(() => {});
        if (watchers > 0) {
          await check();
        }
      }
    } finally {
      polling = false;
    }
  };

  return {
    check,
    async *watch(cancel) {
      watchers++;
      if (!polling) {
        void poll();
      }
      const cancelled = aborted(cancel);
      try {
        let last = await check();
        yield last;
        while (!cancel.aborted && !stopped.signal.aborted) {
          await Promise.race([wake.promise, cancelled]);
          const now = serving === true && !stopped.signal.aborted;
          if (now !== last && !cancel.aborted) {
            last = now;
            yield now;
          }
        }
      } finally {
        watchers--;
      }
    },
    shutdown() {
      serving = false;
      stopped.abort();
      notify();
    },
  };
}

async function answersWithin(
  ping: (options: CallOptions) => Promise<void>,
  timeoutMs: number,
): Promise<boolean> {
  const timeout = new AbortController();
  try {
    return await Promise.race([
      ping({ timeoutMs, signal: timeout.signal }).then(
        () => true,
        () => false,
      ),
      sleep(timeoutMs, false, { signal: timeout.signal }),
    ]);
  } finally {
    timeout.abort();
  }
}

function latch(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => {};
  const promise = new Promise<void>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
    } else {
      signal.addEventListener("abort", () => resolve(), { once: true });
    }
  });
}
