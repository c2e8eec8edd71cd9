/**
 * The expiry sweep of real service processes (src/server/main.ts, as `npm
 * start` runs it) on one database:
 *
 * - two processes sweeping every 100 ms close each of 60 ledgers that pass
 *   their valid_until exactly once: every one TERMINATED, one EXPIRY
 *   transfer for each that held a positive balance (its open holds voided
 *   first), none for an empty one, the "expired" ledger credited with the
 *   sum, and the two processes' "ledger expired" lines naming each ledger
 *   once between them;
 * - a process SIGKILLed in the middle of a sweep of 1,600 due ledgers (four
 *   batches of at most 500), as soon as the first of them is closed: `npm run
 *   expire` afterwards closes exactly the rest, so every ledger is closed
 *   once, none twice, none left, and the money is all on the expired ledger.
 *
 * Each ends with the store's audit (verifyInvariants) finding nothing.
 */
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyInvariants } from "../../src/store/index.js";
import { type ServiceProcess, startService } from "../faults/support/service-process.js";
import { type LedgerApi, openClient } from "../support/clients.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { declaredApp, mapBounded, uniqueKey } from "../support/fixtures.js";
import { freePort } from "../support/ports.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

interface Card {
  readonly id: string;
  /** Its balance when it expired. */
  readonly balance: bigint;
  /** The open hold it had, voided by the sweep. */
  readonly holdId?: string;
}

/** The "ledger expired" lines (info, or warn with a balance left) a process logged for `app`. */
function expiredLines(service: ServiceProcess, app: string) {
  return service
    .events()
    .map(
      (line) =>
        JSON.parse(line) as {
          msg?: string;
          app?: string;
          ledger_id?: string;
          moved_minor?: string;
          remaining_minor?: string;
        },
    )
    .filter((event) => event.msg?.startsWith("ledger expired") === true && event.app === app);
}

/** Opens the app's unbounded "expired" ledger. */
async function openExpiredLedger(api: LedgerApi, app: string): Promise<string> {
  const { value } = await api.createLedger({
    app,
    ownerId: "expired",
    unit: "CREDITS",
    idempotencyKey: uniqueKey("expired"),
    unbounded: true,
  });
  return value.id;
}

/** A card expiring into `expiredId` at `validUntil`, funded with `funds` (none when 0). */
async function openCard(
  api: LedgerApi,
  app: string,
  owner: string,
  expiredId: string,
  validUntil: Date,
  funds: bigint,
): Promise<string> {
  const { value: card } = await api.createLedger({
    app,
    ownerId: owner,
    unit: "CREDITS",
    idempotencyKey: uniqueKey("card"),
    validUntil,
    expireToLedgerId: expiredId,
  });
  if (funds > 0n) {
    await api.recordEntry({
      ledgerId: card.id,
      operation: "CREDIT_ADD",
      amount: funds,
      idempotencyKey: uniqueKey("fund"),
    });
  }
  return card.id;
}

/** Per ledger of `ids`: its status, balance and how many EXPIRY entries it has. */
async function closedState(databaseUrl: string, ids: readonly string[]) {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{
      id: string;
      status: string;
      balance: string;
      expiry_entries: string;
    }>(
      `select l.id, l.status, l.balance::text,
              (select count(*) from entries e
                where e.ledger_id = l.id and e.operation = 'EXPIRY')::text as expiry_entries
         from ledgers l where l.id = any($1::uuid[])`,
      [ids],
    );
    return new Map(
      rows.map((row) => [
        row.id,
        { status: row.status, balance: BigInt(row.balance), expiries: Number(row.expiry_entries) },
      ]),
    );
  } finally {
    await db.end();
  }
}

async function terminatedCount(db: pg.Client, ids: readonly string[]): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    "select count(*)::int as n from ledgers where id = any($1::uuid[]) and status = 'TERMINATED'",
    [ids],
  );
  return rows[0]?.n ?? 0;
}

/** Every card closed exactly once: TERMINATED, empty, one EXPIRY entry when it had a balance. */
async function expectEachClosedOnce(
  databaseUrl: string,
  expiredId: string,
  cards: readonly Card[],
): Promise<void> {
  const states = await closedState(databaseUrl, [expiredId, ...cards.map((c) => c.id)]);
  const wrong = cards.filter((card) => {
    const s = states.get(card.id);
    return (
      s === undefined ||
      s.status !== "TERMINATED" ||
      s.balance !== 0n ||
      s.expiries !== (card.balance > 0n ? 1 : 0)
    );
  });
  expect(
    wrong.map((card) => ({ card, state: states.get(card.id) })),
    "cards not closed exactly once",
  ).toEqual([]);
  const funded = cards.filter((card) => card.balance > 0n);
  expect(states.get(expiredId)).toEqual({
    status: "ACTIVE",
    balance: funded.reduce((sum, card) => sum + card.balance, 0n),
    expiries: funded.length,
  });
}

describe("two processes sweeping one database", () => {
  const CARDS = 60;
  const SWEEP_ENV = { EXPIRY_SWEEP_INTERVAL_MS: "100", LOG_LEVEL: "info" };
  let database: TestDatabase;
  const services: ServiceProcess[] = [];
  let api: LedgerApi | undefined;

  beforeAll(async () => {
    database = await createTestDatabase();
    for (let i = 0; i < 2; i += 1) {
      services.push(
        await startService({ databaseUrl: database.url, port: await freePort(), env: SWEEP_ENV }),
      );
    }
  }, 120_000);

  afterAll(async () => {
    api?.close();
    await Promise.all(services.map((service) => service.stop()));
    await database?.drop();
  });

  it("close each expired ledger exactly once: holds voided, the positive balance moved (EXPIRY), terminated", async () => {
    const [first, second] = services;
    if (first === undefined || second === undefined) throw new Error("services not started");
    const client = openClient("connect", `http://127.0.0.1:${first.port}`);
    api = client;
    const app = declaredApp();
    const expiredId = await openExpiredLedger(client, app);
    // Due at 20 instants a sweep interval apart, so both processes' sweeps keep finding some.
    const firstDue = Date.now() + 4_000;
    const validUntil = (i: number) => new Date(firstDue + (i % 20) * 100);
    // Every sixth card is empty; every sixth (another) has an open hold of 30 on 100.
    const cards = await mapBounded(
      Array.from({ length: CARDS }, (_, i) => i),
      6,
      async (i): Promise<Card> => {
        const funds = i % 6 === 0 ? 0n : i % 6 === 1 ? 100n : BigInt(i + 1);
        const id = await openCard(client, app, `owner-${i}`, expiredId, validUntil(i), funds);
        if (i % 6 !== 1) {
          return { id, balance: funds };
        }
        const { value: hold } = await client.recordEntry({
          ledgerId: id,
          operation: "CREDIT_SPEND",
          amount: -30n,
          idempotencyKey: uniqueKey("hold"),
          pending: true,
          pendingExpiresAt: new Date(Date.now() + 3_600_000),
        });
        return { id, balance: funds, holdId: hold.id };
      },
    );
    expect(Date.now(), "the cards were set up before they expire").toBeLessThan(firstDue);
    expect(await client.getBalance({ ledgerId: expiredId })).toMatchObject({ balance: 0n });

    const ids = cards.map((card) => card.id);
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      const deadline = Date.now() + 30_000;
      while ((await terminatedCount(db, ids)) < CARDS && Date.now() < deadline) {
        await sleep(100);
      }
    } finally {
      await db.end();
    }
    // A few more sweeps of each process: nothing is closed twice.
    await sleep(600);

    await expectEachClosedOnce(database.url, expiredId, cards);
    const lines = [...expiredLines(first, app), ...expiredLines(second, app)];
    console.log(
      `expiry sweep: ${expiredLines(first, app).length} + ${expiredLines(second, app).length} ledgers closed by the two processes`,
    );
    expect(lines.map((line) => line.ledger_id).sort()).toEqual([...ids].sort());
    const byId = new Map(cards.map((card) => [card.id, card]));
    for (const line of lines) {
      expect(line).toMatchObject({
        msg: "ledger expired",
        moved_minor: String(byId.get(line.ledger_id ?? "")?.balance),
        remaining_minor: "0",
      });
    }
    for (const card of cards.filter((c) => c.holdId !== undefined)) {
      const hold = await client.getTransaction({ transactionId: card.holdId ?? "" });
      expect(hold.state).toBe("VOIDED");
      expect(await client.getLedger(card.id)).toMatchObject({
        status: "TERMINATED",
        balance: 0n,
        pendingDebits: 0n,
        version: 2n,
      });
    }
    const [empty] = cards;
    expect(await client.getLedger(empty?.id ?? "")).toMatchObject({
      status: "TERMINATED",
      version: 0n,
    });
    expect(await verifyInvariants(database.url)).toEqual([]);
  }, 60_000);
});

describe("a process killed in the middle of a sweep", () => {
  const CARDS = 1_600;
  let database: TestDatabase;
  /** Serves the set-up and never sweeps. */
  let creator: ServiceProcess | undefined;
  let sweeper: ServiceProcess | undefined;
  let api: LedgerApi | undefined;

  beforeAll(async () => {
    database = await createTestDatabase();
    creator = await startService({
      databaseUrl: database.url,
      port: await freePort(),
      env: { EXPIRY_SWEEP_INTERVAL_MS: "0" },
    });
  }, 120_000);

  afterAll(async () => {
    api?.close();
    await sweeper?.kill();
    await creator?.stop();
    await database?.drop();
  });

  it("closes every ledger exactly once after the crash, the rest by `npm run expire`", async () => {
    const client = openClient("connect", `http://127.0.0.1:${creator?.port}`);
    api = client;
    const app = declaredApp();
    const expiredId = await openExpiredLedger(client, app);
    const started = Date.now();
    const validUntil = new Date(started + 15_000);
    const cards = await mapBounded(
      Array.from({ length: CARDS }, (_, i) => i),
      12,
      async (i): Promise<Card> => {
        const funds = BigInt((i % 7) + 1);
        const id = await openCard(client, app, `owner-${i}`, expiredId, validUntil, funds);
        return { id, balance: funds };
      },
    );
    console.log(`expiry crash: ${CARDS} cards set up in ${Date.now() - started} ms`);
    expect(Date.now(), "the cards were set up before they expire").toBeLessThan(
      validUntil.getTime(),
    );
    const ids = cards.map((card) => card.id);
    await sleep(Math.max(0, validUntil.getTime() - Date.now()) + 50);

    // The sweeper's first sweep starts a second after it listens: with all 1,600 due.
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    let closedAtKill: number;
    try {
      sweeper = await startService({
        databaseUrl: database.url,
        port: await freePort(),
        env: { EXPIRY_SWEEP_INTERVAL_MS: "1000", LOG_LEVEL: "info" },
      });
      const deadline = Date.now() + 30_000;
      while ((await terminatedCount(db, ids)) === 0 && Date.now() < deadline) {
        await sleep(5);
      }
      await sweeper.kill();
      expect(await sweeper.exited).toBe("SIGKILL");
      closedAtKill = await terminatedCount(db, ids);
    } finally {
      await db.end();
    }
    // A sweep logs what it closed once it is over: the killed one logged nothing.
    console.log(
      `expiry crash: ${closedAtKill} of ${CARDS} closed when the sweeper was killed` +
        ` (it had logged ${expiredLines(sweeper, app).length} "ledger expired" lines)`,
    );
    expect(closedAtKill, "the kill came after the first batch").toBeGreaterThan(0);
    expect(closedAtKill, "the kill came before the last batch").toBeLessThan(CARDS);

    const rerun = await runExpireCli(database.url);
    expect(rerun.code).toBe(0);
    const lines = rerun.stdout.trimEnd().split("\n");
    expect(lines.at(-1)).toBe(`${CARDS - closedAtKill} ledger(s) expired`);
    const closedNow = lines.slice(0, -1).map((line) => line.split(" ")[0]);
    expect(new Set(closedNow).size).toBe(CARDS - closedAtKill);
    expect(closedNow.every((id) => ids.includes(id ?? ""))).toBe(true);

    await expectEachClosedOnce(database.url, expiredId, cards);
    expect(await runExpireCli(database.url)).toEqual({ code: 0, stdout: "0 ledger(s) expired\n" });
    expect(await verifyInvariants(database.url)).toEqual([]);
  }, 120_000);
});

/** `npm run expire` (src/store/expire-cli.ts) on `databaseUrl`: its exit code and stdout. */
async function runExpireCli(databaseUrl: string): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(`${ROOT}node_modules/.bin/tsx`, ["src/store/expire-cli.ts"], {
    cwd: ROOT,
    env: {
      PATH: `${ROOT}node_modules/.bin:${process.env.PATH ?? ""}`,
      DATABASE_URL: databaseUrl,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  child.stderr?.resume();
  // "close", not "exit": once stdout is read to its end.
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  return { code, stdout };
}
