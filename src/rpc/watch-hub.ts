/**
 * The process's watchers. Each stream (a ledger's, or an app's) has at most
 * one feed per process, whatever the number of its watchers: the feed reads
 * the database up to the final position (LedgerStore.streamHorizon) and
 * hands each event to every watcher's buffer. A feed exists only while
 * someone watches, so nothing runs while nobody does. Between reads it
 * sleeps until this process writes (wake) or the poll interval passes
 * (writes of other processes).
 *
 * A watcher's buffer is bounded (bufferMax events): a client that reads
 * slower than events arrive fills it, and its stream is then ended with
 * CONSUMER_TOO_SLOW and the cursor to resume from. Memory is thus bounded
 * by watchersMax × bufferMax events (shared between watchers).
 */
import {
  LedgerError,
  type LedgerStore,
  type StreamEvent,
  type StreamScope,
} from "../domain/index.js";

export interface WatchSettings {
  /** Streams open at once in this process; more are refused OVERLOADED. */
  readonly watchersMax: number;
  /** How long a caught-up feed waits before reading again, unless woken. */
  readonly pollIntervalMs: number;
  /** Events a watcher may have waiting to be sent; past it, CONSUMER_TOO_SLOW. */
  readonly bufferMax: number;
}

export const WATCH_SETTINGS_DEFAULT: WatchSettings = {
  watchersMax: 1000,
  pollIntervalMs: 1000,
  bufferMax: 1000,
};

/** Events read per statement. */
export const PAGE_SIZE = 100;

/** What a watcher finds in its buffer. */
export type Delivery =
  | { readonly kind: "event"; readonly event: StreamEvent }
  | { readonly kind: "overflowed" }
  | { readonly kind: "ended" }
  | { readonly kind: "failed"; readonly error: unknown }
  | { readonly kind: "empty" };

/** One stream's watcher: its bounded buffer, filled by the feed. */
export class Subscriber {
  private queue: StreamEvent[] = [];
  private closed: Exclude<Delivery, { kind: "event" } | { kind: "empty" }> | undefined;
  private notify: (() => void) | undefined;

  constructor(private readonly bufferMax: number) {}

  push(event: StreamEvent): void {
    if (this.closed !== undefined) {
      return;
    }
    if (this.queue.length >= this.bufferMax) {
      // Dropped at once: a stalled client holds no more than bufferMax events.
      this.queue = [];
      this.close({ kind: "overflowed" });
      return;
    }
    this.queue.push(event);
    this.notify?.();
  }

  close(reason: Exclude<Delivery, { kind: "event" } | { kind: "empty" }>): void {
    this.closed ??= reason;
    this.notify?.();
  }

  /** The next event, else why none will come (overflow first), else empty. */
  take(): Delivery {
    if (this.closed?.kind === "overflowed") {
      return this.closed;
    }
    const event = this.queue.shift();
    if (event !== undefined) {
      return { kind: "event", event };
    }
    return this.closed ?? { kind: "empty" };
  }

  /** Resolves when something is pushed or closed, or `signal` aborts. */
  wait(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.notify = undefined;
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.notify = done;
      signal.addEventListener("abort", done, { once: true });
    });
  }
}

/** The one reader of a stream in this process, feeding its watchers. */
class Feed {
  /** Every event of the stream up to here has been handed to the watchers. */
  cursor: bigint;
  readonly subscribers = new Set<Subscriber>();
  private wakeUp: (() => void) | undefined;
  private running = false;
  /** A write woke it while it was reading: what it read may predate that write. */
  private wokenWhileReading = false;

  constructor(
    private readonly store: LedgerStore,
    readonly stream: StreamScope,
    start: bigint,
    private readonly settings: WatchSettings,
    private readonly onIdle: () => void,
  ) {
    this.cursor = start;
  }

  /** Starts reading, unless it already does. */
  start(): void {
    if (this.running) {
      return;
    }
    this.running = true;
    this.run().then(
      (outcome) => {
        this.running = false;
        if (outcome === "terminated") {
          this.closeAll({ kind: "ended" });
        } else if (this.subscribers.size > 0) {
          this.start(); // joined while it was stopping
        } else {
          this.onIdle();
        }
      },
      (error: unknown) => {
        this.running = false;
        this.closeAll({ kind: "failed", error });
      },
    );
  }

  /** Reads again at once; if it is reading now, once more after that. */
  wake(): void {
    if (this.wakeUp === undefined) {
      this.wokenWhileReading = true;
    }
    this.wakeUp?.();
  }

  /** Reads and hands on, then sleeps, until nobody watches or the ledger is terminated. */
  private async run(): Promise<"idle" | "terminated"> {
    let terminationSeen = false;
    while (this.subscribers.size > 0) {
      const upTo = await this.store.streamHorizon();
      const terminated = await this.readUpTo(upTo);
      if (terminated && terminationSeen) {
        return "terminated";
      }
      // Terminated: one more read, up to a horizon taken after the status was seen.
      terminationSeen = terminated;
      if (!terminated) {
        await this.sleep();
      }
    }
    return "idle";
  }

  /** Hands on every event in (cursor, upTo]; whether the ledger is terminated. */
  private async readUpTo(upTo: bigint): Promise<boolean> {
    for (;;) {
      const page = await this.store.streamPage(this.stream, this.cursor, upTo, PAGE_SIZE);
      for (const event of page.events) {
        this.cursor = event.position;
        for (const subscriber of this.subscribers) {
          subscriber.push(event);
        }
      }
      if (page.events.length < PAGE_SIZE || this.subscribers.size === 0) {
        this.cursor = this.cursor > upTo ? this.cursor : upTo;
        return page.terminated;
      }
    }
  }

  private sleep(): Promise<void> {
    if (this.wokenWhileReading) {
      this.wokenWhileReading = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.settings.pollIntervalMs);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wakeUp = undefined;
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private closeAll(reason: Parameters<Subscriber["close"]>[0]): void {
    for (const subscriber of this.subscribers) {
      subscriber.close(reason);
    }
    this.subscribers.clear();
    this.onIdle();
  }

  leave(subscriber: Subscriber): void {
    this.subscribers.delete(subscriber);
    if (this.subscribers.size === 0) {
      this.wake();
    }
  }
}

/** A stream's key among the feeds. */
function feedKey(stream: StreamScope): string {
  return "ledgerId" in stream ? `ledger:${stream.ledgerId}` : `app:${stream.app}`;
}

/** The process's watchers: how many, the feeds they share, who to wake on a write. */
export class WatchHub {
  private watching = 0;
  private readonly feeds = new Map<string, Feed>();

  constructor(readonly settings: WatchSettings = WATCH_SETTINGS_DEFAULT) {}

  get active(): number {
    return this.watching;
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

  /** The stream's feed, if one runs. */
  existingFeed(stream: StreamScope): Feed | undefined {
    return this.feeds.get(feedKey(stream));
  }

  /**
   * The stream's feed, created (reading from `start`) if none runs. A
   * watcher at or past its cursor joins it (`join`); one behind it reads
   * the database up to the feed's cursor first, then asks again.
   */
  feed(store: LedgerStore, stream: StreamScope, start: bigint): Feed {
    const key = feedKey(stream);
    let feed = this.feeds.get(key);
    if (feed === undefined) {
      const created = new Feed(store, stream, start, this.settings, () => {
        if (this.feeds.get(key) === created) {
          this.feeds.delete(key);
        }
      });
      feed = created;
      this.feeds.set(key, feed);
    }
    return feed;
  }

  /** Adds a watcher to a feed (synchronously: no event can fall between). */
  join(feed: Feed, subscriber: Subscriber): void {
    feed.subscribers.add(subscriber);
    feed.start();
  }

  /** Wakes the feeds of these ledgers, and every app's (after this process wrote them). */
  wake(ledgerIds: Iterable<string>): void {
    if (this.feeds.size === 0) {
      return;
    }
    for (const id of ledgerIds) {
      this.feeds.get(feedKey({ ledgerId: id }))?.wake();
    }
    for (const [key, feed] of this.feeds) {
      if (key.startsWith("app:")) {
        feed.wake();
      }
    }
  }

  /** Wakes the feeds of every ledger a write's answer names (ledgerId, ledger.id), if any watch. */
  wakeFor(answer: unknown): void {
    if (this.feeds.size > 0) {
      this.wake(ledgerIdsIn(answer, new Set()));
    }
  }
}

export type { Feed };

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
