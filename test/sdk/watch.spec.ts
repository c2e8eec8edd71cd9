import { describe, expect, it } from "vitest";
import {
  createContentClient,
  createLedgerClient,
  type Entry,
  LedgerNotFoundError,
  PROTOCOLS,
} from "../../src/sdk/index.js";
import { absentId, uniqueOwner } from "../support/fixtures.js";
import { freePort } from "../support/ports.js";
import { startReplica, useLedgerServer } from "../support/server.js";

const harness = useLedgerServer({ WATCH_POLL_INTERVAL_MS: "100" });

/** A server on the harness's database at `port`. */
function serveOn(port: number, env: Record<string, string> = {}) {
  return startReplica(harness.server().databaseUrl, {
    PORT: String(port),
    WATCH_POLL_INTERVAL_MS: "100",
    SHUTDOWN_GRACE_MS: "0",
    ...env,
  });
}

describe.each(PROTOCOLS)("watch over %s", (protocol) => {
  it("yields every entry once, in order, across a server restart", async () => {
    const writer = createContentClient(
      createLedgerClient({ baseUrl: harness.server().url, protocol: "connect" }),
    );
    const { ledger } = await writer.createLedger({
      ownerId: uniqueOwner("watch"),
      unit: "CREDITS",
    });
    await writer.creditAdd(ledger.id, { amountMinor: 1n });

    const port = await freePort();
    let replica = await serveOn(port);
    const watcher = createLedgerClient({
      baseUrl: `http://127.0.0.1:${port}`,
      protocol,
      retry: { backoffMsInitial: 50, backoffMsMax: 200 },
    });
    const stop = new AbortController();
    const seen: Entry[] = [];
    const reading = (async () => {
      for await (const entry of watcher.watch(ledger.id, {
        fromSequence: 0n,
        signal: stop.signal,
      })) {
        seen.push(entry);
        if (seen.length === 6) {
          stop.abort();
        }
      }
    })();
    try {
      await expect.poll(() => seen.length, { timeout: 10_000 }).toBe(1);
      await writer.creditAdd(ledger.id, { amountMinor: 2n });
      await expect.poll(() => seen.length, { timeout: 10_000 }).toBe(2);
      await replica.close();
      for (const amountMinor of [3n, 4n]) {
        await writer.creditAdd(ledger.id, { amountMinor });
      }
      replica = await serveOn(port);
      for (const amountMinor of [5n, 6n]) {
        await writer.creditAdd(ledger.id, { amountMinor });
      }
      await reading;
    } finally {
      stop.abort();
      watcher.close();
      await replica.close();
    }
    expect(seen.map((e) => [e.sequence, e.amount])).toEqual([
      [1n, 1n],
      [2n, 2n],
      [3n, 3n],
      [4n, 4n],
      [5n, 5n],
      [6n, 6n],
    ]);
  }, 60_000);

  it("rejects with the typed error of a refusal that retrying cannot cure", async () => {
    const client = createLedgerClient({ baseUrl: harness.server().url, protocol });
    try {
      const stream = client.watch(absentId(), { fromSequence: 0n })[Symbol.asyncIterator]();
      await expect(stream.next()).rejects.toBeInstanceOf(LedgerNotFoundError);
    } finally {
      client.close();
    }
  });
});

it("resumes by itself when the server ends a slow reader CONSUMER_TOO_SLOW: every entry once, in order", async () => {
  const writer = createLedgerClient({ baseUrl: harness.server().url, protocol: "connect" });
  const { ledger } = await createContentClient(writer).createLedger({
    ownerId: uniqueOwner("slow"),
    unit: "CREDITS",
  });
  const port = await freePort();
  const replica = await serveOn(port, { WATCH_BUFFER_MAX: "5" });
  const watcher = createLedgerClient({ baseUrl: `http://127.0.0.1:${port}`, protocol: "grpc" });
  const total = 3000;
  let written: () => void = () => {};
  const writesDone = new Promise<void>((resolve) => {
    written = resolve;
  });
  const stop = new AbortController();
  const sequences: bigint[] = [];
  let checkpoints = 0;
  try {
    for await (const event of watcher.watchEvents(
      { ledgerId: ledger.id },
      { signal: stop.signal },
    )) {
      if (event.kind === "checkpoint") {
        checkpoints += 1;
        if (checkpoints === 1) {
          void writeMany(writer, ledger.id, total).then(written);
          await writesDone; // reads nothing meanwhile: the server's buffer fills up
        }
      } else if (event.kind === "entry") {
        sequences.push(event.entry.sequence);
        if (sequences.length === total) {
          stop.abort();
        }
      }
    }
  } finally {
    watcher.close();
    writer.close();
    await replica.close();
  }
  expect(sequences).toEqual(Array.from({ length: total }, (_, i) => BigInt(i + 1)));
  expect(checkpoints).toBeGreaterThan(1); // it was ended, and resumed
}, 60_000);

/** `total` CREDIT_ADD entries of 1 in bulk calls. */
async function writeMany(
  client: ReturnType<typeof createLedgerClient>,
  ledgerId: string,
  total: number,
) {
  const perCall = 1000;
  for (let start = 0; start < total; start += perCall) {
    await client.recordEntries(
      Array.from({ length: perCall }, (_, i) => ({
        ledgerId,
        operation: "CREDIT_ADD",
        amountMinor: 1n,
        idempotencyKey: `slow-${ledgerId}-${start + i}`,
      })),
      { atomic: false },
    );
  }
}
