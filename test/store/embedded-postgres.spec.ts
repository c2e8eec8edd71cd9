/**
 * The embedded PostgreSQL used when no DATABASE_URL is set: data survive a
 * stop and a start of the same data directory, resolveDatabase says where the
 * data live, and a store whose server goes away fails fast with
 * STORE_UNAVAILABLE.
 */
import { spawnSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  migrate,
  openStore,
  resolveDatabase,
  startEmbeddedPostgres,
} from "../../src/store/index.js";
import { createInput, entryInput, rejection } from "./store-fixtures.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ledger-embedded-spec-"));
  // mkdtemp makes it private; the postgres user must be able to pass through it.
  await chmod(dir, 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("embedded PostgreSQL", () => {
  it("keeps ledgers and entries across a stop and a start of the same data directory", async () => {
    const dataDir = join(dir, "persistent", "pg");
    const logs: { message: string; fields?: object }[] = [];
    const first = await resolveDatabase({ LEDGER_DATA_DIR: dataDir }, (message, fields) =>
      logs.push({ message, ...(fields === undefined ? {} : { fields }) }),
    );
    expect(first.embedded).toBe(true);
    expect(logs.some((log) => JSON.stringify(log.fields ?? {}).includes(dataDir))).toBe(true);

    await migrate(first.url);
    const store = await openStore({ databaseUrl: first.url });
    const { value: ledger } = await store.createLedger(createInput());
    const { value: entry } = await store.recordEntry(entryInput(ledger.id, "CREDIT_ADD", 42n));
    await store.close();
    await first.stop();

    const second = await startEmbeddedPostgres({ dataDir });
    try {
      await migrate(second.url);
      const reopened = await openStore({ databaseUrl: second.url });
      try {
        expect(await reopened.getLedger(ledger.id)).toMatchObject({
          balanceMinor: 42n,
          version: 1n,
        });
        const page = await reopened.listEntries({
          ledgerId: ledger.id,
          pageSize: 0,
          pageToken: "",
          occurredAfter: undefined,
          occurredBefore: undefined,
        });
        expect(page.items).toEqual([entry]);
      } finally {
        await reopened.close();
      }
    } finally {
      await second.stop();
    }
  });

  it("fails calls fast with STORE_UNAVAILABLE once its server is stopped", async () => {
    const database = await startEmbeddedPostgres({ dataDir: join(dir, "stopping", "pg") });
    await migrate(database.url);
    const store = await openStore({ databaseUrl: database.url });
    try {
      const { value: ledger } = await store.createLedger(createInput());
      await database.stop();
      const started = Date.now();
      await rejection(store.getLedger(ledger.id), "STORE_UNAVAILABLE");
      await rejection(
        store.recordEntry(entryInput(ledger.id, "CREDIT_ADD", 1n)),
        "STORE_UNAVAILABLE",
      );
      await rejection(store.ping(), "STORE_UNAVAILABLE");
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await store.close();
      await database.stop();
    }
  });

  it("explains a data directory the postgres user cannot reach", async () => {
    if (process.getuid?.() !== 0) {
      return;
    }
    const hidden = join(dir, "private");
    await mkdir(hidden, { mode: 0o700 });
    await chmod(hidden, 0o700);
    await expect(startEmbeddedPostgres({ dataDir: join(hidden, "deeper", "pg") })).rejects.toThrow(
      /private is not searchable by that user.*chmod o\+x/,
    );
    expect((await stat(hidden)).mode & 0o7777, "reported, never changed").toBe(0o700);
  });

  it("refuses a data directory that holds something other than a cluster", async () => {
    const dataDir = join(dir, "occupied");
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, "notes.txt"), "not a cluster");
    await expect(startEmbeddedPostgres({ dataDir })).rejects.toThrow(/PG_VERSION/);
  });

  it("uses DATABASE_URL as it is when set, without starting anything", async () => {
    const logs: string[] = [];
    const url = "postgres://user:secret@db.example:5432/ledger";
    const resolved = await resolveDatabase({ DATABASE_URL: url }, (message, fields) =>
      logs.push(`${message} ${JSON.stringify(fields)}`),
    );
    expect(resolved).toMatchObject({ url, embedded: false });
    await resolved.stop();
    expect(logs.join("\n")).not.toContain("secret");
  });

  it("leaves a process's own exit code alone, and ends it without an error, after a cluster ran", async () => {
    // The library's exit hooks used to force exit 0 ("beforeExit") or throw
    // "done is not a function" as the process ended ("exit").
    const dataDir = join(dir, "exit-code", "pg");
    const script = `
      import { startEmbeddedPostgres } from "./src/store/embedded-postgres.ts";
      const db = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)} });
      await db.stop();
      process.exitCode = 3;
    `;
    const run = spawnSync(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      {
        cwd: join(import.meta.dirname, "..", ".."),
        encoding: "utf8",
        timeout: 60_000,
      },
    );
    expect(run.stderr).not.toMatch(/Error/);
    expect(run.status).toBe(3);
  });
});
