/**
 * WatchEntries: a ledger's or an app's events (entries and hold steps) in
 * commit order, each with a cursor (its stream position). A watcher behind
 * its stream's feed reads the database page by page until it catches up,
 * then takes events from the feed (watch-hub.ts); so a stream resumes from
 * any cursor after a restart, on any replica, and sees the writes of every
 * server on the database.
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
  invalidArgument,
  LedgerError,
  type LedgerStore,
  type StreamEvent,
  type StreamScope,
} from "../domain/index.js";
import { callerOf, checkApp, DECLARED_APPS } from "./access.js";
import { entryToProto, TRANSACTION_STATES, transactionToProto } from "./convert.js";
import { type Feed, PAGE_SIZE, Subscriber, type WatchHub } from "./watch-hub.js";

export { WATCH_SETTINGS_DEFAULT, WatchHub, type WatchSettings } from "./watch-hub.js";

type WatchAnswer = MessageInitShape<typeof WatchEntriesResponseSchema>;

/** A cursor: "c1_" and the decimal position. Opaque to clients. */
const CURSOR = /^c1_(0|[1-9][0-9]{0,18})$/;
const POSITION_MAX = 2n ** 63n - 1n;

export function encodeCursor(position: bigint): string {
  return `c1_${position}`;
}

function decodeCursor(cursor: string): bigint {
  const match = CURSOR.exec(cursor);
  const position = match === null ? undefined : BigInt(match[1] as string);
  if (position === undefined || position > POSITION_MAX) {
    throw invalidArgument("cursor", "is not a cursor this server sent (resume with one it sent)");
  }
  return position;
}

/** The stream of one WatchEntries call. */
export async function* watchEntries(
  store: LedgerStore,
  hub: WatchHub,
  req: WatchEntriesRequest,
  ctx: HandlerContext,
  options: CallOptions,
): AsyncGenerator<WatchAnswer> {
  const stream = streamOf(req, ctx);
  const wanted = eventFilter(req);
  const release = hub.enter();
  try {
    let cursor = await startPosition(store, stream, req, options);
    // A checkpoint first: where the stream starts, so that "from now" can be resumed.
    yield { cursor: encodeCursor(cursor) };
    const subscriber = new Subscriber(hub.settings.bufferMax);
    for (;;) {
      // A new feed starts at the horizon: a watcher behind it catches up by
      // pulling pages, and the feed only pushes what is new.
      const feed =
        hub.existingFeed(stream) ?? hub.feed(store, stream, await store.streamHorizon(options));
      if (cursor >= feed.cursor) {
        hub.join(feed, subscriber);
        yield* follow(feed, subscriber, cursor, wanted, ctx.signal);
        return;
      }
      const { events, reached } = await catchUp(store, stream, cursor, feed.cursor, options);
      for (const event of events) {
        if (wanted(event)) {
          yield toAnswer(event);
        }
      }
      cursor = reached;
    }
  } finally {
    release();
  }
}

/** The events after `cursor` up to the feed's, a page at most, and the position they reach. */
async function catchUp(
  store: LedgerStore,
  stream: StreamScope,
  cursor: bigint,
  upTo: bigint,
  options: CallOptions,
): Promise<{ readonly events: readonly StreamEvent[]; readonly reached: bigint }> {
  const page = await store.streamPage(stream, cursor, upTo, PAGE_SIZE, options);
  const last = page.events.at(-1)?.position;
  // A short page: nothing else up to the feed's cursor.
  return { events: page.events, reached: page.events.length < PAGE_SIZE ? upTo : (last ?? upTo) };
}

/** The events the feed hands on, after `cursor`; ends as the feed does. */
async function* follow(
  feed: Feed,
  subscriber: Subscriber,
  from: bigint,
  wanted: (event: StreamEvent) => boolean,
  signal: AbortSignal,
): AsyncGenerator<WatchAnswer> {
  let cursor = from;
  try {
    while (!signal.aborted) {
      const next = subscriber.take();
      switch (next.kind) {
        case "event":
          if (next.event.position > cursor) {
            cursor = next.event.position;
            if (wanted(next.event)) {
              yield toAnswer(next.event);
            }
          }
          break;
        case "empty":
          await subscriber.wait(signal);
          break;
        case "ended":
          return;
        case "failed":
          throw next.error;
        case "overflowed":
          throw tooSlow(cursor, from);
      }
    }
    // Cancelled, or the server is shutting down (UNAVAILABLE): never a normal end,
    // which would tell the client the ledger is closed.
    throw ConnectError.from(signal.reason);
  } finally {
    feed.leave(subscriber);
  }
}

function tooSlow(cursor: bigint, from: bigint): LedgerError {
  return new LedgerError(
    "CONSUMER_TOO_SLOW",
    "the stream's client read too slowly and its buffer filled up: resume from the cursor",
    { cursor: cursor === from ? "" : encodeCursor(cursor) },
  );
}

/** ledger_id or app, exactly one; the app the caller's (UNKNOWN_APP, APP_NOT_PERMITTED). */
function streamOf(req: WatchEntriesRequest, ctx: HandlerContext): StreamScope {
  if (req.app !== "" && req.ledgerId !== "") {
    throw invalidArgument("app", "give ledger_id or app, not both");
  }
  if (req.app === "") {
    checkId("ledger_id", req.ledgerId);
    return { ledgerId: req.ledgerId };
  }
  checkApp(callerOf(ctx), { app: req.app }, DECLARED_APPS);
  if (req.afterSequence !== undefined) {
    throw invalidArgument("after_sequence", "is a ledger's sequence: use cursor with app");
  }
  return { app: req.app };
}

/** After the cursor, after the sequence, or now; the ledger checked visible (LEDGER_NOT_FOUND). */
async function startPosition(
  store: LedgerStore,
  stream: StreamScope,
  req: WatchEntriesRequest,
  options: CallOptions,
): Promise<bigint> {
  if (req.cursor !== "" && req.afterSequence !== undefined) {
    throw invalidArgument("cursor", "give cursor or after_sequence, not both");
  }
  if (req.afterSequence !== undefined) {
    if (req.afterSequence < 0n) {
      throw invalidArgument("after_sequence", "must be 0 or more");
    }
    return store.streamPositionOf(
      (stream as { ledgerId: string }).ledgerId,
      req.afterSequence,
      options,
    );
  }
  const start = req.cursor !== "" ? decodeCursor(req.cursor) : await store.streamHorizon(options);
  await store.streamPage(stream, start, start, 1, options);
  return start;
}

/**
 * balance_below / balance_above: entries that cross the threshold, and no
 * hold steps; neither: every event.
 */
function eventFilter(req: WatchEntriesRequest): (event: StreamEvent) => boolean {
  const { balanceBelow: below, balanceAbove: above } = req;
  if (below === undefined && above === undefined) {
    return () => true;
  }
  return (event) => {
    if (event.kind !== "entry") {
      return false;
    }
    const after = event.entry.balanceAfterMinor;
    const before = after - event.entry.amountMinor;
    return (
      (below !== undefined && after < below && before >= below) ||
      (above !== undefined && after > above && before <= above)
    );
  };
}

function toAnswer(event: StreamEvent): WatchAnswer {
  const cursor = encodeCursor(event.position);
  return event.kind === "entry"
    ? { event: { case: "entry", value: entryToProto(event.entry) }, cursor }
    : {
        event: {
          case: "hold",
          value: {
            state: TRANSACTION_STATES[event.step],
            transaction: transactionToProto(event.hold),
          },
        },
        cursor,
      };
}
