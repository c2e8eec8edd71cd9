/**
 * A PostgreSQL cluster of the fault specs' own, in a temporary directory on a
 * fixed port, that can be killed the way a crash kills it and started again
 * on the same data. Durability settings stay at PostgreSQL's defaults: an
 * acknowledged commit must survive the kill.
 */
import { chmod, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type EmbeddedDatabase, migrate, startEmbeddedPostgres } from "../../../src/store/index.js";
import { freePort } from "../../support/ports.js";

const EXIT_WAIT_MS_MAX = 30_000;

export interface FaultCluster {
  readonly url: string;
  /**
   * `pg_ctl stop -m immediate` without pg_ctl (which refuses to run as
   * root): SIGQUIT to the postmaster, which kills every backend without a
   * checkpoint, as a crash would. Resolves once the postmaster is gone.
   */
  killImmediately(): Promise<void>;
  /** Starts PostgreSQL again on the same data directory and port (crash recovery runs). */
  restart(): Promise<void>;
  /**
   * SIGSTOP to the postmaster and every backend: connections stay open and
   * TCP still accepts, but nothing answers, as with a hung host or a network
   * partition.
   */
  freeze(): Promise<void>;
  /** SIGCONT to every process freeze() stopped. */
  thaw(): Promise<void>;
  /** Stops a running cluster and deletes its data. */
  destroy(): Promise<void>;
}

export async function startFaultCluster(): Promise<FaultCluster> {
  const dir = await mkdtemp(join(tmpdir(), "ledger-fault-pg-"));
  // mkdtemp makes it private; the postgres user must be able to pass through it.
  await chmod(dir, 0o755);
  const dataDir = join(dir, "data");
  const port = await freePort();
  const settings = { max_connections: "200" };
  let running: EmbeddedDatabase | undefined = await startEmbeddedPostgres({
    dataDir,
    port,
    settings,
  });
  const url = running.url;
  await migrate(url);
  let frozen: number[] = [];
  const thaw = async (): Promise<void> => {
    for (const pid of frozen.reverse()) {
      process.kill(pid, "SIGCONT");
    }
    frozen = [];
  };
  return {
    url,
    async killImmediately() {
      const pid = await postmasterPid(dataDir);
      // The handle's stop() would wait for an exit that has already happened.
      running = undefined;
      process.kill(pid, "SIGQUIT");
      await waitForExit(pid);
    },
    async restart() {
      if (running !== undefined) {
        throw new Error("the cluster is running");
      }
      running = await startEmbeddedPostgres({ dataDir, port, settings });
    },
    async freeze() {
      const pid = await postmasterPid(dataDir);
      // The postmaster first, so that it forks no backend after the sweep.
      process.kill(pid, "SIGSTOP");
      frozen = [pid, ...(await childrenOf(pid))];
      for (const child of frozen.slice(1)) {
        process.kill(child, "SIGSTOP");
      }
    },
    thaw,
    async destroy() {
      await thaw();
      await running?.stop();
      running = undefined;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function postmasterPid(dataDir: string): Promise<number> {
  const [firstLine = ""] = (await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n");
  const pid = Number.parseInt(firstLine, 10);
  if (!Number.isInteger(pid) || pid <= 0) {
    throw new Error(`postmaster.pid of ${dataDir} names no process: ${JSON.stringify(firstLine)}`);
  }
  return pid;
}

/** The processes whose parent is `pid`, from /proc. */
async function childrenOf(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid === pid) {
      children.push(Number(entry));
    }
  }
  return children;
}

async function waitForExit(pid: number): Promise<void> {
  const deadline = Date.now() + EXIT_WAIT_MS_MAX;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(20);
  }
  throw new Error(`process ${pid} did not exit within ${EXIT_WAIT_MS_MAX} ms`);
}
