import type { Logger } from "pino";
import type { LedgerStore } from "../domain/index.js";

export interface Sweeps {
  /** Stops scheduling sweeps and waits for the ones running, if any. */
  stop(): Promise<void>;
}

/** One periodic task: what it does, and how it reports what it did. */
interface SweepTask {
  readonly name: string;
  readonly intervalMs: number;
  run(timeoutMs: number): Promise<void>;
}

/**
 * The server's periodic sweeps: holds past their deadline marked EXPIRED,
 * and ledgers past their valid_until closed (expireLedgers). Each runs every
 * `intervalMs` (0: never), one run at a time. The store locks what it
 * expires, so several processes sweeping one database expire each thing
 * once; a failed run (the database away) is logged and the next one tries
 * again.
 */
export function startSweeps(
  store: LedgerStore,
  intervals: { readonly holdsMs: number; readonly ledgersMs: number },
  logger: Logger,
): Sweeps {
  const tasks: SweepTask[] = [
    {
      name: "hold",
      intervalMs: intervals.holdsMs,
      async run(timeoutMs) {
        const expired = await store.expireHolds({ timeoutMs });
        if (expired > 0) {
          logger.info({ expired }, "holds expired");
        }
      },
    },
    {
      name: "ledger expiry",
      intervalMs: intervals.ledgersMs,
      async run(timeoutMs) {
        for (const closed of await store.expireLedgers({ timeoutMs })) {
          logLedgerExpired(logger, closed);
        }
      },
    },
  ];
  const running = tasks.map((task) => schedule(task, logger));
  return {
    async stop() {
      await Promise.all(running.map((stop) => stop()));
    },
  };
}

/** What an expired ledger left: moved to its expire-to ledger, or stranded on it. */
export function logLedgerExpired(
  logger: Logger,
  closed: Awaited<ReturnType<LedgerStore["expireLedgers"]>>[number],
): void {
  const moved = closed.sweep?.amountMinor ?? 0n;
  const fields = {
    ledger_id: closed.ledger.id,
    app: closed.ledger.app,
    unit: closed.ledger.unit,
    moved_minor: moved.toString(),
    remaining_minor: closed.remainingMinor.toString(),
    expire_to_ledger_id: closed.ledger.expireToLedgerId,
  };
  if (closed.remainingMinor === 0n) {
    logger.info(fields, "ledger expired");
  } else {
    logger.warn(fields, "ledger expired with a balance left on it");
  }
}

/** Runs a task every intervalMs until stopped; returns the stop, which awaits the run in flight. */
function schedule(task: SweepTask, logger: Logger): () => Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = task.intervalMs === 0;
  const sweep = async () => {
    try {
      await task.run(Math.max(task.intervalMs, 5000));
    } catch (error) {
      logger.warn({ err: error }, `${task.name} sweep failed; the next one retries`);
    }
  };
  const next = () => {
    if (stopped) {
      return;
    }
    timer = setTimeout(() => {
      running = sweep().finally(next);
    }, task.intervalMs);
    timer.unref();
  };
  next();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}
