import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isAlive, processInfo, waitForExit } from "./processes.js";

/** The process that started the cluster now running on the data directory. */
const OWNER_FILE = "ledger-owner.pid";
/** Fast shutdown first (SIGINT), then immediate (SIGQUIT): each gets this long. */
const ORPHAN_STOP_STEP_MS = 15_000;

export type ClaimLog = (message: string, fields: object) => void;

/**
 * Makes sure no live PostgreSQL holds `dataDir` before one is started on it.
 *
 * - A postmaster whose starter (recorded in the owner file) is still its
 *   parent is in use: refused, naming that process.
 * - A postmaster whose starter is gone (killed with SIGKILL, so it could not
 *   stop its database) is an orphan: stopped cleanly, and the start goes on.
 * - A postmaster this service did not start is refused, naming it.
 * - A stale postmaster.pid (no such process, or not a postgres) is removed.
 */
export async function claimDataDirectory(dataDir: string, log: ClaimLog): Promise<void> {
  const postmasterPid = await readPid(join(dataDir, "postmaster.pid"));
  if (postmasterPid === undefined) {
    return;
  }
  if (!isAlive(postmasterPid)) {
    await removeStalePidFile(dataDir);
    return;
  }
  const postmaster = await processInfo(postmasterPid);
  if (postmaster === undefined) {
    // No /proc to tell what it is: assume the worst.
    throw inUse(dataDir, `PostgreSQL PID ${postmasterPid}`);
  }
  if (!postmaster.commandLine.includes("postgres")) {
    // Its id now belongs to an unrelated program.
    await removeStalePidFile(dataDir);
    return;
  }
  const ownerPid = await readPid(join(dataDir, OWNER_FILE));
  if (ownerPid === undefined) {
    throw inUse(dataDir, `PostgreSQL PID ${postmasterPid}, which this service did not start`);
  }
  if (postmaster.parentPid === ownerPid) {
    throw inUse(
      dataDir,
      `the service with PID ${ownerPid} (its PostgreSQL is PID ${postmasterPid})`,
    );
  }
  log("stopping an orphaned PostgreSQL: the service that started it is gone", {
    postmaster_pid: postmasterPid,
    gone_service_pid: ownerPid,
  });
  await stopOrphan(postmasterPid, dataDir);
}

/** Records this process as the starter of the cluster about to run on `dataDir`. */
export async function recordOwner(dataDir: string): Promise<void> {
  await writeFile(join(dataDir, OWNER_FILE), `${process.pid}\n`, { mode: 0o644 });
}

async function stopOrphan(pid: number, dataDir: string): Promise<void> {
  for (const signal of ["SIGINT", "SIGQUIT"] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    if (await waitForExit(pid, ORPHAN_STOP_STEP_MS)) {
      return;
    }
  }
  throw new Error(
    `an orphaned PostgreSQL (PID ${pid}) on ${dataDir} did not stop within ${2 * ORPHAN_STOP_STEP_MS} ms: stop it (kill ${pid}) and start again`,
  );
}

async function removeStalePidFile(dataDir: string): Promise<void> {
  await rm(join(dataDir, "postmaster.pid"), { force: true });
}

function inUse(dataDir: string, holder: string): Error {
  return new Error(
    `the data directory ${dataDir} is in use by ${holder}: stop that one first, or give this one another data directory (LEDGER_DATA_DIR)`,
  );
}

async function readPid(file: string): Promise<number | undefined> {
  if (!existsSync(file)) {
    return undefined;
  }
  const [firstLine = ""] = (await readFile(file, "utf8")).split("\n");
  const pid = Number(firstLine.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}
