/**
 * `npm start` as a process: bad configuration exits 1 with every problem
 * named; a good one migrates, serves, logs "listening" with its URL, and exits
 * 0 after SIGTERM once the server, store and database are closed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
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
    env: { PATH: `${ROOT}node_modules/.bin:${process.env.PATH ?? ""}`, ...env },
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
    const child = start({ PORT: "eighty", SHUTDOWN_GRACE_MS: "-5" });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    expect(await exited(child)).toBe(1);
    expect(stderr).toContain('PORT: expected an integer in 0..65535, got "eighty"');
    expect(stderr).toContain("SHUTDOWN_GRACE_MS");
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
        const child = start({ DATABASE_URL: database.url, PORT: "0", HOST: "127.0.0.1" });
        const exit = exited(child);
        const log = watchLog(child);
        const listening = await Promise.race([
          log.next("listening"),
          exit.then((code) => {
            throw new Error(`exited with ${code} before listening: ${JSON.stringify(log.lines)}`);
          }),
        ]);
        expect(listening).toMatchObject({
          database: "external",
          url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
        });
        const { ledger } = await connectClient(String(listening.url), "1.1").createLedger({
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
  });
});
