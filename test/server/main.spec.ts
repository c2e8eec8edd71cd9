/**
 * `npm start` as a process: bad configuration exits 1 with every problem
 * named; a good one migrates, serves, logs "listening" with its URL, and exits
 * 0 after SIGTERM once the server, store and database are closed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newToken } from "../../src/server/credentials.js";
import { failureOf, openClient } from "../support/clients.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { expectRefusal } from "../support/steps.js";
import { connectClient } from "./harness.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const START_TIMEOUT_MS = 60_000;

/**
 * main.ts under Node with tsx as a loader, not the `tsx` CLI that `npm start`
 * uses: the CLI runs the server in a child process and, when only the CLI is
 * signalled, SIGKILLs that child unless it acknowledges the relayed signal
 * within 30 ms, a race a loaded test machine can lose.
 */
function start(env: Record<string, string>): ChildProcess {
  return spawn(`${ROOT}node_modules/.bin/node`, ["--import", "tsx", "src/server/main.ts"], {
    cwd: ROOT,
    // No metrics listener unless a test asks: a fixed port would clash between processes.
    env: { PATH: `${ROOT}node_modules/.bin:${process.env.PATH ?? ""}`, METRICS_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

/** Collects the JSON log lines of a child, resolving when one matches. */
function watchLog(child: ChildProcess) {
  const lines: Record<string, unknown>[] = [];
  const waiters: {
    match: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    lines.push(line);
    for (const waiter of waiters.filter((w) => w.match(line))) {
      waiter.resolve(line);
    }
  });
  return {
    lines,
    next(msg: string): Promise<Record<string, unknown>> {
      const found = lines.find((l) => l.msg === msg);
      if (found !== undefined) {
        return Promise.resolve(found);
      }
      return new Promise((resolve) => waiters.push({ match: (l) => l.msg === msg, resolve }));
    },
  };
}

describe("main", () => {
  it("exits 1 naming every bad setting", async () => {
    const { code, stderr } = await run({ PORT: "eighty", SHUTDOWN_GRACE_MS: "-5" });
    expect(code).toBe(1);
    expect(stderr).toContain('PORT: expected an integer in 0..65535, got "eighty"');
    expect(stderr).toContain("SHUTDOWN_GRACE_MS");
  });

  it("refuses a non-loopback HOST in development mode (no credential configured)", async () => {
    const { code, stderr } = await run({ HOST: "0.0.0.0", PORT: "0" });
    expect(code).toBe(1);
    expect(stderr).toContain('HOST: "0.0.0.0" is not a loopback address');
    expect(stderr).toContain("npm run token");
  });

  describe("with a database", () => {
    let database: TestDatabase;
    beforeAll(async () => {
      database = await createTestDatabase();
    }, START_TIMEOUT_MS);
    afterAll(async () => {
      await database?.drop();
    });

    it(
      "serves, then drains and exits 0 on SIGTERM",
      async () => {
        const { child, url, log, listening } = await serve({
          DATABASE_URL: database.url,
          HOST: "127.0.0.1",
        });
        const exit = exited(child);
        expect(listening).toMatchObject({
          database: "external",
          url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
        });
        const { ledger } = await connectClient(url, "1.1").createLedger({
          app: "content",
          ownerId: "main-spec",
          unit: "CREDITS",
          idempotencyKey: "k-main",
        });
        expect(ledger?.ownerId).toBe("main-spec");
        child.kill("SIGTERM");
        expect(await exit).toBe(0);
        expect(log.lines.map((l) => l.msg)).toEqual(
          expect.arrayContaining([
            "migrations applied",
            "listening",
            "rpc",
            "shutting down",
            "stopped",
          ]),
        );
      },
      START_TIMEOUT_MS,
    );

    it(
      "says loudly that it runs in development mode",
      async () => {
        const { child, url, log } = await serve({ DATABASE_URL: database.url });
        expect(url).toMatch(/^http:\/\/127\.0\.0\.1:/);
        expect(log.lines).toContainEqual(
          expect.objectContaining({
            level: 40,
            mode: "development",
            msg: expect.stringMatching(/^DEVELOPMENT MODE/),
          }),
        );
        child.kill("SIGTERM");
        expect(await exited(child)).toBe(0);
      },
      START_TIMEOUT_MS,
    );

    it(
      "rotates tokens on SIGHUP: the file read again, a broken one refused, the old token then revoked",
      async () => {
        const dir = mkdtempSync(join(tmpdir(), "tokens-"));
        const file = join(dir, "tokens");
        const old = newToken("content", "reader");
        const next = newToken("content", "reader");
        writeFileSync(file, `${old.line}\n`);
        const { child, url, log } = await serve({
          DATABASE_URL: database.url,
          LEDGER_TOKENS_FILE: file,
          HOST: "0.0.0.0",
        });
        const list = (token: string) =>
          openClient("connect", url, { token }).listLedgers({ app: "content" });
        expect(log.lines).toContainEqual(
          expect.objectContaining({ level: 40, msg: expect.stringMatching(/clear text/) }),
        );
        await expect(list(old.token)).resolves.toBeDefined();
        expectRefusal(await failureOf(list(next.token)), "UNAUTHENTICATED", "TOKEN_INVALID");

        writeFileSync(file, `${old.line}\n${next.line}\n`);
        await hangUp(child, log, "tokens replaced");
        await expect(list(old.token)).resolves.toBeDefined();
        await expect(list(next.token)).resolves.toBeDefined();

        writeFileSync(file, "content:reader:sha256:not-hex\n");
        await hangUp(child, log, "SIGHUP: tokens not reloaded, the current ones stay");
        await expect(list(old.token)).resolves.toBeDefined();

        writeFileSync(file, `${next.line}\n`);
        await hangUp(child, log, "tokens replaced");
        expectRefusal(await failureOf(list(old.token)), "UNAUTHENTICATED", "TOKEN_INVALID");
        await expect(list(next.token)).resolves.toBeDefined();
        expect(JSON.stringify(log.lines)).not.toContain(next.token);

        child.kill("SIGTERM");
        expect(await exited(child)).toBe(0);
        rmSync(dir, { recursive: true });
      },
      START_TIMEOUT_MS,
    );
  });
});

/** Runs main.ts until it exits: its exit code and what it wrote to stderr. */
async function run(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = start(env);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const code = await exited(child);
  return { code, stderr };
}

/** Starts main.ts on a free port and waits for "listening". */
async function serve(env: Record<string, string>) {
  const child = start({ PORT: "0", ...env });
  const exit = exited(child);
  const log = watchLog(child);
  const listening = await Promise.race([
    log.next("listening"),
    exit.then((code) => {
      throw new Error(`exited with ${code} before listening: ${JSON.stringify(log.lines)}`);
    }),
  ]);
  // A server on every address is reached over loopback.
  const url = String(listening.url);
  return { child, url, log, listening };
}

/** Sends SIGHUP and waits for the `count`-th log line with `msg` since. */
async function hangUp(
  child: ChildProcess,
  log: ReturnType<typeof watchLog>,
  msg: string,
): Promise<void> {
  const seen = log.lines.filter((line) => line.msg === msg).length;
  child.kill("SIGHUP");
  await expect
    .poll(() => log.lines.filter((line) => line.msg === msg).length, { timeout: 10_000 })
    .toBe(seen + 1);
}
