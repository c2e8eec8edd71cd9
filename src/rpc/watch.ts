/**
 * WatchEntries: a ledger's entries in commit (sequence) order, read from the
 * database page by page, so a stream resumes from any sequence after a
 * restart and sees writes of every server on the database. Between pages a
 * watcher sleeps until this process writes to its ledger (wake) or the poll
 * interval passes (writes of other processes). Nothing runs while nobody
 * watches; a watcher holds one page at most, since the stream is pulled.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError, type HandlerContext } from "@connectrpc/connect";
import type {
  WatchEntriesRequest,
  WatchEntriesResponseSchema,
} from "../../gen/ledger/v1/ledger_pb.js";
import {
  type CallOptions,
  checkId,
  type Entry,
  invalidArgument,
  LedgerError,
  type LedgerStore,
} from "../domain/index.js";
import { entryToProto } from "./convert.js";

export interface WatchSettings {
  /** Streams open at once in this process; more are refused OVERLOADED. */
  readonly watchersMax: number;
  /** How long a caught-up watcher waits before reading again, unless woken. */
  readonly pollIntervalMs: number;
}

export const WATCH_SETTINGS_DEFAULT: WatchSettings = { watchersMax: 1000, pollIntervalMs: 1000 };

/** Entries read per page. */
const PAGE_SIZE = 100;
const INT64_MAX = 2n ** 63n - 1n;

/** The process's watchers: how many, and who to wake when a ledger is written. */
export class WatchHub {
  private watching = 0;
  private readonly sleepers = new Map<string, Set<() => void>>();

  constructor(readonly settings: WatchSettings = WATCH_SETTINGS_DEFAULT) {}

  get active(): number {
    return this.watching;
  }

  /** Wakes the watchers of these ledgers (after this process wrote them). */
  wake(ledgerIds: Iterable<string>): void {
    if (this.sleepers.size === 0) {
      return;
    }
    for (const id of ledgerIds) {
      for (const wakeUp of this.sleepers.get(id) ?? []) {
        wakeUp();
      }
    }
  }

  /** Wakes the watchers of every ledger a write's answer names (ledgerId, ledger.id), if any watch. */
  wakeFor(answer: unknown): void {
    if (this.sleepers.size > 0) {
      this.wake(ledgerIdsIn(answer, new Set()));
    }
  }

  /** A watcher's slot; OVERLOADED past watchersMax. Call the result when the stream ends. */
  enter(): () => void {
    if (this.watching >= this.settings.watchersMax) {
      throw new LedgerError(
        "OVERLOADED",
        `this server already streams to ${this.settings.watchersMax} watchers: retry later or on another replica`,
        { cause: "watchers_max" },
      );
    }
    this.watching += 1;
    let released = false;
    return () => {
      if (!released) {
        released = true;
        this.watching -= 1;
      }
    };
  }

  /** Resolves on wake, after the poll interval, or when `signal` aborts. */
  sleep(ledgerId: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const sleepers = this.sleepers.get(ledgerId) ?? new Set();
      this.sleepers.set(ledgerId, sleepers);
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        sleepers.delete(done);
        if (sleepers.size === 0) {
          this.sleepers.delete(ledgerId);
        }
        resolve();
      };
      const timer = setTimeout(done, this.settings.pollIntervalMs);
      signal.addEventListener("abort", done, { once: true });
      sleepers.add(done);
    });
  }
}

type WatchAnswer = MessageInitShape<typeof WatchEntriesResponseSchema>;

/** The stream of one WatchEntries call. */
export async function* watchEntries(
  store: LedgerStore,
  hub: WatchHub,
  req: WatchEntriesRequest,
  ctx: HandlerContext,
  options: CallOptions,
): AsyncGenerator<WatchAnswer> {
  checkId("ledger_id", req.ledgerId);
  if (req.afterSequence !== undefined && req.afterSequence < 0n) {
    throw invalidArgument("after_sequence", "must be 0 or more");
  }
  const release = hub.enter();
  try {
    const wanted = thresholdFilter(req);
    let cursor =
      req.afterSequence ?? (await store.entriesAfter(req.ledgerId, INT64_MAX, 1, options)).version;
    while (!ctx.signal.aborted) {
      const page = await store.entriesAfter(req.ledgerId, cursor, PAGE_SIZE, options);
      for (const entry of page.entries) {
        cursor = entry.sequence;
        if (wanted(entry)) {
          yield { entry: entryToProto(entry) };
        }
      }
      if (page.entries.length === PAGE_SIZE) {
        continue;
      }
      if (page.terminated && cursor >= page.version) {
        return;
      }
      await hub.sleep(req.ledgerId, ctx.signal);
    }
    // Cancelled, or the server is shutting down (UNAVAILABLE): never a normal end,
    // which would tell the client the ledger is closed.
    throw ConnectError.from(ctx.signal.reason);
  } finally {
    release();
  }
}

/** Every `ledgerId` value, and the `id` of every `ledger`, in a message and its parts. */
function ledgerIdsIn(value: unknown, found: Set<string>): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) {
      ledgerIdsIn(item, found);
    }
  } else if (typeof value === "object" && value !== null) {
    for (const [key, field] of Object.entries(value)) {
      if (key === "ledgerId" && typeof field === "string") {
        found.add(field);
      } else if (key === "ledger" && typeof (field as { id?: unknown })?.id === "string") {
        found.add((field as { id: string }).id);
      } else {
        ledgerIdsIn(field, found);
      }
    }
  }
  return found;
}

/** balance_below / balance_above: entries that cross the threshold; neither: every entry. */
function thresholdFilter(req: WatchEntriesRequest): (entry: Entry) => boolean {
  const { balanceBelow: below, balanceAbove: above } = req;
  if (below === undefined && above === undefined) {
    return () => true;
  }
  return (entry) => {
    const after = entry.balanceAfterMinor;
    const before = after - entry.amountMinor;
    return (
      (below !== undefined && after < below && before >= below) ||
      (above !== undefined && after > above && before <= above)
    );
  };
}
