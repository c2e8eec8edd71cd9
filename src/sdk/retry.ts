/**
 * The SDK's own retries: only UNAVAILABLE, ABORTED and RESOURCE_EXHAUSTED
 * with reason OVERLOADED (LedgerRpcError.retryable), a bounded number of
 * attempts, exponential backoff with full jitter, all within the call's
 * deadline. A write keeps its idempotency key across attempts, so a retry of
 * a write that did land is a replay, never a second effect.
 */

/** How the SDK retries a call. */
export interface RetryOptions {
  /** Attempts in all, the first included: 1 disables retries. 1..10, default 3. */
  readonly attemptsMax?: number | undefined;
  /** The backoff before the first retry, in ms (doubled each time). 1..60000, default 100. */
  readonly backoffMsInitial?: number | undefined;
  /** The cap of one backoff, in ms. >= backoffMsInitial, <= 60000, default 2000. */
  readonly backoffMsMax?: number | undefined;
}

/** RetryOptions with defaults filled and checked. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly attemptsMax: number;
  /** The backoff before the first retry, in ms. */
  readonly backoffMsInitial: number;
  /** The cap of one backoff, in ms. */
  readonly backoffMsMax: number;
}

/** Fills the defaults; throws RangeError when an option is out of bounds (at configuration, not at the first failure). */
export function resolveRetryPolicy(options: RetryOptions | undefined): RetryPolicy {
  const attemptsMax = integerIn("attemptsMax", options?.attemptsMax ?? 3, 1, 10);
  const backoffMsInitial = integerIn(
    "backoffMsInitial",
    options?.backoffMsInitial ?? 100,
    1,
    60_000,
  );
  const backoffMsMax = integerIn(
    "backoffMsMax",
    options?.backoffMsMax ?? Math.max(2000, backoffMsInitial),
    backoffMsInitial,
    60_000,
  );
  return { attemptsMax, backoffMsInitial, backoffMsMax };
}

/**
 * The wait before retry number `retry` (1 for the first retry): uniformly
 * random in [0, min(max, initial * 2^(retry-1))] ("full jitter"), so clients
 * that failed together do not retry together.
 *
 * @param random a source in [0, 1), Math.random by default
 */
export function backoffDelayMs(
  policy: RetryPolicy,
  retry: number,
  random: () => number = Math.random,
): number {
  const ceilingMs = Math.min(policy.backoffMsMax, policy.backoffMsInitial * 2 ** (retry - 1));
  return Math.floor(random() * (ceilingMs + 1));
}

function integerIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`retry.${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}
