/** What /proc says about a process: resident memory and CPU time (Linux only). */
import { readdirSync, readFileSync } from "node:fs";

const CLOCK_TICKS_PER_S = 100;

/** Resident set size in MiB; undefined once the process is gone. */
export function rssMb(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? undefined : Math.round(Number(kb) / 102.4) / 10;
  } catch {
    return undefined;
  }
}

interface ProcStat {
  readonly ppid: number;
  readonly cpuMs: number;
  /** CPU of its children that have exited and been waited for. */
  readonly reapedChildrenCpuMs: number;
}

function stat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may contain spaces: fields start after its closing parenthesis.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const ms = (ticks: number) => (ticks * 1000) / CLOCK_TICKS_PER_S;
    return {
      ppid: Number(fields[1]),
      cpuMs: ms(Number(fields[11]) + Number(fields[12])),
      reapedChildrenCpuMs: ms(Number(fields[13]) + Number(fields[14])),
    };
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) of a process, in ms. */
export function cpuMs(pid: number): number {
  return stat(pid)?.cpuMs ?? 0;
}

/**
 * CPU time of a process and all its children, live or exited (PostgreSQL's
 * postmaster and its backends, which come and go with pooled connections), in ms.
 */
export function treeCpuMs(rootPid: number): number {
  const root = stat(rootPid);
  let total = (root?.cpuMs ?? 0) + (root?.reapedChildrenCpuMs ?? 0);
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (Number.isInteger(pid) && pid !== rootPid) {
      const s = stat(pid);
      if (s?.ppid === rootPid) {
        total += s.cpuMs;
      }
    }
  }
  return total;
}
