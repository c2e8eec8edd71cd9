/**
 * Two service processes (`npm start`'s main.ts) on one PostgreSQL, driven
 * together: every write is sent to both replicas at once under the same
 * idempotency key, transfers cross the same ledgers through both, and a
 * WatchEntries stream on one replica sees what the other wrote. Exactly once
 * per key across replicas, balances that add up, and every invariant
 * (`npm run verify`'s check) holds afterwards.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyInvariants } from "../../src/store/index.js";
import { type ServiceProcess, startService } from "../faults/support/service-process.js";
import { ledgerClient, openLedgers } from "../faults/support/write-load.js";
import { openClient } from "../support/clients.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { mapBounded } from "../support/fixtures.js";
import { freePort } from "../support/ports.js";

const START_TIMEOUT_MS = 90_000;
const WRITES = 120;

let database: TestDatabase;
let replicas: ServiceProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  const env = { WATCH_POLL_INTERVAL_MS: "100", MIGRATE_ON_START: "false" };
  replicas = await Promise.all(
    [0, 1].map(async () =>
      startService({ databaseUrl: database.url, port: await freePort(), env }),
    ),
  );
}, START_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all(replicas.map((replica) => replica.stop()));
  await database?.drop();
}, START_TIMEOUT_MS);

describe("two replicas on one database", () => {
  it("write once per key, move money consistently, and stream each other's writes", async () => {
    const [a, b] = replicas.map((replica) => ledgerClient(replica.port));
    if (a === undefined || b === undefined) {
      throw new Error("two replicas expected");
    }
    const [source, ...wallets] = await openLedgers(a, `replicas-${randomUUID().slice(0, 8)}`, 4);
    const watched = wallets[0] as string;
    const watcher = openClient(
      "connect",
      `http://127.0.0.1:${(replicas[1] as ServiceProcess).port}`,
    );
    const stop = new AbortController();
    const streamed: bigint[] = [];
    const streaming = (async () => {
      for await (const entry of watcher.watchEntries(
        { ledgerId: watched, afterSequence: 0n },
        stop.signal,
      )) {
        streamed.push(entry.sequence);
      }
    })();

    // Each write goes to both replicas at once under one key: one effect, two equal answers.
    const answers = await mapBounded(
      Array.from({ length: WRITES }, (_, i) => i),
      16,
      async (i) => {
        const request = {
          fromLedgerId:
            i % 3 === 0 ? (source as string) : (wallets[(i + 1) % wallets.length] as string),
          toLedgerId: wallets[i % wallets.length] as string,
          amount: i % 3 === 0 ? 10n : 1n,
          idempotencyKey: `replicas-${i}-${randomUUID()}`,
        };
        const [viaA, viaB] = await Promise.allSettled([a.transfer(request), b.transfer(request)]);
        return { request, viaA, viaB };
      },
    );
    let landed = 0;
    let answeredByBoth = 0;
    for (const { viaA, viaB } of answers) {
      const made = [viaA, viaB].flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
      // A refusal (funds) uses no key, so the other replica may then make it: one effect at most.
      if (made.length === 0) {
        continue;
      }
      expect(new Set(made.map((r) => r.transaction?.id)).size).toBe(1);
      expect(made.filter((r) => !r.replayed)).toHaveLength(1);
      landed += 1;
      answeredByBoth += made.length === 2 ? 1 : 0;
    }
    expect(landed).toBeGreaterThan(WRITES / 3);
    // The replay across replicas happened: both answered with the one transaction.
    expect(answeredByBoth).toBeGreaterThan(WRITES / 4);

    const ledger = await b.getLedger({ ledgerId: watched });
    await expect
      .poll(() => streamed.length, { timeout: 10_000 })
      .toBe(Number(ledger.ledger?.version));
    stop.abort();
    await streaming;
    expect(streamed).toEqual(streamed.map((_, i) => BigInt(i + 1)));

    let total = 0n;
    for (const id of [source, ...wallets] as string[]) {
      total += (await a.getLedger({ ledgerId: id })).ledger?.balance ?? 0n;
    }
    expect(total).toBe(0n);
    expect(await verifyInvariants(database.url)).toEqual([]);
    watcher.close();
  }, 120_000);
});
