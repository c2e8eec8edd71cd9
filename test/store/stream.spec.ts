/**
 * The stream's positions in the store: a position is final only once every
 * writer that could still commit one below it has ended (streamHorizon
 * waits for a writer holding one, and never passes it); an app's and a
 * ledger's pages; and the migration that numbers what was stored before
 * the stream existed, in each ledger's order, holds included; the sweep's
 * EXPIRED step, once with two stores sweeping.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate, verifyInvariants } from "../../src/store/index.js";
import { initOrm } from "../../src/store/orm.js";
import { HORIZON_WAIT_MS } from "../../src/store/queries/stream.js";
import {
  entryInput,
  openLedger,
  transferInput,
  uniqueKey,
  useClockedStores,
} from "./store-fixtures.js";

const harness = useClockedStores();
const store = () => harness.store();
let sql: pg.Client;

beforeAll(async () => {
  sql = new pg.Client({ connectionString: harness.databaseUrl() });
  await sql.connect();
});
afterAll(async () => {
  await sql?.end();
});

async function positionOf(entryId: string): Promise<bigint> {
  const { rows } = await sql.query("select stream_position::text as p from entries where id = $1", [
    entryId,
  ]);
  return BigInt(rows[0].p);
}

describe("streamHorizon", () => {
  it("stays below a position an open writer holds, and passes it once that writer ends", async () => {
    const ledger = await openLedger(store());
    // A writer elsewhere: its transaction id taken, then a position drawn, not yet committed.
    const writer = new pg.Client({ connectionString: harness.databaseUrl() });
    await writer.connect();
    try {
      await writer.query("begin");
      await writer.query("select pg_current_xact_id()");
      const held = BigInt(
        (await writer.query("select nextval('ledger_stream_seq')::text as p")).rows[0].p,
      );
      const { value: entry } = await store().recordEntry(entryInput(ledger.id, "CREDIT_ADD", 5n));
      const after = await positionOf(entry.id);
      expect(after).toBeGreaterThan(held);

      const started = Date.now();
      const blocked = await store().streamHorizon();
      expect(blocked).toBeLessThan(held);
      expect(Date.now() - started).toBeGreaterThanOrEqual(HORIZON_WAIT_MS);
      const page = await store().streamPage({ ledgerId: ledger.id }, 0n, blocked, 100);
      expect(page.events).toEqual([]);

      await writer.query("rollback");
      const passed = await store().streamHorizon();
      expect(passed).toBeGreaterThanOrEqual(after);
      const events = (await store().streamPage({ ledgerId: ledger.id }, 0n, passed, 100)).events;
      expect(events.map((e) => e.position)).toEqual([after]);
    } finally {
      await writer.end();
    }
  }, 20_000);
});

describe("streamPage", () => {
  it("pages an app's entries and hold steps in position order, and none of another app's", async () => {
    const a = await openLedger(store(), 10n);
    const b = await openLedger(store(), 0n, { app: a.app });
    const foreign = await openLedger(store(), 4n);
    const hold = await store().transfer(
      transferInput(a.id, b.id, 3n, { hold: { expiresAt: undefined } }),
    );
    await store().voidPendingTransaction({
      transactionId: hold.value.id,
      idempotencyKey: uniqueKey(),
    });
    await store().transfer(transferInput(a.id, b.id, 2n));
    const upTo = await store().streamHorizon();
    const all = (await store().streamPage({ app: a.app }, 0n, upTo, 100)).events;
    const described = all.map((e) =>
      e.kind === "entry"
        ? `${e.entry.ledgerId === a.id ? "a" : "b"}${e.entry.amountMinor}`
        : e.step,
    );
    expect(described).toEqual(["a10", "PENDING", "VOIDED", "a-2", "b2"]);
    const positions = all.map((e) => e.position);
    expect(positions).toEqual([...positions].sort((x, y) => (x < y ? -1 : 1)));
    const paged = [
      ...(await store().streamPage({ app: a.app }, 0n, upTo, 2)).events,
      ...(await store().streamPage({ app: a.app }, positions[1] ?? 0n, upTo, 100)).events,
    ];
    expect(paged.map((e) => e.position)).toEqual(positions);
    const ofB = (await store().streamPage({ ledgerId: b.id }, 0n, upTo, 100)).events;
    expect(ofB.map((e) => (e.kind === "entry" ? `b${e.entry.amountMinor}` : e.step))).toEqual([
      "PENDING",
      "VOIDED",
      "b2",
    ]);
    expect(all.some((e) => e.kind === "entry" && e.entry.ledgerId === foreign.id)).toBe(false);
  });
});

describe("the stream migration", () => {
  it("numbers what was stored before it in each ledger's order, holds included", async () => {
    const a = await openLedger(store(), 10n);
    const b = await openLedger(store(), 0n, { app: a.app });
    for (let i = 0; i < 3; i += 1) {
      await store().transfer(transferInput(a.id, b.id, 1n));
      await store().recordEntry(entryInput(b.id, "CREDIT_ADD", 1n));
    }
    const open = await store().transfer(
      transferInput(a.id, b.id, 2n, { hold: { expiresAt: undefined } }),
    );
    const posted = await store().transfer(
      transferInput(b.id, a.id, 1n, { hold: { expiresAt: undefined } }),
    );
    await store().postPendingTransaction({
      transactionId: posted.value.id,
      amountMinor: undefined,
      idempotencyKey: uniqueKey(),
    });
    const orm = await initOrm(harness.databaseUrl(), { poolSizeMax: 1, connectTimeoutMs: 5000 });
    try {
      await orm.migrator.down();
    } finally {
      await orm.close(true);
    }
    await migrate(harness.databaseUrl());
    expect(await verifyInvariants(harness.databaseUrl())).toEqual([]);
    const { rows } = await sql.query(
      `select id::text, created_position::text, resolved_position::text from transactions
        where id = any($1::uuid[]) order by created_position`,
      [[open.value.id, posted.value.id]],
    );
    expect(
      rows.map((row) => [row.id, row.created_position !== null, row.resolved_position !== null]),
    ).toEqual([
      [open.value.id, true, false],
      [posted.value.id, true, true],
    ]);
    // New positions come after every renumbered one.
    const { value: later } = await store().recordEntry(entryInput(a.id, "CREDIT_ADD", 1n));
    const { rows: max } = await sql.query(
      `select greatest((select max(stream_position) from entries where id <> $1),
                       (select max(resolved_position) from transactions))::text as p`,
      [later.id],
    );
    expect(await positionOf(later.id)).toBeGreaterThan(BigInt(max[0].p));
  });
});

describe("the hold sweep", () => {
  it("streams a hold's EXPIRED step once, though two stores sweep", async () => {
    const ledger = await openLedger(store(), 5n);
    const { value: hold } = await store().holdEntry(
      entryInput(ledger.id, "CREDIT_SPEND", -2n, {
        hold: { expiresAt: new Date(harness.clock().getTime() + 60_000) },
      }),
    );
    harness.moveClock(120_000);
    await Promise.all([store().expireHolds(), harness.other().expireHolds()]);
    const upTo = await store().streamHorizon();
    const steps = (await store().streamPage({ ledgerId: ledger.id }, 0n, upTo, 100)).events.map(
      (e) =>
        e.kind === "hold" ? `${e.step} ${e.hold.id === hold.id}` : `entry ${e.entry.amountMinor}`,
    );
    expect(steps).toEqual(["entry 5", "PENDING true", "EXPIRED true"]);
  });
});
