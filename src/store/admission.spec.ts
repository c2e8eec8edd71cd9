/**
 * Admission lets at most `permits` units of work run, queues the rest in
 * order, and bounds both the queue's length and each caller's wait.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { LedgerError } from "../domain/index.js";
import { Admission } from "./admission.js";

function gate(): { promise: Promise<void>; open(): void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe("Admission", () => {
  it("runs at most `permits` at once and admits waiters in arrival order", async () => {
    const admission = new Admission(2, 10);
    let running = 0;
    let runningMax = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        admission.run(1000, undefined, async () => {
          running += 1;
          runningMax = Math.max(runningMax, running);
          order.push(i);
          await sleep(5);
          running -= 1;
        }),
      ),
    );
    expect(runningMax).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it("refuses a caller that waited longer than its bound with OVERLOADED, and frees its place", async () => {
    const admission = new Admission(1, 10);
    const busy = gate();
    const holder = admission.run(1000, undefined, () => busy.promise);
    const waited = await admission.run(20, undefined, async () => "ran").catch((e: unknown) => e);
    expect(waited).toBeInstanceOf(LedgerError);
    expect(waited).toMatchObject({ reason: "OVERLOADED", metadata: { cause: "queue_wait" } });
    busy.open();
    await holder;
    await expect(admission.run(20, undefined, async () => "ran")).resolves.toBe("ran");
  });

  it("refuses at once with OVERLOADED when the queue is full", async () => {
    const admission = new Admission(1, 1);
    const busy = gate();
    const holder = admission.run(1000, undefined, () => busy.promise);
    const queued = admission.run(1000, undefined, async () => "queued");
    await expect(admission.run(1000, undefined, async () => "third")).rejects.toMatchObject({
      reason: "OVERLOADED",
      metadata: { cause: "queue_full" },
    });
    busy.open();
    await holder;
    await expect(queued).resolves.toBe("queued");
  });

  it("gives up waiting when the caller's signal aborts, with the caller's reason", async () => {
    const admission = new Admission(1, 10);
    const busy = gate();
    const holder = admission.run(1000, undefined, () => busy.promise);
    const controller = new AbortController();
    const waiting = admission.run(1000, controller.signal, async () => "ran");
    controller.abort(new Error("deadline"));
    await expect(waiting).rejects.toThrow("deadline");
    busy.open();
    await holder;
    await expect(admission.run(20, undefined, async () => "ran")).resolves.toBe("ran");
  });
});
