/**
 * The real service as `npm start` runs it (src/server/main.ts under Node with
 * tsx as a loader), as a child process that a spec can SIGKILL and start again.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const START_TIMEOUT_MS = 60_000;

export interface ServiceProcess {
  readonly pid: number;
  readonly port: number;
  /** Resolves with the exit code, or the signal's name, when the process ends. */
  readonly exited: Promise<number | string>;
  /** SIGKILL: no drain, no goodbye. Resolves once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM, the graceful stop. */
  stop(): Promise<void>;
  /** The end of what it wrote to stderr. */
  stderr(): string;
  /** The log lines (JSON) it wrote to stdout that are not call logs, the latest last. */
  events(): readonly string[];
}

/** Lines kept by events(): the call log is far noisier and not kept. */
const EVENTS_MAX = 1000;

export interface ServiceOptions {
  /** undefined: an embedded PostgreSQL in `dataDir`. */
  readonly databaseUrl?: string;
  readonly dataDir?: string;
  readonly port: number;
  readonly env?: Readonly<Record<string, string>>;
}

/** Starts main.ts and resolves once it logs "listening". */
export async function startService(options: ServiceOptions): Promise<ServiceProcess> {
  const child = spawn(`${ROOT}node_modules/.bin/node`, ["--import", "tsx", "src/server/main.ts"], {
    cwd: ROOT,
    env: {
      PATH: `${ROOT}node_modules/.bin:${process.env.PATH ?? ""}`,
      ...(options.databaseUrl === undefined ? {} : { DATABASE_URL: options.databaseUrl }),
      ...(options.dataDir === undefined ? {} : { LEDGER_DATA_DIR: options.dataDir }),
      PORT: String(options.port),
      HOST: "127.0.0.1",
      // "listening" is an info line; readline drains the call log behind it.
      LOG_LEVEL: "info",
      SHUTDOWN_GRACE_MS: "2000",
      // Replicas run side by side: no metrics listener unless a test names a port.
      METRICS_PORT: "0",
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-4000);
  });
  const events: string[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (text) => {
    if (!text.includes('"msg":"rpc"') && events.push(text) > EVENTS_MAX) {
      events.shift();
    }
  });
  await listening(events, exited, () => stderr, child);
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error("the service process has no pid");
  }
  return {
    pid,
    port: options.port,
    exited,
    async kill() {
      child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
    events: () => events,
    stderr: () => stderr,
  };
}

function listening(
  events: readonly string[],
  exited: Promise<number | string>,
  stderr: () => string,
  child: ChildProcess,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the service did not listen within ${START_TIMEOUT_MS} ms: ${stderr()}`));
    }, START_TIMEOUT_MS);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the service exited (${code}) before listening: ${stderr()}`));
    });
    const poll = setInterval(() => {
      if (events.some((line) => line.includes('"msg":"listening"'))) {
        clearTimeout(timer);
        clearInterval(poll);
        resolve();
      }
    }, 20);
    void exited.then(() => clearInterval(poll));
  });
}
