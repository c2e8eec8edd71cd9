/**
 * The open ledger, live: a WatchEntries stream from the sequence shown; each
 * entry or hold step the page does not show yet refreshes the ledger (one
 * refresh at a time, bursts coalesced). A failed stream (lost connection, restarted
 * server) reconnects from the last sequence seen after a backoff; one that
 * ends (the ledger was terminated) refreshes once more and stops. The
 * indicator near the ledger header says "live" or "reconnecting".
 */
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type HoldStep,
  type Ledger,
  LedgerStatus,
  TransactionState,
} from "../../gen/ledger/v1/ledger_pb.js";
import type { LedgerApi } from "./api.js";
import { byId } from "./dom.js";

const BACKOFF_FIRST_MS = 1_000;
const BACKOFF_MAX_MS = 10_000;
/** A refusal the same call would get again: the stream stops instead of retrying. */
const FINAL_CODES = new Set([
  Code.Unauthenticated,
  Code.PermissionDenied,
  Code.NotFound,
  Code.InvalidArgument,
  Code.FailedPrecondition,
]);

export interface LiveDeps {
  readonly api: LedgerApi;
  /** The sequence of the latest entry the page shows for the ledger. */
  shownVersion(): bigint;
  /** Whether the page lists this hold among the open ones. */
  showsHold(transactionId: string): boolean;
  /** Reloads what the page shows of the open ledger; ignores its result once `signal` aborted. */
  refresh(ledgerId: string, signal: AbortSignal): Promise<void>;
}

export interface Live {
  /** Watches this ledger (the one just shown), unless it is watched already or terminated. */
  follow(ledger: Ledger): void;
  /** Ends the watch, if any. */
  stop(): void;
}

interface Watch {
  readonly ledgerId: string;
  readonly controller: AbortController;
}

export function createLive(deps: LiveDeps): Live {
  let current: Watch | undefined;
  const live: Live = {
    follow(ledger) {
      if (ledger.status !== LedgerStatus.ACTIVE) {
        live.stop();
      } else if (current?.ledgerId !== ledger.id) {
        live.stop();
        current = { ledgerId: ledger.id, controller: new AbortController() };
        void watch(deps, ledger.id, ledger.version, current.controller.signal);
      }
    },
    stop() {
      current?.controller.abort();
      current = undefined;
      showIndicator(undefined);
    },
  };
  return live;
}

/** A hold step the page does not show yet: created and not listed, or resolved and still listed. */
function holdNotShownAsIs(deps: LiveDeps, step: HoldStep): boolean {
  const listed = deps.showsHold(step.transaction?.id ?? "");
  return step.state === TransactionState.PENDING ? !listed : listed;
}

/** Streams until aborted, refused or ended, reconnecting from the last sequence seen. */
async function watch(
  deps: LiveDeps,
  ledgerId: string,
  from: bigint,
  signal: AbortSignal,
): Promise<void> {
  const refresh = coalesced(() => deps.refresh(ledgerId, signal));
  let cursor = from;
  let failures = 0;
  while (!signal.aborted) {
    showIndicator("live");
    try {
      for await (const { event } of deps.api.watchEntries(
        { ledgerId, afterSequence: cursor },
        { signal },
      )) {
        failures = 0;
        if (event.case === "entry") {
          cursor = event.value.sequence;
          if (event.value.sequence > deps.shownVersion()) {
            refresh();
          }
        } else if (event.case === "hold" && holdNotShownAsIs(deps, event.value)) {
          refresh();
        }
      }
      refresh();
      return ended(signal);
    } catch (error) {
      if (signal.aborted || FINAL_CODES.has(ConnectError.from(error).code)) {
        return ended(signal);
      }
      failures += 1;
      showIndicator("reconnecting");
      await sleep(Math.min(BACKOFF_FIRST_MS * 2 ** (failures - 1), BACKOFF_MAX_MS), signal);
    }
  }
}

/** A watch that stops by itself (not replaced by another) leaves no indicator. */
function ended(signal: AbortSignal): void {
  if (!signal.aborted) {
    showIndicator(undefined);
  }
}

/** Runs `task` now, or once more after the run in flight: never two at a time. */
function coalesced(task: () => Promise<void>): () => void {
  let running = false;
  let again = false;
  const run = async (): Promise<void> => {
    running = true;
    do {
      again = false;
      // A failed refresh leaves the page as it was; the next entry tries again.
      await task().catch(() => undefined);
    } while (again);
    running = false;
  };
  return () => {
    if (running) {
      again = true;
    } else {
      void run();
    }
  };
}

function showIndicator(state: "live" | "reconnecting" | undefined): void {
  const indicator = byId("live-indicator");
  indicator.hidden = state === undefined;
  indicator.dataset.state = state ?? "";
  byId("live-text").textContent = state ?? "";
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
