import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

const POLL_INTERVAL_MS = 50;

/** Whether a process with this id exists (a zombie counts). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, owned by someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** True once `pid` is gone; false if it still runs after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) {
      return false;
    }
    await sleep(POLL_INTERVAL_MS);
  }
  return true;
}

/** What /proc says of a process: its parent and its command line; undefined when it is gone or /proc is absent. */
export async function processInfo(
  pid: number,
): Promise<{ readonly parentPid: number; readonly commandLine: string } | undefined> {
  try {
    const [stat, cmdline] = await Promise.all([
      readFile(`/proc/${pid}/stat`, "utf8"),
      readFile(`/proc/${pid}/cmdline`, "utf8"),
    ]);
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const parentPid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return { parentPid, commandLine: cmdline.split("\0").join(" ").trim() };
  } catch {
    return undefined;
  }
}
