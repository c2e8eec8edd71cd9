/**
 * `npm start` (and `npm run verify` / `npm run migrate`, which start the
 * embedded database the same way) as a user runs them: a start that cannot
 * work exits non-zero with a sentence saying why and what to do, never 0 in
 * silence; and a start never changes directories it did not create.
 */
import { spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startService } from "../faults/support/service-process.js";
import { freePort } from "../support/ports.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const RUN_TIMEOUT_MS = 90_000;

interface Outcome {
  readonly code: number | null;
  readonly output: string;
}

/**
 * `npm run <script>` with the embedded database in `dataDir`; what it printed,
 * and how it exited. With `stopOn`, SIGTERM to its process group (as a
 * terminal's Ctrl-C or a supervisor does: npm itself does not relay it) once
 * the output matches it.
 */
function npmRun(script: string, dataDir: string, stopOn?: RegExp): Promise<Outcome> {
  const { DATABASE_URL: _ignored, ...env } = process.env;
  const child = spawn("npm", ["run", "--silent", script], {
    cwd: ROOT,
    env: {
      ...env,
      PATH: `${ROOT}node_modules/.bin:${process.env.PATH ?? ""}`,
      LEDGER_DATA_DIR: dataDir,
      HOST: "127.0.0.1",
      PORT: "0",
      METRICS_PORT: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString("utf8");
    if (stopOn?.test(output) === true && child.exitCode === null && child.pid !== undefined) {
      process.kill(-child.pid, "SIGTERM");
    }
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const timer = setTimeout(() => {
    if (child.pid !== undefined) {
      process.kill(-child.pid, "SIGKILL");
    }
  }, RUN_TIMEOUT_MS);
  return new Promise((resolve) =>
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }),
  );
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ledger-start-spec-"));
  await chmod(dir, 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("a start that cannot work", () => {
  it("exits 1 naming the service that holds the data directory, for start, verify and migrate", async () => {
    const dataDir = join(dir, "in-use", "db");
    const holder = await startService({ dataDir, port: await freePort() });
    try {
      for (const script of ["start", "verify", "migrate"]) {
        const outcome = await npmRun(script, dataDir);
        expect(outcome.code, `npm run ${script}`).not.toBe(0);
        expect(outcome.output).toContain(
          `the data directory ${dataDir} is in use by the service with PID ${holder.pid}`,
        );
      }
    } finally {
      await holder.stop();
    }
  }, 180_000);

  it("exits 1 naming both versions when the data directory holds another PostgreSQL version", async () => {
    const dataDir = join(dir, "version", "db");
    const first = await npmRun("migrate", dataDir);
    expect(first.code).toBe(0);
    await writeFile(join(dataDir, "PG_VERSION"), "99\n");
    const outcome = await npmRun("start", dataDir);
    expect(outcome.code).toBe(1);
    expect(outcome.output).toMatch(
      /startup failed: .* holds a PostgreSQL 99 cluster, but the embedded PostgreSQL is version 18: /,
    );
  }, 120_000);

  it("exits 1 with PostgreSQL's own last lines when PostgreSQL refuses to start", async () => {
    const dataDir = join(dir, "broken-conf", "db");
    expect((await npmRun("migrate", dataDir)).code).toBe(0);
    await writeFile(join(dataDir, "postgresql.auto.conf"), "shared_buffers = 'lots'\n");
    const outcome = await npmRun("start", dataDir);
    expect(outcome.code).toBe(1);
    expect(outcome.output).toMatch(/embedded PostgreSQL exited during start \(exit code 1\)/);
    expect(outcome.output).toContain('invalid value for parameter "shared_buffers": "lots"');
  }, 120_000);

  it.runIf(process.getuid?.() === 0)(
    "exits 1 naming a directory the postgres user cannot pass, and leaves its mode alone",
    async () => {
      const hidden = join(dir, "hidden");
      await mkdir(hidden, { mode: 0o700 });
      await chmod(hidden, 0o700);
      const outcome = await npmRun("start", join(hidden, "db"));
      expect(outcome.code).toBe(1);
      expect(outcome.output).toContain(`${hidden} is not searchable by that user`);
      expect((await stat(hidden)).mode & 0o7777).toBe(0o700);
    },
    120_000,
  );
});

describe("a start that works", () => {
  it("leaves a shared 1777 parent of the data directory as it was", async () => {
    const shared = join(dir, "shared");
    await mkdir(shared);
    await chmod(shared, 0o1777);
    const outcome = await npmRun("start", join(shared, "db"), /"msg":"listening"/);
    // The service's own clean stop (npm itself simply dies of the signal).
    expect(outcome.output).toContain('"msg":"stopped"');
    expect((await stat(shared)).mode & 0o7777).toBe(0o1777);
    expect((await stat(join(shared, "db"))).mode & 0o7777, "the one it created").toBe(0o700);
  }, 120_000);
});
