/**
 * watch() and watchEvents(): what is committed on a ledger, or on all of an
 * app's ledgers (WatchEntries), as an async iterable that outlives
 * connections. It remembers the cursor of the last message received and,
 * when the stream fails in a retryable way (a lost connection, a restarting
 * server, OVERLOADED) or the server found it too slow (CONSUMER_TOO_SLOW),
 * reconnects from it, after a backoff for failures, so the caller sees
 * every event exactly once, in order.
 */
import type { Client } from "@connectrpc/connect";
import type { Entry, HoldStep, LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { ConsumerTooSlowError, type LedgerRpcError, toLedgerRpcError } from "./errors.js";
import { backoffDelayMs, type RetryPolicy } from "./retry.js";

export interface WatchOptions {
  /** Start after this sequence of the ledger (0: from its first entry). Absent: from now. */
  readonly fromSequence?: bigint | undefined;
  /** Only entries that take the balance below this (a low-balance alert). */
  readonly balanceBelowMinor?: bigint | undefined;
  /** Only entries that take the balance above this. */
  readonly balanceAboveMinor?: bigint | undefined;
  /** Ends the iteration (without an error). */
  readonly signal?: AbortSignal | undefined;
  /**
   * Told each time the stream failed in a way it resumes from (`failure`)
   * and is about to reconnect, after `delayMs` of backoff: for a UI that
   * shows "reconnecting" until the next event (a checkpoint, with watchEvents).
   */
  readonly onReconnect?: ((failure: LedgerRpcError, delayMs: number) => void) | undefined;
}

export interface WatchEventsOptions extends WatchOptions {
  /** Start after the event that carried this cursor (a WatchEvent's). Not with fromSequence. */
  readonly fromCursor?: string | undefined;
}

/** What to watch: one ledger, or every ledger of an app (the token's). */
export type WatchTarget = { readonly ledgerId: string } | { readonly app: string };

/**
 * One event of the stream, and the cursor to resume after it. A checkpoint
 * (sent at each connect) carries only a cursor: where the stream stands.
 */
export type WatchEvent = { readonly cursor: string } & (
  | { readonly kind: "checkpoint" }
  | { readonly kind: "entry"; readonly entry: Entry }
  | { readonly kind: "hold"; readonly hold: HoldStep }
);

/** What watch needs of the client: the service and the backoff. */
export interface WatchDeps {
  readonly rpc: Client<typeof LedgerService>;
  readonly policy: RetryPolicy;
}

export async function* watchEvents(
  deps: WatchDeps,
  target: WatchTarget,
  options: WatchEventsOptions = {},
): AsyncGenerator<WatchEvent> {
  const { signal } = options;
  let cursor = options.fromCursor ?? "";
  let afterSequence = options.fromSequence;
  let failures = 0;
  while (signal?.aborted !== true) {
    try {
      const stream = deps.rpc.watchEntries(
        {
          ledgerId: "ledgerId" in target ? target.ledgerId : "",
          app: "app" in target ? target.app : "",
          cursor,
          afterSequence,
          balanceBelow: options.balanceBelowMinor,
          balanceAbove: options.balanceAboveMinor,
        },
        { signal },
      );
      for await (const { cursor: at, event } of stream) {
        failures = 0;
        // The first message is a checkpoint: from then on, resume by cursor.
        cursor = at;
        afterSequence = undefined;
        yield event.case === "entry"
          ? { cursor, kind: "entry", entry: event.value }
          : event.case === "hold"
            ? { cursor, kind: "hold", hold: event.value }
            : { cursor, kind: "checkpoint" };
      }
      return;
    } catch (e) {
      const error = resumable(e, signal);
      if (error === undefined) {
        return;
      }
      // A slow reader resumes at once from the cursor: reading what was missed is the remedy.
      const delayMs =
        error instanceof ConsumerTooSlowError ? 0 : backoffDelayMs(deps.policy, ++failures);
      options.onReconnect?.(error, delayMs);
      if (delayMs > 0) {
        await sleep(delayMs, signal);
      }
    }
  }
}

/** The failure, if the stream may resume after it; thrown otherwise (returns nothing once aborted). */
function resumable(e: unknown, signal: AbortSignal | undefined): LedgerRpcError | undefined {
  const cancelled = isAborted(signal);
  if (cancelled) {
    return undefined;
  }
  const error = toLedgerRpcError(e, cancelled);
  if (!error.retryable && !(error instanceof ConsumerTooSlowError)) {
    throw error;
  }
  return error;
}

/** A ledger's entries only (its hold steps left out). */
export async function* watchEntries(
  deps: WatchDeps,
  ledgerId: string,
  options: WatchOptions = {},
): AsyncGenerator<Entry> {
  for await (const event of watchEvents(deps, { ledgerId }, options)) {
    if (event.kind === "entry") {
      yield event.entry;
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
