import type { Logger } from "pino";
import type { LedgerStore } from "../domain/index.js";

export interface HoldSweep {
  /** Stops scheduling sweeps and waits for the one running, if any. */
  stop(): Promise<void>;
}

/**
 * Expires the holds past their deadline every `intervalMs` (0: never), one
 * sweep at a time. The store locks each hold before it expires it, so
 * several processes sweeping one database expire each hold once; a failed
 * sweep (the database away) is logged and the next one tries again.
 */
export function startHoldSweep(store: LedgerStore, intervalMs: number, logger: Logger): HoldSweep {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = intervalMs === 0;
  const sweep = async () => {
    try {
      const expired = await store.expireHolds({ timeoutMs: Math.max(intervalMs, 5000) });
      if (expired > 0) {
        logger.info({ expired }, "holds expired");
      }
    } catch (error) {
      logger.warn({ err: error }, "hold sweep failed; the next one retries");
    }
  };
  const schedule = () => {
    if (stopped) {
      return;
    }
    timer = setTimeout(() => {
      running = sweep().finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
