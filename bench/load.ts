/** Closed-loop load: `concurrency` workers, each sending its next call when the last answers. */
import { performance } from "node:perf_hooks";
import { Recorder, type RunStats } from "./stats.js";

export type Call = () => Promise<unknown>;

/** Runs `next()` calls for warmupS (not recorded), then for durationS (recorded). */
export async function runLoad(
  next: () => Call,
  concurrency: number,
  warmupS: number,
  durationS: number,
  onMeasureStart: () => void,
): Promise<RunStats> {
  const warmupEnd = performance.now() + warmupS * 1000;
  await workers(concurrency, warmupEnd, next, undefined);
  onMeasureStart();
  const recorder = new Recorder();
  const start = performance.now();
  await workers(concurrency, start + durationS * 1000, next, recorder);
  return recorder.summary((performance.now() - start) / 1000);
}

async function workers(
  concurrency: number,
  endMs: number,
  next: () => Call,
  recorder: Recorder | undefined,
): Promise<void> {
  const worker = async (): Promise<void> => {
    while (performance.now() < endMs) {
      const call = next();
      const start = performance.now();
      try {
        await call();
        recorder?.ok(performance.now() - start);
      } catch (error) {
        recorder?.failed(error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
