/**
 * The embedded PostgreSQL used when no DATABASE_URL is set: data survive a
 * stop and a start of the same data directory, resolveDatabase says where the
 * data live, and a store whose server goes away fails fast with
 * STORE_UNAVAILABLE.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
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
          reference: "",
          externalTransactionId: "",
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

  it("never changes the mode of a directory it did not create, such as a shared 1777 parent", async () => {
    const shared = join(dir, "shared-parent");
    await mkdir(shared);
    await chmod(shared, 0o1777);
    const database = await startEmbeddedPostgres({ dataDir: join(shared, "made", "pg") });
    await database.stop();
    expect((await stat(shared)).mode & 0o7777).toBe(0o1777);
    expect((await stat(join(shared, "made"))).mode & 0o7777, "created here").toBe(0o755);
  });

  it("gives each data directory a random superuser password, kept in a file only its owner reads", async () => {
    const dataDir = join(dir, "password", "pg");
    const database = await startEmbeddedPostgres({ dataDir });
    try {
      const password = decodeURIComponent(new URL(database.url).password);
      expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);
      const file = join(dataDir, "ledger-superuser.password");
      expect((await readFile(file, "utf8")).trim()).toBe(password);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      await expect(query(withPassword(database.url, "postgres"), "select 1")).rejects.toThrow(
        /password authentication failed/,
      );
      expect(await query(database.url, "select 1 as one")).toEqual([{ one: 1 }]);
    } finally {
      await database.stop();
    }
  });

  it("replaces the fixed password of a data directory made before passwords were random", async () => {
    const dataDir = join(dir, "legacy", "pg");
    const first = await startEmbeddedPostgres({ dataDir });
    await query(first.url, "alter role postgres password 'postgres'");
    await first.stop();
    await rm(join(dataDir, "ledger-superuser.password"));

    const notices: string[] = [];
    const second = await startEmbeddedPostgres({ dataDir, onNotice: (m) => notices.push(m) });
    try {
      expect(notices.join("\n")).toMatch(/replaced the fixed superuser password/);
      expect(decodeURIComponent(new URL(second.url).password)).not.toBe("postgres");
      await expect(query(withPassword(second.url, "postgres"), "select 1")).rejects.toThrow(
        /password authentication failed/,
      );
      expect(await query(second.url, "select 1 as one")).toEqual([{ one: 1 }]);
    } finally {
      await second.stop();
    }
  });

  it("refuses a data directory of another PostgreSQL version, saying which", async () => {
    const dataDir = join(dir, "version", "pg");
    await (await startEmbeddedPostgres({ dataDir })).stop();
    await writeFile(join(dataDir, "PG_VERSION"), "99\n");
    await expect(startEmbeddedPostgres({ dataDir })).rejects.toThrow(
      /holds a PostgreSQL 99 cluster, but the embedded PostgreSQL is version 18/,
    );
  });

  it("refuses a data directory in use by a running service, naming that process", async () => {
    const dataDir = join(dir, "in-use", "pg");
    const holder = await holdCluster(dataDir);
    try {
      await expect(startEmbeddedPostgres({ dataDir })).rejects.toThrow(
        new RegExp(`in use by the service with PID ${holder.pid} `),
      );
    } finally {
      holder.kill("SIGTERM");
      await once(holder, "exit");
    }
  });

  it("stops the orphaned PostgreSQL of a SIGKILLed service and starts on its data", async () => {
    const dataDir = join(dir, "orphan", "pg");
    const holder = await holdCluster(dataDir);
    holder.kill("SIGKILL");
    await once(holder, "exit");
    const orphanPid = Number(
      (await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0],
    );
    expect(isRunning(orphanPid), "the postmaster outlives its service").toBe(true);

    const notices: object[] = [];
    const database = await startEmbeddedPostgres({
      dataDir,
      onNotice: (message, fields) => notices.push({ message, ...fields }),
    });
    try {
      expect(isRunning(orphanPid)).toBe(false);
      expect(notices).toEqual([
        expect.objectContaining({
          message: expect.stringMatching(/orphaned/),
          postmaster_pid: orphanPid,
        }),
      ]);
      expect(await query(database.url, "select count(*)::int as n from held")).toEqual([{ n: 1 }]);
    } finally {
      await database.stop();
    }
  });

  it("fails a start loudly, with PostgreSQL's own last log lines, when PostgreSQL exits during it", async () => {
    const dataDir = join(dir, "bad-setting", "pg");
    await (await startEmbeddedPostgres({ dataDir })).stop();
    await expect(
      startEmbeddedPostgres({ dataDir, settings: { shared_buffers: "nonsense" } }),
    ).rejects.toThrow(
      /exited during start \(exit code 1\)[\s\S]*invalid value for parameter "shared_buffers"/,
    );
  });

  it("restarts a supervised PostgreSQL that was SIGKILLed, on the same URL", async () => {
    const dataDir = join(dir, "supervised", "pg");
    const events: string[] = [];
    const restarted = deferred<void>();
    const database = await startEmbeddedPostgres({
      dataDir,
      supervise: {
        onDied: () => events.push("died"),
        onRestartFailed: () => events.push("restart failed"),
        onRestarted: () => {
          events.push("restarted");
          restarted.resolve();
        },
        onGaveUp: (error) => restarted.reject(error),
      },
    });
    try {
      await query(database.url, "create table kept (n int); insert into kept values (7)");
      process.kill(await postmasterPid(dataDir), "SIGKILL");
      await restarted.promise;
      expect(events.slice(0, 1)).toEqual(["died"]);
      expect(events.at(-1)).toBe("restarted");
      expect(await query(database.url, "select n from kept")).toEqual([{ n: 7 }]);
    } finally {
      await database.stop();
    }
  });

  it("gives a supervised PostgreSQL up, with the reason, once restarts keep failing", async () => {
    const dataDir = join(dir, "given-up", "pg");
    const gaveUp = deferred<Error>();
    const failures: string[] = [];
    const database = await startEmbeddedPostgres({
      dataDir,
      supervise: {
        onDied: () => {},
        onRestartFailed: (error) => failures.push(String(error)),
        onRestarted: () => gaveUp.reject(new Error("restarted on a taken port")),
        onGaveUp: (error) => gaveUp.resolve(error),
      },
    });
    // The port is taken by another program as PostgreSQL dies: every restart fails.
    const port = Number(new URL(database.url).port);
    const squatter = createServer();
    process.kill(await postmasterPid(dataDir), "SIGKILL");
    await waitUntil(() => listenOn(squatter, port));
    try {
      const error = await gaveUp.promise;
      expect(error.message).toMatch(/restarts in a row failed/);
      expect(failures.length).toBeGreaterThan(1);
      expect(failures.join("\n")).toMatch(/port \d+ on 127.0.0.1 is taken by another program/);
    } finally {
      squatter.close();
      await database.stop();
    }
  }, 60_000);
});

/** A child process that starts a cluster on `dataDir`, creates a table, and holds it until signalled. */
async function holdCluster(dataDir: string): Promise<ChildProcess> {
  const script = `
    import pg from "pg";
    import { startEmbeddedPostgres } from "./src/store/embedded-postgres.ts";
    const db = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)} });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query("create table held (n int); insert into held values (1)");
    await client.end();
    process.on("SIGTERM", () => db.stop().then(() => process.exit(0)));
    process.stdout.write("held\\n");
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: join(import.meta.dirname, "..", ".."),
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [line] = (await once(
    createInterface({ input: child.stdout as NodeJS.ReadableStream }),
    "line",
  )) as [string];
  expect(line).toBe("held");
  return child;
}

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query(sql);
    return (Array.isArray(result) ? result.at(-1) : result).rows;
  } finally {
    await client.end();
  }
}

function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = password;
  return parsed.toString();
}

async function postmasterPid(dataDir: string): Promise<number> {
  return Number((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function listenOn(server: Server, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => resolve(true));
  });
}

async function waitUntil(condition: () => Promise<boolean>): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    if (await condition()) {
      return;
    }
    await sleep(10);
  }
  throw new Error("condition not met within 2 s");
}

function deferred<T>() {
  let resolve: (value: T) => void = () => {};
  let reject: (error: unknown) => void = () => {};
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
