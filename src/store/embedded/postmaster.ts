import { type ChildProcess, spawn } from "node:child_process";
import type { ClusterUser, PostgresBinaries } from "./binaries.js";
import { LogTail } from "./log-tail.js";
import { waitForExit } from "./processes.js";

const READY_LINE = "database system is ready to accept connections";
/** Crash recovery replays WAL before "ready": a generous bound. */
const START_TIMEOUT_MS = 120_000;
/** Fast shutdown (SIGINT) first; then immediate (SIGQUIT); then SIGKILL. */
const STOP_STEP_MS = 15_000;

export interface PostmasterOptions {
  readonly binaries: PostgresBinaries;
  readonly dataDir: string;
  readonly port: number;
  readonly user: ClusterUser;
  /** Server settings, as `-c name=value`. */
  readonly settings: Readonly<Record<string, string>>;
  /** Each line PostgreSQL writes. */
  readonly onLine?: ((line: string) => void) | undefined;
}

export interface PostmasterExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** PostgreSQL's last lines before it ended. */
  readonly lastLines: string;
}

export interface RunningPostmaster {
  readonly pid: number;
  /** Settles when the postmaster ends, asked to or not. */
  readonly exited: Promise<PostmasterExit>;
  /** Fast shutdown, bounded; resolves once the process is gone. */
  stop(): Promise<void>;
}

/** A start that failed, with PostgreSQL's own words and what to do. */
export class PostmasterStartError extends Error {
  override readonly name = "PostmasterStartError";
}

/**
 * Starts the postmaster and resolves once it accepts connections. Rejects,
 * with its last log lines and a hint, if it exits or stays silent first.
 */
export async function startPostmaster(options: PostmasterOptions): Promise<RunningPostmaster> {
  const tail = new LogTail(options.onLine);
  const child = spawn(options.binaries.postgres, postmasterArgs(options), {
    ...(options.user.uid === undefined ? {} : { uid: options.user.uid, gid: options.user.gid }),
    env: { ...process.env, LC_MESSAGES: "C" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (chunk: Buffer) => tail.push(chunk));
  child.stderr?.on("data", (chunk: Buffer) => tail.push(chunk));
  const exited = new Promise<PostmasterExit>((resolve) => {
    child.once("error", (error) => {
      tail.push(`could not run ${options.binaries.postgres}: ${error.message}\n`);
    });
    child.once("close", (code, signal) => resolve({ code, signal, lastLines: tail.text() }));
  });
  await untilReady(child, tail, exited, options);
  const pid = child.pid ?? 0;
  return { pid, exited, stop: () => stopPostmaster(child, exited) };
}

function postmasterArgs(options: PostmasterOptions): string[] {
  const settings = {
    listen_addresses: "127.0.0.1",
    // No Unix socket: its lock file would go to a directory this service does not own.
    unix_socket_directories: "",
    lc_messages: "C",
    ...options.settings,
  };
  return [
    "-D",
    options.dataDir,
    "-p",
    String(options.port),
    ...Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
  ];
}

async function untilReady(
  child: ChildProcess,
  tail: LogTail,
  exited: Promise<PostmasterExit>,
  options: PostmasterOptions,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const ready = new Promise<"ready">((resolve) => {
    const check = () => {
      if (tail.includes(READY_LINE)) {
        child.stdout?.off("data", check);
        child.stderr?.off("data", check);
        resolve("ready");
      }
    };
    child.stdout?.on("data", check);
    child.stderr?.on("data", check);
  });
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), START_TIMEOUT_MS);
  });
  try {
    const outcome = await Promise.race([ready, exited, timedOut]);
    if (outcome === "ready") {
      return;
    }
    if (outcome === "timeout") {
      await stopPostmaster(child, exited);
      throw new PostmasterStartError(
        `embedded PostgreSQL was not ready within ${START_TIMEOUT_MS} ms (data directory ${options.dataDir}); its last log lines:\n${tail.text()}`,
      );
    }
    throw new PostmasterStartError(startFailure(outcome, options));
  } finally {
    clearTimeout(timer);
  }
}

/** Why a postmaster that exited during start did so, in words that say what to do. */
function startFailure(exit: PostmasterExit, options: PostmasterOptions): string {
  const how = exit.signal === null ? `exit code ${exit.code}` : `signal ${exit.signal}`;
  return `embedded PostgreSQL exited during start (${how}): ${hint(exit.lastLines, options)}; its last log lines:\n${exit.lastLines}`;
}

function hint(lines: string, options: PostmasterOptions): string {
  const pid = /another postmaster \(PID (\d+)\)/.exec(lines)?.[1];
  if (pid !== undefined) {
    return `the data directory ${options.dataDir} is in use by PostgreSQL PID ${pid}: stop that server, or choose another data directory (LEDGER_DATA_DIR)`;
  }
  if (/could not bind|Address already in use/.test(lines)) {
    return `port ${options.port} on 127.0.0.1 is taken by another program`;
  }
  if (/database files are incompatible with server/.test(lines)) {
    return `the data directory ${options.dataDir} was made by another PostgreSQL version`;
  }
  if (/shared memory block .* is still in use/.test(lines)) {
    return "processes of a previous PostgreSQL on this data directory are still running: wait for them to end";
  }
  if (/Permission denied/.test(lines)) {
    return `PostgreSQL was denied access to a file: check the owner and mode of ${options.dataDir}`;
  }
  return "see PostgreSQL's log lines below";
}

async function stopPostmaster(child: ChildProcess, exited: Promise<PostmasterExit>): Promise<void> {
  for (const signal of ["SIGINT", "SIGQUIT", "SIGKILL"] as const) {
    if (child.exitCode !== null || child.signalCode !== null) {
      break;
    }
    child.kill(signal);
    if (child.pid === undefined || (await waitForExit(child.pid, STOP_STEP_MS))) {
      break;
    }
  }
  await exited;
}
