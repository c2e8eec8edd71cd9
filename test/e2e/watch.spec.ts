import { afterAll, describe, expect, it } from "vitest";
import {
  CLIENT_NAMES,
  type Entry,
  type LedgerApi,
  type WatchEntriesParams,
} from "../support/clients.js";
import { absentId, uniqueKey } from "../support/fixtures.js";
import {
  type Replica,
  startReplica as startReplicaOn,
  useLedgerServer,
} from "../support/server.js";
import { expectRefusal, openLedger, post, streamFailure } from "../support/steps.js";

const POLL_MS = "100";
const harness = useLedgerServer({ WATCH_POLL_INTERVAL_MS: POLL_MS });

const replicas: Replica[] = [];
afterAll(async () => {
  for (const replica of replicas) {
    await replica.close();
  }
});

/** Another server on the harness's database, as a second replica (or the first one restarted). */
async function startReplica(env: Record<string, string> = {}): Promise<Replica> {
  const replica = await startReplicaOn(harness.server().databaseUrl, {
    WATCH_POLL_INTERVAL_MS: POLL_MS,
    ...env,
  });
  replicas.push(replica);
  return replica;
}

/** The first `count` entries the stream sends, then it is cancelled. */
async function take(
  api: LedgerApi,
  params: WatchEntriesParams,
  count: number,
  whileWaiting: (done: () => boolean) => Promise<void> = async () => {},
): Promise<Entry[]> {
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), 20_000);
  const seen: Entry[] = [];
  const reading = (async () => {
    for await (const entry of api.watchEntries(params, stop.signal)) {
      seen.push(entry);
      if (seen.length === count) {
        break;
      }
    }
  })();
  let finished = false;
  const read = reading.finally(() => {
    finished = true;
  });
  try {
    await Promise.all([whileWaiting(() => finished), read]);
  } finally {
    clearTimeout(timer);
    stop.abort();
  }
  return seen;
}

describe.each(CLIENT_NAMES)("over %s", (clientName) => {
  const client = () => harness.client(clientName);

  it("sends the entries after a sequence, then each new one, in sequence order", async () => {
    const ledger = await openLedger(client());
    for (let i = 0; i < 3; i += 1) {
      await post(client(), ledger.id, "CREDIT_ADD", 5n);
    }
    const entries = await take(
      client(),
      { ledgerId: ledger.id, afterSequence: 1n },
      5,
      async () => {
        for (let i = 0; i < 3; i += 1) {
          await post(client(), ledger.id, "CREDIT_ADD", 1n);
        }
      },
    );
    expect(entries.map((e) => e.sequence)).toEqual([2n, 3n, 4n, 5n, 6n]);
    expect(entries.map((e) => e.balanceAfter)).toEqual([10n, 15n, 16n, 17n, 18n]);
  });

  it("without after_sequence, starts from now: only entries committed after the call", async () => {
    const ledger = await openLedger(client());
    await post(client(), ledger.id, "CREDIT_ADD", 5n);
    await post(client(), ledger.id, "CREDIT_ADD", 5n);
    const entries = await take(client(), { ledgerId: ledger.id }, 2, async (done) => {
      // The stream's "now" is when the server reads the ledger: write until two arrive.
      while (!done()) {
        await post(client(), ledger.id, "CREDIT_ADD", 1n);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    });
    const [first, second] = entries.map((e) => e.sequence);
    expect(first).toBeGreaterThan(2n);
    expect(second).toBe((first ?? 0n) + 1n);
  });

  it("resumes exactly once on another server of the database, with writes made elsewhere", async () => {
    const ledger = await openLedger(client());
    const replica = await startReplica();
    const watcher = replica.api(clientName);
    const firstRun = await take(
      watcher,
      { ledgerId: ledger.id, afterSequence: 0n },
      3,
      async () => {
        for (let i = 0; i < 3; i += 1) {
          await post(client(), ledger.id, "CREDIT_ADD", BigInt(i + 1));
        }
      },
    );
    await replica.close();
    for (let i = 3; i < 6; i += 1) {
      await post(client(), ledger.id, "CREDIT_ADD", BigInt(i + 1));
    }
    const restarted = await startReplica();
    const last = firstRun.at(-1)?.sequence ?? 0n;
    const secondRun = await take(
      restarted.api(clientName),
      { ledgerId: ledger.id, afterSequence: last },
      4,
      () => post(client(), ledger.id, "CREDIT_ADD", 7n).then(() => undefined),
    );
    const all = [...firstRun, ...secondRun];
    expect(all.map((e) => e.sequence)).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n]);
    expect(all.map((e) => e.amount)).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n]);
  });

  it("filters to the entries that take the balance below or above a threshold", async () => {
    const ledger = await openLedger(client());
    const entries = await take(
      client(),
      { ledgerId: ledger.id, afterSequence: 0n, balanceBelow: 5n, balanceAbove: 20n },
      3,
      async () => {
        await post(client(), ledger.id, "CREDIT_ADD", 10n); // 10
        await post(client(), ledger.id, "CREDIT_SPEND", -6n); // 4: below 5
        await post(client(), ledger.id, "CREDIT_SPEND", -1n); // 3: still below
        await post(client(), ledger.id, "CREDIT_ADD", 30n); // 33: above 20
        await post(client(), ledger.id, "CREDIT_SPEND", -30n); // 3: below again
      },
    );
    expect(entries.map((e) => [e.sequence, e.balanceAfter])).toEqual([
      [2n, 4n],
      [4n, 33n],
      [5n, 3n],
    ]);
  });

  it("ends the stream of a terminated ledger once every entry was sent", async () => {
    const ledger = await openLedger(client());
    await post(client(), ledger.id, "CREDIT_ADD", 2n);
    await client().terminateLedger(ledger.id);
    const sent: Entry[] = [];
    for await (const entry of client().watchEntries({ ledgerId: ledger.id, afterSequence: 0n })) {
      sent.push(entry);
    }
    expect(sent.map((e) => e.sequence)).toEqual([1n]);
  });

  it("refuses an absent ledger NOT_FOUND and a negative after_sequence INVALID_ARGUMENT", async () => {
    const missing = await streamFailure(client().watchEntries({ ledgerId: absentId() }));
    expectRefusal(missing, "NOT_FOUND", "LEDGER_NOT_FOUND");
    const ledger = await openLedger(client());
    const negative = await streamFailure(
      client().watchEntries({ ledgerId: ledger.id, afterSequence: -1n }),
    );
    expectRefusal(negative, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field: "after_sequence" });
  });

  it("refuses a watcher past WATCHERS_MAX with OVERLOADED, and frees its slot when a stream ends", async () => {
    const replica = await startReplica({ WATCHERS_MAX: "1" });
    const api = replica.api(clientName);
    const ledger = await openLedger(client());
    const first = new AbortController();
    const firstStream = api
      .watchEntries({ ledgerId: ledger.id }, first.signal)
      [Symbol.asyncIterator]();
    const pending = firstStream.next();
    await expect
      .poll(async () => (await streamFailure(api.watchEntries({ ledgerId: ledger.id }))).reason, {
        timeout: 10_000,
      })
      .toBe("OVERLOADED");
    first.abort();
    await pending.catch(() => undefined);
    await post(client(), ledger.id, "CREDIT_ADD", 1n);
    // The slot is freed once the server sees the cancellation.
    const watchOne = () =>
      take(api, { ledgerId: ledger.id, afterSequence: 0n }, 1).then(
        (entries) => entries.length,
        () => 0,
      );
    await expect.poll(watchOne, { timeout: 10_000 }).toBe(1);
  });
});

it("keys a write's idempotency as usual while watched", async () => {
  const api = harness.client("connect");
  const ledger = await openLedger(api);
  const key = uniqueKey("watched");
  const entries = await take(api, { ledgerId: ledger.id, afterSequence: 0n }, 1, async () => {
    await api.recordEntry({
      ledgerId: ledger.id,
      operation: "CREDIT_ADD",
      amount: 3n,
      idempotencyKey: key,
    });
    await api.recordEntry({
      ledgerId: ledger.id,
      operation: "CREDIT_ADD",
      amount: 3n,
      idempotencyKey: key,
    });
  });
  expect(entries.map((e) => e.amount)).toEqual([3n]);
});
