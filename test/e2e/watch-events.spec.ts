import { afterAll, describe, expect, it } from "vitest";
import {
  CLIENT_NAMES,
  failureOf,
  type LedgerApi,
  type WatchEntriesParams,
  type WatchedEvent,
} from "../support/clients.js";
import { LEARNING, mapBounded, uniqueKey } from "../support/fixtures.js";
import { type Replica, startReplica, useLedgerServer } from "../support/server.js";
import { expectRefusal, openLedger, post, streamFailure } from "../support/steps.js";

const POLL_MS = "100";
const APP = "content";
const harness = useLedgerServer({ WATCH_POLL_INTERVAL_MS: POLL_MS });

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of closers) {
    await close();
  }
});

/** Another server on the harness's database: a replica, or the same service restarted. */
async function startServer(env: Record<string, string> = {}): Promise<Replica> {
  const replica = await startReplica(harness.server().databaseUrl, {
    WATCH_POLL_INTERVAL_MS: POLL_MS,
    ...env,
  });
  closers.push(replica.close);
  return replica;
}

/**
 * The stream's messages until `enough` says so (or 20 s pass), while
 * `meanwhile` runs from the first message (the checkpoint: the stream has
 * started); the stream is then cancelled.
 */
async function collect(
  api: LedgerApi,
  params: WatchEntriesParams,
  enough: (seen: readonly WatchedEvent[]) => boolean,
  meanwhile: () => Promise<unknown> = async () => {},
): Promise<WatchedEvent[]> {
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), 20_000);
  const seen: WatchedEvent[] = [];
  let started: () => void = () => {};
  const first = new Promise<void>((resolve) => {
    started = resolve;
  });
  const reading = (async () => {
    for await (const event of api.watchEvents(params, stop.signal)) {
      seen.push(event);
      started();
      if (enough(seen)) {
        break;
      }
    }
  })().finally(started);
  try {
    await Promise.all([first.then(meanwhile), reading]);
  } finally {
    clearTimeout(timer);
    stop.abort();
  }
  return seen;
}

/** The entries among the events, as [ledger id, sequence], of the ledgers in `ours`. */
function entriesOn(events: readonly WatchedEvent[], ours: readonly string[]): string[] {
  return events.flatMap((event) =>
    event.kind === "entry" && ours.includes(event.entry.ledgerId)
      ? [`${event.entry.ledgerId.slice(0, 8)}#${event.entry.sequence}`]
      : [],
  );
}

function countOn(events: readonly WatchedEvent[], ours: readonly string[]): number {
  return entriesOn(events, ours).length;
}

/** Each ledger's sequences as streamed: 1..n, in order, once each. */
function expectEachLedgerInOrder(events: readonly WatchedEvent[], ledgers: readonly string[]) {
  for (const ledgerId of ledgers) {
    const sequences = events.flatMap((event) =>
      event.kind === "entry" && event.entry.ledgerId === ledgerId ? [event.entry.sequence] : [],
    );
    expect(sequences).toEqual(sequences.map((_, i) => BigInt(i + 1)));
  }
}

describe.each(CLIENT_NAMES)("over %s", (clientName) => {
  const client = () => harness.client(clientName);

  it("starts every stream with a checkpoint: a cursor and no event", async () => {
    const ledger = await openLedger(client());
    const [first] = await collect(client(), { ledgerId: ledger.id }, (seen) => seen.length === 1);
    expect(first).toMatchObject({ kind: "checkpoint", cursor: expect.stringMatching(/^c1_\d+$/) });
  });

  it("streams the app's ledgers, not another app's, and resumes by cursor exactly once after a restart", async () => {
    const ours = [(await openLedger(client())).id, (await openLedger(client())).id];
    const [a, b] = ours as [string, string];
    const foreign = await openLedger(client(), { app: LEARNING });
    const first = await collect(
      client(),
      { app: APP },
      (seen) => countOn(seen, ours) === 4,
      async () => {
        await post(client(), foreign.id, "CREDIT_ADD", 1n);
        await post(client(), a, "CREDIT_ADD", 5n);
        await client().transfer({
          fromLedgerId: a,
          toLedgerId: b,
          amount: 2n,
          idempotencyKey: uniqueKey("t"),
        });
        await post(client(), b, "CREDIT_ADD", 1n);
      },
    );
    expect(first.some((e) => e.kind === "entry" && e.entry.ledgerId === foreign.id)).toBe(false);
    const cursor = first.at(-1)?.cursor ?? "";
    await post(client(), a, "CREDIT_ADD", 7n);
    await post(client(), b, "CREDIT_ADD", 8n);
    const restarted = await startServer();
    const second = await collect(
      restarted.api(clientName),
      { app: APP, cursor },
      (seen) => countOn(seen, ours) === 2,
    );
    await restarted.close();
    const all = [...first, ...second];
    const [at, bt] = [a.slice(0, 8), b.slice(0, 8)];
    // The transfer's debit (a#2) and credit (b#1) are one commit, in posting order.
    expect(entriesOn(all, ours)).toEqual([
      `${at}#1`,
      `${at}#2`,
      `${bt}#1`,
      `${bt}#2`,
      `${at}#3`,
      `${bt}#3`,
    ]);
  });

  it("streams hold steps on each ledger a hold touches: created, then posted or voided", async () => {
    const source = await openLedger(client());
    const target = await openLedger(client());
    await post(client(), source.id, "CREDIT_ADD", 10n);
    const events = await collect(
      client(),
      { ledgerId: target.id, afterSequence: 0n },
      (seen) => seen.filter((e) => e.kind !== "checkpoint").length === 5,
      async () => {
        const hold = (params: { amount: bigint }) =>
          client().transfer({
            fromLedgerId: source.id,
            toLedgerId: target.id,
            amount: params.amount,
            idempotencyKey: uniqueKey("hold"),
            pending: true,
          });
        const posted = await hold({ amount: 4n });
        await client().postPendingTransaction({
          transactionId: posted.value.id,
          idempotencyKey: uniqueKey("post"),
        });
        const voided = await hold({ amount: 3n });
        await client().voidPendingTransaction({
          transactionId: voided.value.id,
          idempotencyKey: uniqueKey("void"),
        });
      },
    );
    const steps = events.flatMap((e) =>
      e.kind === "hold"
        ? [`${e.state} ${e.transaction.amount}`]
        : e.kind === "entry"
          ? [`entry ${e.entry.amount}`]
          : [],
    );
    // The post's step and its entry are one commit: either may come first.
    expect(steps[0]).toBe("PENDING 4");
    expect(new Set(steps.slice(1, 3))).toEqual(new Set(["POSTED 4", "entry 4"]));
    expect(steps.slice(3)).toEqual(["PENDING 3", "VOIDED 3"]);
    const cursors = events.map((e) => e.cursor);
    expect(new Set(cursors).size).toBe(cursors.length);
  });

  it("refuses what it cannot stream, each naming its field", async () => {
    const ledger = await openLedger(client());
    const refusals: Array<[WatchEntriesParams, string, string, Record<string, string>]> = [
      [{ ledgerId: ledger.id, app: APP }, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field: "app" }],
      [{}, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field: "ledger_id" }],
      [{ app: "nowhere" }, "INVALID_ARGUMENT", "UNKNOWN_APP", { app: "nowhere" }],
      [
        { app: APP, afterSequence: 0n },
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        { field: "after_sequence" },
      ],
      [{ app: APP, cursor: "c1_x" }, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field: "cursor" }],
      [
        { ledgerId: ledger.id, cursor: "c1_1", afterSequence: 0n },
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        { field: "cursor" },
      ],
      [
        { ledgerId: ledger.id, afterSequence: 5n },
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        { field: "after_sequence" },
      ],
    ];
    for (const [params, code, reason, metadata] of refusals) {
      const failure = await streamFailure(client().watchEvents(params));
      expectRefusal(failure, code as never, reason, metadata);
    }
  });
});

it("streams concurrent writes on many ledgers with no gap, no duplicate, each ledger in order", async () => {
  const api = harness.client("grpc-js");
  const ledgers = await mapBounded(
    Array.from({ length: 6 }, (_, i) => i),
    6,
    async () => (await openLedger(api, { unbounded: true })).id,
  );
  const writes = 240;
  let written = 0;
  let done = false;
  const events = await collect(
    harness.client("connect"),
    { app: APP },
    (seen) => done && countOn(seen, ledgers) === written,
    async () => {
      await mapBounded(
        Array.from({ length: writes }, (_, i) => i),
        16,
        async (i) => {
          const from = ledgers[i % ledgers.length] as string;
          const to = ledgers[(i * 7 + 1) % ledgers.length] as string;
          // Counted before it is sent: the stream never has more than `written`.
          if (i % 3 === 0) {
            written += 2;
            await api.transfer({
              fromLedgerId: from,
              toLedgerId: to,
              amount: 1n,
              idempotencyKey: uniqueKey("c"),
            });
          } else {
            written += 1;
            await post(api, from, "CREDIT_ADD", 1n);
          }
        },
      );
      // A last write after `done`, so that a message arrives once it is set.
      done = true;
      written += 1;
      await post(api, ledgers[0] as string, "CREDIT_ADD", 1n);
    },
  );
  expect(countOn(events, ledgers)).toBe(written);
  expectEachLedgerInOrder(events, ledgers);
  const cursors = events.map((e) => e.cursor);
  expect(new Set(cursors).size).toBe(cursors.length);
});

it("ends a client that stops reading CONSUMER_TOO_SLOW, with the cursor to resume from exactly once", async () => {
  const server = await startServer({ WATCH_BUFFER_MAX: "5" });
  const api = server.api("grpc-js");
  const writer = harness.client("connect");
  const ledger = await openLedger(writer, { unbounded: true });
  const stream = api.watchEvents({ ledgerId: ledger.id })[Symbol.asyncIterator]();
  const checkpoint = await stream.next();
  expect(checkpoint.value).toMatchObject({ kind: "checkpoint" });
  const total = 3000;
  for (let start = 0; start < total; start += 1000) {
    await writer.recordEntries({
      atomic: false,
      entries: Array.from({ length: 1000 }, (_, i) => ({
        ledgerId: ledger.id,
        operation: "CREDIT_ADD",
        amount: 1n,
        idempotencyKey: uniqueKey(`slow-${start + i}`),
      })),
    });
  }
  // The client has read nothing since the checkpoint: the server's buffer filled up.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const sequences: bigint[] = [];
  const failure = await failureOf(
    (async () => {
      for (let next = await stream.next(); !next.done; next = await stream.next()) {
        if (next.value.kind === "entry") {
          sequences.push(next.value.entry.sequence);
        }
      }
    })(),
  );
  expectRefusal(failure, "RESOURCE_EXHAUSTED", "CONSUMER_TOO_SLOW");
  expect(sequences.length).toBeLessThan(total);
  const cursor = failure.metadata.cursor ?? "";
  const rest = await collect(
    api,
    cursor === "" ? { ledgerId: ledger.id, afterSequence: 0n } : { ledgerId: ledger.id, cursor },
    (seen) => seen.filter((e) => e.kind === "entry").length === total - sequences.length,
  );
  for (const event of rest) {
    if (event.kind === "entry") {
      sequences.push(event.entry.sequence);
    }
  }
  expect(sequences).toEqual(Array.from({ length: total }, (_, i) => BigInt(i + 1)));
}, 60_000);
