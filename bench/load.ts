/**
 * Load generators. Closed loop: `concurrency` workers, each sending its next
 * call when the last answers (throughput at a given concurrency). Open loop:
 * calls scheduled at a fixed rate whatever the answers, so latency at a
 * given load can be read (see runPaced).
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { Recorder, type RunStats } from "./stats.js";

export type Call = () => Promise<unknown>;
/** The next call of a closed-loop worker (its index), or of the open loop (the call's index). */
export type NextCall = (index: number) => Call;

export interface LoadWindow {
  readonly warmupS: number;
  readonly durationS: number;
  /** Items (entries) each call carries, for throughput in items/s. */
  readonly itemsPerCall?: number;
}

/** Runs `next()` calls for warmupS (not recorded), then for durationS (recorded). */
export async function runLoad(
  next: NextCall,
  concurrency: number,
  window: LoadWindow,
  onMeasureStart: () => void,
): Promise<RunStats> {
  const warmupEnd = performance.now() + window.warmupS * 1000;
  await workers(concurrency, warmupEnd, next, undefined);
  onMeasureStart();
  const recorder = new Recorder(window.itemsPerCall);
  const start = performance.now();
  await workers(concurrency, start + window.durationS * 1000, next, recorder);
  return recorder.summary((performance.now() - start) / 1000);
}

async function workers(
  concurrency: number,
  endMs: number,
  next: NextCall,
  recorder: Recorder | undefined,
): Promise<void> {
  const worker = async (index: number): Promise<void> => {
    while (performance.now() < endMs) {
      const call = next(index);
      const start = performance.now();
      try {
        await call();
        recorder?.ok(performance.now() - start);
      } catch (error) {
        recorder?.failed(error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, index) => worker(index)));
}

/**
 * Open loop: one call every 1/ratePerS seconds, for warmupS (not recorded)
 * then durationS (recorded). At most inFlightMax calls are outstanding; a
 * call due while all are busy waits for one, and its latency is counted from
 * when it was due, not from when it went out (no coordinated omission: a
 * server that stalls is charged for every call it delayed). Throughput is
 * the completed calls over durationS, so below ratePerS means the server
 * could not keep up.
 */
export async function runPaced(
  next: NextCall,
  ratePerS: number,
  inFlightMax: number,
  window: LoadWindow,
  onMeasureStart: () => void,
): Promise<RunStats> {
  await paced(next, ratePerS, inFlightMax, window.warmupS, undefined);
  onMeasureStart();
  const recorder = new Recorder(window.itemsPerCall);
  await paced(next, ratePerS, inFlightMax, window.durationS, recorder);
  return recorder.summary(window.durationS);
}

async function paced(
  next: NextCall,
  ratePerS: number,
  inFlightMax: number,
  durationS: number,
  recorder: Recorder | undefined,
): Promise<void> {
  const intervalMs = 1000 / ratePerS;
  const start = performance.now();
  const callsMax = Math.floor(durationS * ratePerS);
  /** Due times of calls waiting for a free slot; at most callsMax. */
  const waiting: number[] = [];
  const outstanding = new Set<Promise<void>>();
  let launched = 0;
  const launch = (dueMs: number): void => {
    const call = next(launched);
    launched += 1;
    const done: Promise<void> = call().then(
      () => recorder?.ok(performance.now() - dueMs),
      (error: unknown) => recorder?.failed(error),
    );
    outstanding.add(done);
    void done.finally(() => {
      outstanding.delete(done);
      const due = waiting.shift();
      if (due !== undefined) {
        launch(due);
      }
    });
  };
  for (let sent = 0; sent < callsMax; sent += 1) {
    const dueMs = start + sent * intervalMs;
    const aheadMs = dueMs - performance.now();
    if (aheadMs >= 1) {
      await sleep(aheadMs);
    }
    if (outstanding.size < inFlightMax) {
      launch(dueMs);
    } else {
      waiting.push(dueMs);
    }
  }
  while (outstanding.size > 0 || waiting.length > 0) {
    await Promise.race(outstanding);
  }
}
