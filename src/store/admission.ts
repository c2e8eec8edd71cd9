import { type CallOptions, LedgerError } from "../domain/index.js";

/**
 * Admits at most `permits` units of work to the connection pool at once and
 * queues the rest, each for a bounded time, in a bounded queue. The pool then
 * never makes a caller wait for a connection, so its connect timeout measures
 * only a database that does not answer, and a burst of calls waits its turn
 * instead of being mistaken for an outage: a caller refused here is told
 * OVERLOADED, never STORE_UNAVAILABLE.
 */
export class Admission {
  private active = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(
    private readonly permits: number,
    private readonly waitersMax: number,
  ) {}

  /** Units of work waiting for a permit now. */
  get waiting(): number {
    return this.waiters.length;
  }

  async run<T>(
    waitMsMax: number,
    signal: AbortSignal | undefined,
    work: () => Promise<T>,
  ): Promise<T> {
    await this.acquire(waitMsMax, signal, true);
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  /**
   * A permit for the write pipeline, which queues its calls itself (bounded
   * there) and waits here as one more waiter, never refused for a full queue.
   * Resolves to the permit's release.
   */
  async permit(waitMsMax: number): Promise<() => void> {
    await this.acquire(waitMsMax, undefined, false);
    let released = false;
    return () => {
      if (!released) {
        released = true;
        this.release();
      }
    };
  }

  private acquire(
    waitMsMax: number,
    signal: AbortSignal | undefined,
    capped: boolean,
  ): Promise<void> {
    signal?.throwIfAborted();
    if (this.active < this.permits) {
      this.active += 1;
      return Promise.resolve();
    }
    if (capped && this.waiters.length >= this.waitersMax) {
      return Promise.reject(
        overloaded("queue_full", `${this.waitersMax} calls are already waiting`),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const leave = () => {
        const index = this.waiters.indexOf(admit);
        if (index >= 0) {
          this.waiters.splice(index, 1);
        }
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const admit = () => {
        leave();
        this.active += 1;
        resolve();
      };
      const onAbort = () => {
        leave();
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        leave();
        reject(
          overloaded("queue_wait", `no database connection became free within ${waitMsMax} ms`),
        );
      }, waitMsMax);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(admit);
    });
  }

  private release(): void {
    this.active -= 1;
    this.waiters[0]?.();
  }
}

export function overloaded(cause: "queue_full" | "queue_wait", why: string): LedgerError {
  return new LedgerError(
    "OVERLOADED",
    `the ledger is overloaded (${why}); retry later with the same idempotency key`,
    { cause },
  );
}

/**
 * How long a call may wait for a connection: the configured maximum, or its
 * own deadline when that is sooner. A call with a signal (every RPC: its
 * deadline aborts it) waits up to the maximum and its signal ends the wait at
 * the deadline, so the caller hears its own DEADLINE_EXCEEDED or CANCELED,
 * not OVERLOADED; only a deadline without a signal needs a shorter timer.
 */
export function queueWaitMs(waitMsMax: number, options: CallOptions | undefined): number {
  const deadlineMs = options?.timeoutMs;
  if (deadlineMs === undefined || options?.signal !== undefined) {
    return waitMsMax;
  }
  return Math.max(1, Math.min(waitMsMax, Math.floor(deadlineMs)));
}
