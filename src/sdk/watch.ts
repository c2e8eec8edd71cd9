/**
 * watch(): a ledger's entries as they are committed (WatchEntries), as an
 * async iterable that outlives connections. It remembers the last sequence
 * received and, when the stream fails in a retryable way (a lost connection,
 * a restarting server, OVERLOADED), reconnects from it after a backoff, so
 * the caller sees every entry exactly once, in order.
 */
import type { Client } from "@connectrpc/connect";
import type { Entry, LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { toLedgerRpcError } from "./errors.js";
import { backoffDelayMs, type RetryPolicy } from "./retry.js";

export interface WatchOptions {
  /** Start after this sequence (0: from the first entry). Absent: from now. */
  readonly fromSequence?: bigint | undefined;
  /** Only entries that take the balance below this (a low-balance alert). */
  readonly balanceBelowMinor?: bigint | undefined;
  /** Only entries that take the balance above this. */
  readonly balanceAboveMinor?: bigint | undefined;
  /** Ends the iteration (without an error). */
  readonly signal?: AbortSignal | undefined;
}

/** What watch needs of the client: the service, the backoff, and the ledger's current version. */
export interface WatchDeps {
  readonly rpc: Client<typeof LedgerService>;
  readonly policy: RetryPolicy;
  versionOf(ledgerId: string, signal: AbortSignal | undefined): Promise<bigint>;
}

export async function* watchEntries(
  deps: WatchDeps,
  ledgerId: string,
  options: WatchOptions = {},
): AsyncGenerator<Entry> {
  const { signal } = options;
  // "From now" is made a sequence at once, so that a reconnect resumes without a gap.
  let cursor = options.fromSequence ?? (await deps.versionOf(ledgerId, signal));
  let failures = 0;
  while (signal?.aborted !== true) {
    try {
      const stream = deps.rpc.watchEntries(
        {
          ledgerId,
          afterSequence: cursor,
          balanceBelow: options.balanceBelowMinor,
          balanceAbove: options.balanceAboveMinor,
        },
        { signal },
      );
      for await (const { entry } of stream) {
        if (entry !== undefined) {
          failures = 0;
          cursor = entry.sequence;
          yield entry;
        }
      }
      return;
    } catch (e) {
      const cancelled = isAborted(signal);
      if (cancelled) {
        return;
      }
      const error = toLedgerRpcError(e, cancelled);
      if (!error.retryable) {
        throw error;
      }
      failures += 1;
      await sleep(backoffDelayMs(deps.policy, failures), signal);
    }
  }
}

/** Read through a call: TypeScript narrows `signal.aborted` as if it could not change. */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
