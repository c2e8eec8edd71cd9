import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type ClusterUser, type PostgresBinaries, runsAsRoot } from "./binaries.js";
import { LogTail } from "./log-tail.js";

/** Kept in the data directory, readable by this process's user only. */
export const PASSWORD_FILE = "ledger-superuser.password";
/** The superuser password of clusters made before passwords were random. */
export const LEGACY_PASSWORD = "postgres";
export const SUPERUSER = "postgres";

export type DataDirectoryState =
  | { readonly kind: "new" }
  | { readonly kind: "cluster"; readonly majorVersion: string };

/**
 * What `dataDir` holds: nothing yet (absent or empty), or a cluster. A
 * cluster of another PostgreSQL major version, or a directory holding
 * anything else, is refused with what to do.
 */
export async function inspectDataDirectory(
  dataDir: string,
  binaryMajorVersion: string,
): Promise<DataDirectoryState> {
  if (!existsSync(dataDir)) {
    return { kind: "new" };
  }
  const versionFile = join(dataDir, "PG_VERSION");
  if (!existsSync(versionFile)) {
    if ((await readdir(dataDir)).length === 0) {
      return { kind: "new" };
    }
    throw new Error(
      `${dataDir} exists but holds no PostgreSQL cluster (no PG_VERSION): remove it or choose another data directory (LEDGER_DATA_DIR)`,
    );
  }
  const majorVersion = (await readFile(versionFile, "utf8")).trim();
  if (majorVersion !== binaryMajorVersion) {
    // The file's text, escaped once, as both places below show it.
    const shown = JSON.stringify(majorVersion).slice(1, -1);
    throw new Error(
      `${dataDir} holds a PostgreSQL ${shown} cluster, but the embedded PostgreSQL is version ${binaryMajorVersion}: start it with a PostgreSQL ${shown} server (DATABASE_URL), move its data over with pg_dump, or choose another data directory (LEDGER_DATA_DIR)`,
    );
  }
  return { kind: "cluster", majorVersion };
}

/**
 * Creates `dataDir` (mode 0700, owned by the cluster's user) and any missing
 * parent. Only directories created here get a mode: 0755, so the cluster's
 * user can pass through them. A directory that already existed is never
 * changed; one the cluster's user cannot pass through is reported.
 */
export async function createDataDirectory(dataDir: string, user: ClusterUser): Promise<void> {
  const parent = dirname(dataDir);
  const firstCreated = await mkdir(parent, { recursive: true });
  if (runsAsRoot()) {
    for (const dir of ancestors(parent)) {
      if (firstCreated !== undefined && isWithin(dir, firstCreated)) {
        await chmod(dir, 0o755);
      } else {
        await assertPassable(dir, dataDir, user);
      }
    }
  }
  await mkdir(dataDir, { mode: 0o700 });
  await chmod(dataDir, 0o700);
  if (user.uid !== undefined && user.gid !== undefined) {
    await chown(dataDir, user.uid, user.gid);
  }
}

/** Runs initdb on an empty `dataDir` with `password` for the superuser. */
export async function initialiseCluster(
  binaries: PostgresBinaries,
  dataDir: string,
  user: ClusterUser,
  password: string,
): Promise<void> {
  // initdb reads the password from a file: one only the cluster's user can read.
  const secretDir = await mkdtemp(join(tmpdir(), "ledger-initdb-"));
  const passwordFile = join(secretDir, "pwfile");
  try {
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    if (user.uid !== undefined && user.gid !== undefined) {
      await chown(secretDir, user.uid, user.gid);
      await chown(passwordFile, user.uid, user.gid);
    }
    await runInitdb(
      binaries.initdb,
      [
        `--pgdata=${dataDir}`,
        `--username=${SUPERUSER}`,
        `--pwfile=${passwordFile}`,
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
        "--no-instructions",
      ],
      user,
    );
  } finally {
    await rm(secretDir, { recursive: true, force: true });
  }
}

/** A new random superuser password, URL-safe. */
export function newPassword(): string {
  return randomBytes(24).toString("base64url");
}

/** The cluster's superuser password as kept in its data directory; undefined before there is one. */
export async function readPassword(dataDir: string): Promise<string | undefined> {
  const file = join(dataDir, PASSWORD_FILE);
  if (!existsSync(file)) {
    return undefined;
  }
  const password = (await readFile(file, "utf8")).trim();
  if (password === "") {
    throw new Error(`${file} is empty: restore the password it held, or remove the data directory`);
  }
  return password;
}

/** Keeps `password` in the data directory, readable by this process's user only. */
export async function writePassword(dataDir: string, password: string): Promise<void> {
  const file = join(dataDir, PASSWORD_FILE);
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
}

function runInitdb(initdb: string, args: readonly string[], user: ClusterUser): Promise<void> {
  const output = new LogTail();
  return new Promise((resolve, reject) => {
    const child = spawn(initdb, args, {
      ...(user.uid === undefined ? {} : { uid: user.uid, gid: user.gid }),
      env: { ...process.env, LC_MESSAGES: "C" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (chunk: Buffer) => output.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => output.push(chunk));
    child.once("error", reject);
    child.once("close", (code, signal) => {
      if (code === 0) {
        resolve();
        return;
      }
      reject(
        new Error(
          `initdb failed (${signal ?? `exit code ${code}`}); its last output:\n${output.text()}`,
        ),
      );
    });
  });
}

async function assertPassable(dir: string, dataDir: string, user: ClusterUser): Promise<void> {
  const { mode, uid, gid } = await stat(dir);
  const passable =
    (mode & 0o001) !== 0 ||
    (gid === user.gid && (mode & 0o010) !== 0) ||
    (uid === user.uid && (mode & 0o100) !== 0);
  if (!passable) {
    throw new Error(
      `PostgreSQL runs as the "postgres" user, which cannot reach ${dataDir}: ${dir} is not searchable by that user. This service does not change directories it did not create: run chmod o+x ${dir}, or choose a data directory elsewhere (LEDGER_DATA_DIR)`,
    );
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

function isWithin(dir: string, top: string): boolean {
  return dir === top || dir.startsWith(`${top}/`);
}
