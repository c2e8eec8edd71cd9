import { LedgerError } from "../domain/index.js";

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

  async run<T>(
    waitMsMax: number,
    signal: AbortSignal | undefined,
    work: () => Promise<T>,
  ): Promise<T> {
    await this.acquire(waitMsMax, signal);
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private acquire(waitMsMax: number, signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    if (this.active < this.permits) {
      this.active += 1;
      return Promise.resolve();
    }
    if (this.waiters.length >= this.waitersMax) {
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

function overloaded(cause: "queue_full" | "queue_wait", why: string): LedgerError {
  return new LedgerError(
    "OVERLOADED",
    `the ledger is overloaded (${why}); retry later with the same idempotency key`,
    { cause },
  );
}
