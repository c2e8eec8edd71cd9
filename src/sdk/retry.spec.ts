/**
 * The retry policy: defaults, bounds refused at configuration, and full
 * jitter, a delay uniform in [0, min(max, initial * 2^(retry-1))].
 */
import { describe, expect, it } from "vitest";
import { backoffDelayMs, resolveRetryPolicy } from "./retry.js";

describe("retry policy", () => {
  it("defaults to 3 attempts, 100 ms doubling, capped at 2 s", () => {
    expect(resolveRetryPolicy(undefined)).toEqual({
      attemptsMax: 3,
      backoffMsInitial: 100,
      backoffMsMax: 2000,
    });
  });

  it("refuses unbounded or nonsensical settings", () => {
    expect(() => resolveRetryPolicy({ attemptsMax: 0 })).toThrow(RangeError);
    expect(() => resolveRetryPolicy({ attemptsMax: 11 })).toThrow(/attemptsMax/);
    expect(() => resolveRetryPolicy({ attemptsMax: 1.5 })).toThrow(RangeError);
    expect(() => resolveRetryPolicy({ backoffMsInitial: 500, backoffMsMax: 100 })).toThrow(
      /backoffMsMax/,
    );
  });

  it("draws each delay uniformly between 0 and the capped exponential ceiling", () => {
    const policy = resolveRetryPolicy({ backoffMsInitial: 100, backoffMsMax: 1000 });
    const ceiling = (retry: number) => backoffDelayMs(policy, retry, () => 0.999_999_9);
    expect([1, 2, 3, 4, 5, 10].map(ceiling)).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelayMs(policy, 3, () => 0)).toBe(0);
    expect(backoffDelayMs(policy, 3, () => 0.5)).toBe(200);
  });
});
