import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { clusterUser, type PostgresBinaries, postgresBinaries } from "./embedded/binaries.js";
import { claimDataDirectory, recordOwner } from "./embedded/claim.js";
import {
  createDataDirectory,
  initialiseCluster,
  inspectDataDirectory,
  LEGACY_PASSWORD,
  newPassword,
  PASSWORD_FILE,
  readPassword,
  SUPERUSER,
  writePassword,
} from "./embedded/data-directory.js";
import { type RunningPostmaster, startPostmaster } from "./embedded/postmaster.js";
import { type SupervisionHooks, supervise } from "./embedded/supervisor.js";

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
  /** Receives each line PostgreSQL writes; default: kept only to explain failures. */
  readonly onLog?: ((line: string) => void) | undefined;
  /** What was done about the data directory (an orphan stopped, a password replaced). */
  readonly onNotice?: ((message: string, fields: object) => void) | undefined;
  /** Restart PostgreSQL whenever it dies; without it, a death is only seen by the pool. */
  readonly supervise?: SupervisionHooks | undefined;
}

const run = promisify(execFile);

/**
 * Starts a PostgreSQL cluster from the embedded binaries. An initialised
 * `dataDir` is reused, so data survive restarts; otherwise a cluster is
 * created there, with a random superuser password kept in the directory.
 * A start that fails rejects with PostgreSQL's last log lines and what to do.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedDatabase> {
  const dataDir = resolve(options.dataDir);
  const binaries = await postgresBinaries();
  const state = await inspectDataDirectory(dataDir, await majorVersion(binaries));
  const user = await clusterUser();
  const notice = options.onNotice ?? (() => {});
  let password: string | undefined;
  if (state.kind === "new") {
    password = newPassword();
    await createDataDirectory(dataDir, user);
    await initialiseCluster(binaries, dataDir, user, password);
    await writePassword(dataDir, password);
  } else {
    await claimDataDirectory(dataDir, notice);
    password = await readPassword(dataDir);
  }
  const port = options.port ?? (await freePort());
  const start = async (): Promise<RunningPostmaster> => {
    await recordOwner(dataDir);
    return startPostmaster({
      binaries,
      dataDir,
      port,
      user,
      settings: options.settings ?? {},
      onLine: options.onLog,
    });
  };
  const first = await start();
  if (password === undefined) {
    password = await replaceLegacyPassword(dataDir, port, first);
    notice("replaced the fixed superuser password of an older data directory", { dataDir });
  }
  const running =
    options.supervise === undefined ? first : supervise(first, start, options.supervise);
  let stopped: Promise<void> | undefined;
  return {
    url: `postgres://${SUPERUSER}:${password}@127.0.0.1:${port}/postgres`,
    dataDir,
    stop: () => {
      stopped ??= running.stop();
      return stopped;
    },
  };
}

/** Clusters made before passwords were random have "postgres": replaced, and kept in the directory. */
async function replaceLegacyPassword(
  dataDir: string,
  port: number,
  postmaster: RunningPostmaster,
): Promise<string> {
  const password = newPassword();
  const client = new pg.Client({
    host: "127.0.0.1",
    port,
    user: SUPERUSER,
    password: LEGACY_PASSWORD,
    database: "postgres",
  });
  try {
    await client.connect();
    // ALTER ROLE takes no bind parameters; a base64url password needs no quoting.
    await client.query(`alter role ${SUPERUSER} password '${password}'`);
  } catch (error) {
    await postmaster.stop();
    throw new Error(
      `${dataDir} has no ${PASSWORD_FILE} file and its superuser password is not the old default: restore that file, or choose another data directory (LEDGER_DATA_DIR)`,
      { cause: error },
    );
  } finally {
    await client.end().catch(() => {});
  }
  await writePassword(dataDir, password);
  return password;
}

/** "18" for PostgreSQL 18.x: the version a data directory must have been made by. */
async function majorVersion(binaries: PostgresBinaries): Promise<string> {
  const { stdout } = await run(binaries.postgres, ["--version"]);
  const major = /\(PostgreSQL\) (\d+)/.exec(stdout)?.[1];
  if (major === undefined) {
    throw new Error(`cannot tell the version of ${binaries.postgres}: ${stdout.trim()}`);
  }
  return major;
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
