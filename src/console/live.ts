/**
 * The open ledger, live: the SDK client's watchEvents from the sequence
 * shown; each entry or hold step the page does not show yet refreshes the
 * ledger (one refresh at a time, bursts coalesced). The SDK resumes a failed
 * stream (lost connection, restarted server) from its last cursor by itself,
 * and tells onReconnect first; a stream that ends (the ledger was
 * terminated) refreshes once more and stops, and so does one refused (it
 * would be refused again). The indicator near the ledger header says "live"
 * once the stream is open, "reconnecting" from a failure to its next checkpoint.
 */
import {
  type Ledger,
  type LedgerClient,
  LedgerStatus,
  TransactionState,
  type WatchEvent,
} from "@shared-ledger/client";
import { byId } from "./dom.js";

/** A hold's step on the stream. */
type HoldStep = Extract<WatchEvent, { kind: "hold" }>["hold"];

export interface LiveDeps {
  readonly client: LedgerClient;
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

/** Streams until aborted, refused or ended; the SDK reconnects in between. */
async function watch(
  deps: LiveDeps,
  ledgerId: string,
  from: bigint,
  signal: AbortSignal,
): Promise<void> {
  const refresh = coalesced(() => deps.refresh(ledgerId, signal));
  // A replaced watch (aborted) must not touch the indicator of the one after it.
  const show = (state: "live" | "reconnecting"): void => {
    if (!signal.aborted) {
      showIndicator(state);
    }
  };
  show("live");
  try {
    for await (const event of deps.client.watchEvents(
      { ledgerId },
      { fromSequence: from, signal, onReconnect: () => show("reconnecting") },
    )) {
      if (event.kind === "checkpoint") {
        show("live"); // each (re)connect starts with one
      } else if (!signal.aborted && notShownYet(deps, event)) {
        refresh();
      }
    }
    if (!signal.aborted) {
      refresh(); // the stream ended: the ledger was terminated
    }
  } catch {
    // A failure the SDK does not resume from (a refused token or role, no
    // such ledger): watching again would be refused the same way.
  }
  ended(signal);
}

/** An entry newer than the page shows, or a hold step the page does not show as it is. */
function notShownYet(deps: LiveDeps, event: WatchEvent): boolean {
  switch (event.kind) {
    case "entry":
      return event.entry.sequence > deps.shownVersion();
    case "hold":
      return holdNotShownAsIs(deps, event.hold);
    default:
      return false;
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
