/**
 * A real PgBouncer in transaction pooling mode in front of a test database,
 * as teams with many replicas run one: every client connection shares a few
 * server connections, each lent for one transaction only, so nothing a
 * client leaves in a session (settings, prepared statements, LISTEN,
 * advisory locks) survives into its next transaction.
 *
 * The binary: PGBOUNCER_PATH, else Debian's /usr/sbin/pgbouncer, else the
 * PATH. Without it a suite skips locally and fails in CI (see IN_CI).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { type ClusterUser, clusterUser } from "../../src/store/embedded/binaries.js";
import { freePort } from "./ports.js";

export const PGBOUNCER_BINARY = findBinary();
export const PGBOUNCER_AVAILABLE = PGBOUNCER_BINARY !== undefined;
export const PGBOUNCER_MISSING =
  "pgbouncer not found (PGBOUNCER_PATH, /usr/sbin/pgbouncer, PATH): install Debian's package, apt-get install -y pgbouncer";

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
/** Server connections per database and user: fewer than the replicas' pools hold together. */
const DEFAULT_POOL_SIZE = 2;
/** The admin console's pseudo-database (SHOW POOLS). */
const ADMIN_DATABASE = "pgbouncer";

export interface PgBouncer {
  /** The test database's URL, through PgBouncer. */
  readonly url: string;
  /** The most server connections PgBouncer opens to the database. */
  readonly poolSize: number;
  /** The database's pool now, from the admin console's SHOW POOLS. */
  pool(): Promise<PoolCounts>;
  /** SIGTERM (immediate shutdown), SIGKILL if it lingers; removes its directory. */
  stop(): Promise<void>;
}

export interface PoolCounts {
  /** Client connections open: linked to a server connection, idle, or waiting for one. */
  readonly clients: number;
  /** Server connections open to PostgreSQL. */
  readonly servers: number;
}

interface Upstream {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

/** Starts PgBouncer for `databaseUrl`'s database, on a free local port, and waits until it accepts connections. */
export async function startPgBouncer(databaseUrl: string): Promise<PgBouncer> {
  if (PGBOUNCER_BINARY === undefined) {
    throw new Error(PGBOUNCER_MISSING);
  }
  const upstream = parseUpstream(databaseUrl);
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "ledger-pgbouncer-"));
  const runAs = await unprivilegedUser();
  const iniFile = await writeConfig(dir, upstream, port, runAs);
  const child = spawn(PGBOUNCER_BINARY, [iniFile], {
    ...(runAs.uid === undefined ? {} : { uid: runAs.uid, gid: runAs.gid }),
    stdio: ["ignore", "ignore", "pipe"],
  });
  const running = watchProcess(child);
  // A crashed or killed test worker must not leave PgBouncer behind.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const stop = async () => {
    process.off("exit", killOnExit);
    await stopProcess(child, running.exited);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await untilAccepting(port, running);
  } catch (error) {
    await stop();
    throw error;
  }
  const url = urlThrough(upstream, port, upstream.database);
  return {
    url,
    poolSize: DEFAULT_POOL_SIZE,
    pool: () => poolCounts(urlThrough(upstream, port, ADMIN_DATABASE), upstream.database),
    stop,
  };
}

function findBinary(): string | undefined {
  const explicit = process.env.PGBOUNCER_PATH;
  if (explicit !== undefined && explicit !== "") {
    return existsSync(explicit) ? explicit : undefined;
  }
  const candidates = [
    "/usr/sbin/pgbouncer",
    ...(process.env.PATH ?? "").split(delimiter).map((dir) => join(dir, "pgbouncer")),
  ];
  return candidates.find((path) => existsSync(path));
}

function parseUpstream(databaseUrl: string): Upstream {
  const url = new URL(databaseUrl);
  return {
    host: url.hostname,
    port: Number(url.port || "5432"),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.slice(1)),
  };
}

function urlThrough(upstream: Upstream, port: number, database: string): string {
  const url = new URL(`postgres://127.0.0.1:${port}/${encodeURIComponent(database)}`);
  url.username = encodeURIComponent(upstream.user);
  url.password = encodeURIComponent(upstream.password);
  return url.toString();
}

/**
 * PgBouncer refuses to run as root. Rather than start it as root and let it
 * switch users (its `user` setting), a root test process spawns it straight
 * as the unprivileged account the embedded PostgreSQL already runs as.
 */
async function unprivilegedUser(): Promise<ClusterUser> {
  return clusterUser();
}

/**
 * The ini and its auth_file, readable by PgBouncer's user only. PgBouncer
 * keeps the plain password: with it, it answers the client's SCRAM exchange
 * and makes its own to PostgreSQL (whose test clusters use scram-sha-256).
 */
async function writeConfig(
  dir: string,
  upstream: Upstream,
  port: number,
  runAs: ClusterUser,
): Promise<string> {
  const authFile = join(dir, "userlist.txt");
  const iniFile = join(dir, "pgbouncer.ini");
  await writeFile(authFile, `${quoted(upstream.user)} ${quoted(upstream.password)}\n`, {
    mode: 0o600,
  });
  await writeFile(iniFile, iniText(upstream, port, authFile), { mode: 0o600 });
  if (runAs.uid !== undefined && runAs.gid !== undefined) {
    for (const path of [dir, authFile, iniFile]) {
      await chown(path, runAs.uid, runAs.gid);
    }
  }
  await chmod(dir, 0o700);
  return iniFile;
}

/** A value in auth_file's format: double-quoted, a quote doubled. */
function quoted(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

/** The libpq-style value of a [databases] entry, quoted when it needs to be. */
function connectValue(text: string): string {
  return `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/**
 * No ignore_startup_parameters: a client that sends session settings at
 * connect (statement_timeout, lock_timeout, ...) is refused, as by a
 * PgBouncer left at its defaults, so the service must not rely on them.
 */
function iniText(upstream: Upstream, port: number, authFile: string): string {
  const target = [
    `host=${connectValue(upstream.host)}`,
    `port=${upstream.port}`,
    `dbname=${connectValue(upstream.database)}`,
  ].join(" ");
  return [
    "[databases]",
    `${upstream.database} = ${target}`,
    "",
    "[pgbouncer]",
    "listen_addr = 127.0.0.1",
    `listen_port = ${port}`,
    // TCP only: no socket file in /tmp to collide with another instance.
    "unix_socket_dir =",
    "pool_mode = transaction",
    `default_pool_size = ${DEFAULT_POOL_SIZE}`,
    "max_client_conn = 200",
    "auth_type = scram-sha-256",
    `auth_file = ${authFile}`,
    `admin_users = ${upstream.user}`,
    // Connections come and go with the services' pools; only problems are worth a line.
    "log_connections = 0",
    "log_disconnections = 0",
    "",
  ].join("\n");
}

interface Running {
  readonly exited: Promise<number | string>;
  stderr(): string;
}

function watchProcess(child: ChildProcess): Running {
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-4000);
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
    child.once("error", (error) => resolve(error.message));
  });
  return { exited, stderr: () => stderr };
}

async function untilAccepting(port: number, running: Running): Promise<void> {
  let exit: number | string | undefined;
  void running.exited.then((code) => {
    exit = code;
  });
  const deadlineMs = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadlineMs) {
    if (exit !== undefined) {
      throw new Error(`pgbouncer exited (${exit}) before listening: ${running.stderr()}`);
    }
    if (await accepts(port)) {
      return;
    }
    await sleep(50);
  }
  throw new Error(
    `pgbouncer did not listen within ${START_TIMEOUT_MS} ms on port ${port}: ${running.stderr()}`,
  );
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function stopProcess(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  // SIGTERM: immediate shutdown (SIGINT would wait for clients to leave).
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** The admin console speaks the simple query protocol only: a query without parameters. */
async function poolCounts(adminUrl: string, database: string): Promise<PoolCounts> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const { rows } = await client.query<Record<string, string>>("SHOW POOLS");
    const row = rows.find((pool) => pool.database === database);
    const count = (...columns: string[]) =>
      columns.reduce((sum, column) => sum + Number(row?.[column] ?? 0), 0);
    return {
      clients: count("cl_active", "cl_waiting", "cl_cancel_req"),
      servers: count("sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login"),
    };
  } finally {
    await client.end();
  }
}
