import { setTimeout as sleep } from "node:timers/promises";
import type { PostmasterExit, RunningPostmaster } from "./postmaster.js";

/** Restarts in a row that may fail (or die young) before supervision gives up. */
const RESTART_ATTEMPTS_MAX = 6;
const BACKOFF_BASE_MS = 250;
const BACKOFF_CAP_MS = 5000;
/** A postmaster that ran this long before dying was healthy: its death starts a fresh count. */
const STABLE_UPTIME_MS = 30_000;

export interface SupervisionHooks {
  /** PostgreSQL ended without being asked to. */
  onDied(exit: PostmasterExit): void;
  /** A restart attempt failed; another follows after a backoff, unless this was the last. */
  onRestartFailed(error: unknown, attempt: number): void;
  onRestarted(attempt: number): void;
  /** Restarts kept failing: the caller should end, so an outer supervisor takes over. */
  onGaveUp(error: Error): void;
}

export interface Supervision {
  /** Stops supervising and stops PostgreSQL; resolves once it is gone. */
  stop(): Promise<void>;
}

/**
 * Keeps a postmaster running: when it dies, starts it again with bounded,
 * exponential backoff. The URL stays the same (same port, same data), so a
 * connection pool recovers by itself.
 */
export function supervise(
  first: RunningPostmaster,
  restart: () => Promise<RunningPostmaster>,
  hooks: SupervisionHooks,
): Supervision {
  let current: RunningPostmaster | undefined = first;
  let stopping = false;
  const stopped = new AbortController();

  const watch = async (): Promise<void> => {
    let failures = 0;
    while (current !== undefined) {
      const startedAtMs = Date.now();
      const exit = await current.exited;
      current = undefined;
      if (stopping) {
        return;
      }
      hooks.onDied(exit);
      failures = Date.now() - startedAtMs >= STABLE_UPTIME_MS ? 0 : failures;
      const restarted = await restartWithBackoff(failures);
      if (restarted === undefined) {
        return;
      }
      current = restarted.postmaster;
      failures = restarted.failures;
    }
  };

  const restartWithBackoff = async (
    failuresBefore: number,
  ): Promise<{ postmaster: RunningPostmaster; failures: number } | undefined> => {
    let lastError: unknown;
    for (let failures = failuresBefore; failures < RESTART_ATTEMPTS_MAX; failures += 1) {
      await sleep(Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** failures), undefined, {
        signal: stopped.signal,
      }).catch(() => {});
      if (stopping) {
        return undefined;
      }
      try {
        const postmaster = await restart();
        if (stopping) {
          await postmaster.stop();
          return undefined;
        }
        hooks.onRestarted(failures + 1);
        return { postmaster, failures: failures + 1 };
      } catch (error) {
        lastError = error;
        hooks.onRestartFailed(error, failures + 1);
      }
    }
    hooks.onGaveUp(
      new Error(
        `embedded PostgreSQL could not be kept running: ${RESTART_ATTEMPTS_MAX} restarts in a row failed or died young`,
        { cause: lastError },
      ),
    );
    return undefined;
  };

  const watching = watch();
  return {
    async stop() {
      stopping = true;
      stopped.abort();
      await current?.stop();
      await watching;
    },
  };
}
