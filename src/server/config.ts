import { existsSync, readFileSync } from "node:fs";
import { isIP, isIPv6 } from "node:net";
import { DEFAULT_HOLD_POLICY } from "../domain/index.js";
import { DECLARED_APPS, WATCH_SETTINGS_DEFAULT } from "../rpc/index.js";
import {
  HOLD_TTL_MS_LIMIT,
  QUEUE_WAIT_MS_MAX_DEFAULT,
  QUEUED_CALLS_MAX_DEFAULT,
  type StoreConfig,
  WRITE_BATCHES_MAX_DEFAULT,
} from "../store/index.js";
import { checkTokenSet, parseTokenEntries, type TokenEntry } from "./credentials.js";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Who may call: bearer tokens, or none at all (development mode). */
export interface CredentialSettings {
  /** false: development mode, no credential configured: loopback only, no authentication. */
  readonly enabled: boolean;
  readonly tokens: readonly TokenEntry[];
  /** Re-read on SIGHUP, with LEDGER_TOKENS, to rotate tokens without a restart. */
  readonly file: string | undefined;
}

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** The server's settings, read once from the environment at startup. */
export interface Config {
  readonly port: number;
  /** Unset: loopback in development mode, every address with credentials. */
  readonly host: string;
  readonly credentials: CredentialSettings;
  /** undefined: an embedded PostgreSQL in `dataDir`. */
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly migrateOnStart: boolean;
  /** undefined: plaintext (h2c and HTTP/1.1 on one port). */
  readonly tls: TlsFiles | undefined;
  readonly requestBytesMax: number;
  readonly shutdownGraceMs: number;
  /** An HTTP/2 session with no open stream for this long gets a GOAWAY and is closed. */
  readonly http2IdleTimeoutMs: number;
  /** Open connections at most; more are closed as soon as accepted. */
  readonly connectionsMax: number;
  readonly logLevel: LogLevel;
  /** undefined: the store's own default. */
  readonly dbPoolSizeMax: number | undefined;
  readonly dbLockTimeoutMs: number | undefined;
  readonly dbStatementTimeoutMs: number | undefined;
  readonly dbQueueWaitMsMax: number | undefined;
  readonly dbQueuedCallsMax: number | undefined;
  readonly dbWriteBatchesMax: number | undefined;
  /** DATABASE_URL leads through a pooler in transaction mode: the store keeps no session state. */
  readonly dbTransactionPooling: boolean;
  /** Browser origins allowed by CORS; ["*"]: any; []: no CORS headers at all. */
  readonly corsAllowedOrigins: readonly string[];
  /** undefined: the store's own default. */
  readonly holdTtlMsDefault: number | undefined;
  readonly holdTtlMsMax: number | undefined;
  /** How often expired holds are marked EXPIRED; 0: never. */
  readonly holdSweepIntervalMs: number;
  /** How often ledgers past their valid_until are closed; 0: never (npm run expire does it). */
  readonly expirySweepIntervalMs: number;
  /** WatchEntries streams open at once; more are refused OVERLOADED. */
  readonly watchersMax: number;
  /** How often a caught-up watcher reads again (writes of other processes). */
  readonly watchPollIntervalMs: number;
  /** Events a WatchEntries stream may have waiting to be sent; past it, CONSUMER_TOO_SLOW. */
  readonly watchBufferMax: number;
  /** The Prometheus listener's port; 0: no metrics listener. */
  readonly metricsPort: number;
  /** Loopback unless the operator names another address (the endpoint has no authentication). */
  readonly metricsHost: string;
}

export interface ConfigSetting {
  readonly env: string;
  /** As documented; "" when unset by default. */
  readonly default: string;
  readonly description: string;
}

const MIB = 1024 * 1024;
const HTTP2_IDLE_TIMEOUT_MS_DEFAULT = 60_000;
const CONNECTIONS_MAX_DEFAULT = 1000;
const HOLD_SWEEP_INTERVAL_MS_DEFAULT = 5000;
const EXPIRY_SWEEP_INTERVAL_MS_DEFAULT = 60_000;
/** The port the Prometheus exporters' registry assigns to Node.js exporters. */
const METRICS_PORT_DEFAULT = 9464;
const METRICS_HOST_DEFAULT = "127.0.0.1";

/** Every environment variable the server reads: the README's configuration table. */
export const CONFIG_SETTINGS: readonly ConfigSetting[] = [
  { env: "PORT", default: "8080", description: "TCP port (0: any free port), 0..65535." },
  {
    env: "HOST",
    default: "127.0.0.1",
    description:
      "Address to listen on. Without credentials (development mode) only a loopback address is accepted; with them the default is 0.0.0.0.",
  },
  {
    env: "LEDGER_TOKENS",
    default: "",
    description:
      "Bearer tokens, comma-separated `<app>:<role>:sha256:<hex>` lines from `npm run token`; role reader, writer or admin; at most two per app and role.",
  },
  {
    env: "LEDGER_TOKENS_FILE",
    default: "",
    description:
      "A file of such lines (one per line, `#` comments), read at start and again on SIGHUP. Either setting turns development mode off.",
  },
  {
    env: "DATABASE_URL",
    default: "",
    description: "postgres:// URL of an external PostgreSQL; unset: an embedded one.",
  },
  {
    env: "LEDGER_DATA_DIR",
    default: ".data/postgres",
    description: "Data directory of the embedded PostgreSQL (without DATABASE_URL).",
  },
  {
    env: "MIGRATE_ON_START",
    default: "true",
    description: "Apply pending migrations before serving (true/false).",
  },
  {
    env: "TLS_CERT_FILE",
    default: "",
    description: "PEM certificate; with TLS_KEY_FILE serves TLS (ALPN h2 + HTTP/1.1).",
  },
  { env: "TLS_KEY_FILE", default: "", description: "PEM private key; both or neither." },
  {
    env: "REQUEST_BYTES_MAX",
    default: String(MIB),
    description: "Largest request message in bytes, 1024..67108864; larger: RESOURCE_EXHAUSTED.",
  },
  {
    env: "SHUTDOWN_GRACE_MS",
    default: "10000",
    description: "On SIGTERM/SIGINT, how long in-flight calls may finish, 0..600000.",
  },
  {
    env: "HTTP2_IDLE_TIMEOUT_MS",
    default: String(HTTP2_IDLE_TIMEOUT_MS_DEFAULT),
    description:
      "An HTTP/2 connection with no open stream this long is closed (GOAWAY), 1..3600000.",
  },
  {
    env: "CONNECTIONS_MAX",
    default: String(CONNECTIONS_MAX_DEFAULT),
    description: "Open connections at most, 1..1000000; more are closed at once (logged).",
  },
  { env: "LOG_LEVEL", default: "info", description: `One of ${LOG_LEVELS.join(", ")}.` },
  {
    env: "DB_POOL_SIZE_MAX",
    default: "10",
    description: "Most database connections, 1..1000 (default: the store's).",
  },
  {
    env: "DB_LOCK_TIMEOUT_MS",
    default: "2000",
    description: "Longest wait for a row lock, 1..600000 (default: the store's).",
  },
  {
    env: "DB_STATEMENT_TIMEOUT_MS",
    default: "5000",
    description:
      "Longest statement, 1..600000, capped by the call's deadline (default: the store's); silence 2 s past it: STORE_UNAVAILABLE.",
  },
  {
    env: "DB_QUEUE_WAIT_MS_MAX",
    default: String(QUEUE_WAIT_MS_MAX_DEFAULT),
    description:
      "Longest wait for a free connection, 1..600000, or the call's deadline if sooner; then OVERLOADED.",
  },
  {
    env: "DB_QUEUED_CALLS_MAX",
    default: String(QUEUED_CALLS_MAX_DEFAULT),
    description: "Calls waiting for a connection at most, 0..1000000; more: OVERLOADED at once.",
  },
  {
    env: "DB_WRITE_BATCHES_MAX",
    default: String(WRITE_BATCHES_MAX_DEFAULT),
    description:
      "Write batches (group commits) in flight at once, 1..1000, at most DB_POOL_SIZE_MAX (default: the store's).",
  },
  {
    env: "DB_TRANSACTION_POOLING",
    default: "false",
    description:
      "true when DATABASE_URL leads through a pooler in transaction mode (PgBouncer pool_mode=transaction): no settings at connect, each transaction sets its own timeouts (docs/scaling.md).",
  },
  {
    env: "CORS_ALLOWED_ORIGINS",
    default: "",
    description:
      "Browser origins allowed by CORS, comma-separated (https://app.example.com), or `*`; unset: none.",
  },
  {
    env: "HOLD_TTL_MS_DEFAULT",
    default: String(DEFAULT_HOLD_POLICY.defaultTtlMs),
    description:
      "Lifetime of a hold whose request names no pending_expires_at, 1..HOLD_TTL_MS_MAX.",
  },
  {
    env: "HOLD_TTL_MS_MAX",
    default: String(DEFAULT_HOLD_POLICY.maxTtlMs),
    description: `Longest lifetime a hold may ask for, 1..${HOLD_TTL_MS_LIMIT}; longer: INVALID_ARGUMENT.`,
  },
  {
    env: "HOLD_SWEEP_INTERVAL_MS",
    default: String(HOLD_SWEEP_INTERVAL_MS_DEFAULT),
    description:
      "How often holds past their deadline are marked EXPIRED, 0..3600000 (0: never; they stop reserving at their deadline regardless).",
  },
  {
    env: "EXPIRY_SWEEP_INTERVAL_MS",
    default: String(EXPIRY_SWEEP_INTERVAL_MS_DEFAULT),
    description:
      "How often ledgers past their valid_until are closed (holds voided, remainder moved to expire_to_ledger_id, terminated), 0..86400000 (0: never; `npm run expire` does one sweep; writes are refused from valid_until regardless).",
  },
  {
    env: "WATCHERS_MAX",
    default: String(WATCH_SETTINGS_DEFAULT.watchersMax),
    description: "WatchEntries streams open at once in this process, 1..1000000; more: OVERLOADED.",
  },
  {
    env: "WATCH_POLL_INTERVAL_MS",
    default: String(WATCH_SETTINGS_DEFAULT.pollIntervalMs),
    description:
      "How often a caught-up WatchEntries stream reads again, 10..60000: the latency of writes made by other processes (this one's wake it at once).",
  },
  {
    env: "WATCH_BUFFER_MAX",
    default: String(WATCH_SETTINGS_DEFAULT.bufferMax),
    description:
      "Events a WatchEntries stream may have waiting to be sent, 1..100000: a client that falls further behind is ended RESOURCE_EXHAUSTED (CONSUMER_TOO_SLOW) with the cursor to resume from.",
  },
  {
    env: "METRICS_PORT",
    default: String(METRICS_PORT_DEFAULT),
    description:
      "Port of the Prometheus listener (`/metrics`, no authentication), apart from PORT, 0..65535 (0: no metrics listener).",
  },
  {
    env: "METRICS_HOST",
    default: METRICS_HOST_DEFAULT,
    description:
      "Address of the metrics listener; any other than loopback only when set here, and a warning is logged at start.",
  },
];

/**
 * CONFIG_SETTINGS as the Markdown table the README shows, with columns padded
 * the way Biome formats Markdown tables, so the formatted README contains it.
 */
export function configTableMarkdown(): string {
  const rows = [
    ["Variable", "Default", "Meaning"],
    ...CONFIG_SETTINGS.map((s) => [
      `\`${s.env}\``,
      s.default === "" ? "(unset)" : `\`${s.default}\``,
      s.description,
    ]),
  ];
  const widths = [0, 1, 2].map((column) =>
    Math.max(...rows.map((row) => row[column]?.length ?? 0)),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(" | ")} |`;
  const [header = [], ...body] = rows;
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...body.map(line)].join(
    "\n",
  );
}

/** A configuration that cannot be used, with every problem found. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";

  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads and checks every setting; throws one ConfigError listing all problems. */
export function loadConfig(env: Env): Config {
  const problems: string[] = [];
  const read = new EnvReader(env, problems);
  const certFile = read.optionalText("TLS_CERT_FILE");
  const keyFile = read.optionalText("TLS_KEY_FILE");
  const credentials = readCredentials(env, problems);
  const config: Config = {
    port: read.integer("PORT", 8080, 0, 65535),
    host: listenHost(read.optionalText("HOST"), credentials.enabled, problems),
    credentials,
    databaseUrl: read.databaseUrl("DATABASE_URL"),
    dataDir: read.optionalText("LEDGER_DATA_DIR") ?? ".data/postgres",
    migrateOnStart: read.boolean("MIGRATE_ON_START", true),
    tls: tlsFiles(certFile, keyFile, problems),
    requestBytesMax: read.integer("REQUEST_BYTES_MAX", MIB, 1024, 64 * MIB),
    shutdownGraceMs: read.integer("SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    http2IdleTimeoutMs: read.integer(
      "HTTP2_IDLE_TIMEOUT_MS",
      HTTP2_IDLE_TIMEOUT_MS_DEFAULT,
      1,
      3_600_000,
    ),
    connectionsMax: read.integer("CONNECTIONS_MAX", CONNECTIONS_MAX_DEFAULT, 1, 1_000_000),
    logLevel: read.logLevel("LOG_LEVEL", "info"),
    dbPoolSizeMax: read.optionalInteger("DB_POOL_SIZE_MAX", 1, 1000),
    dbLockTimeoutMs: read.optionalInteger("DB_LOCK_TIMEOUT_MS", 1, 600_000),
    dbStatementTimeoutMs: read.optionalInteger("DB_STATEMENT_TIMEOUT_MS", 1, 600_000),
    dbQueueWaitMsMax: read.optionalInteger("DB_QUEUE_WAIT_MS_MAX", 1, 600_000),
    dbQueuedCallsMax: read.optionalInteger("DB_QUEUED_CALLS_MAX", 0, 1_000_000),
    dbWriteBatchesMax: read.optionalInteger("DB_WRITE_BATCHES_MAX", 1, 1000),
    dbTransactionPooling: read.boolean("DB_TRANSACTION_POOLING", false),
    corsAllowedOrigins: read.origins("CORS_ALLOWED_ORIGINS"),
    holdTtlMsDefault: read.optionalInteger("HOLD_TTL_MS_DEFAULT", 1, HOLD_TTL_MS_LIMIT),
    holdTtlMsMax: read.optionalInteger("HOLD_TTL_MS_MAX", 1, HOLD_TTL_MS_LIMIT),
    holdSweepIntervalMs: read.integer(
      "HOLD_SWEEP_INTERVAL_MS",
      HOLD_SWEEP_INTERVAL_MS_DEFAULT,
      0,
      3_600_000,
    ),
    expirySweepIntervalMs: read.integer(
      "EXPIRY_SWEEP_INTERVAL_MS",
      EXPIRY_SWEEP_INTERVAL_MS_DEFAULT,
      0,
      86_400_000,
    ),
    watchersMax: read.integer("WATCHERS_MAX", WATCH_SETTINGS_DEFAULT.watchersMax, 1, 1_000_000),
    watchPollIntervalMs: read.integer(
      "WATCH_POLL_INTERVAL_MS",
      WATCH_SETTINGS_DEFAULT.pollIntervalMs,
      10,
      60_000,
    ),
    watchBufferMax: read.integer("WATCH_BUFFER_MAX", WATCH_SETTINGS_DEFAULT.bufferMax, 1, 100_000),
    metricsPort: read.integer("METRICS_PORT", METRICS_PORT_DEFAULT, 0, 65535),
    metricsHost: read.optionalText("METRICS_HOST") ?? METRICS_HOST_DEFAULT,
  };
  if (config.metricsPort !== 0 && config.metricsPort === config.port) {
    problems.push("METRICS_PORT: must differ from PORT (metrics have a listener of their own)");
  }
  if (
    config.holdTtlMsDefault !== undefined &&
    config.holdTtlMsDefault > (config.holdTtlMsMax ?? DEFAULT_HOLD_POLICY.maxTtlMs)
  ) {
    problems.push("HOLD_TTL_MS_DEFAULT: must not exceed HOLD_TTL_MS_MAX");
  }
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return config;
}

/** LEDGER_TOKENS and LEDGER_TOKENS_FILE; either set means credentials are on. */
export function readCredentials(env: Env, problems: string[]): CredentialSettings {
  const inline = env.LEDGER_TOKENS?.trim() ?? "";
  const file = env.LEDGER_TOKENS_FILE?.trim() || undefined;
  const tokens = parseTokenEntries(inline, "LEDGER_TOKENS", DECLARED_APPS, problems);
  if (file !== undefined) {
    const text = readTokenFile(file, problems);
    tokens.push(
      ...parseTokenEntries(text, `LEDGER_TOKENS_FILE (${file})`, DECLARED_APPS, problems),
    );
  }
  checkTokenSet(tokens, problems);
  return { enabled: inline !== "" || file !== undefined, tokens, file };
}

function readTokenFile(file: string, problems: string[]): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    problems.push(`LEDGER_TOKENS_FILE: cannot read ${file}: ${(error as Error).message}`);
    return "";
  }
}

/** HOST, or its default; development mode refuses any address but loopback. */
function listenHost(host: string | undefined, credentialed: boolean, problems: string[]): string {
  if (credentialed) {
    return host ?? "0.0.0.0";
  }
  if (host !== undefined && !isLoopback(host)) {
    problems.push(
      `HOST: "${host}" is not a loopback address, and no credential is configured: development mode serves loopback only. Configure tokens (LEDGER_TOKENS or LEDGER_TOKENS_FILE, see npm run token) to listen on ${host}.`,
    );
  }
  return host ?? "127.0.0.1";
}

/** 127.0.0.0/8, ::1 (also IPv4-mapped) or localhost. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (bare === "localhost" || bare === "::1") {
    return true;
  }
  const v4 = bare.startsWith("::ffff:") ? bare.slice("::ffff:".length) : bare;
  return isIP(v4) === 4 && v4.startsWith("127.");
}

/** A host a client can dial: wildcard addresses become loopback, IPv6 gets brackets. */
export function urlHost(host: string): string {
  if (host === "0.0.0.0") {
    return "127.0.0.1";
  }
  if (host === "::") {
    return "[::1]";
  }
  return isIPv6(host) ? `[${host}]` : host;
}

function tlsFiles(
  certFile: string | undefined,
  keyFile: string | undefined,
  problems: string[],
): TlsFiles | undefined {
  if (certFile === undefined && keyFile === undefined) {
    return undefined;
  }
  if (certFile === undefined || keyFile === undefined) {
    problems.push("TLS_CERT_FILE and TLS_KEY_FILE: set both or neither");
    return undefined;
  }
  for (const [name, file] of [
    ["TLS_CERT_FILE", certFile],
    ["TLS_KEY_FILE", keyFile],
  ] as const) {
    if (!existsSync(file)) {
      problems.push(`${name}: no such file: ${file}`);
    }
  }
  return { certFile, keyFile };
}

/** Reads one variable at a time; an empty value counts as unset. */
class EnvReader {
  constructor(
    private readonly env: Env,
    private readonly problems: string[],
  ) {}

  optionalText(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    return this.optionalInteger(name, min, max) ?? fallback;
  }

  optionalInteger(name: string, min: number, max: number): number | undefined {
    const text = this.optionalText(name);
    if (text === undefined) {
      return undefined;
    }
    const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      this.problems.push(`${name}: expected an integer in ${min}..${max}, got "${text}"`);
      return undefined;
    }
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const text = this.optionalText(name)?.toLowerCase();
    if (text === undefined) {
      return fallback;
    }
    if (["true", "1", "yes"].includes(text)) {
      return true;
    }
    if (["false", "0", "no"].includes(text)) {
      return false;
    }
    this.problems.push(`${name}: expected true or false, got "${text}"`);
    return fallback;
  }

  logLevel(name: string, fallback: LogLevel): LogLevel {
    const text = this.optionalText(name)?.toLowerCase();
    if (text === undefined) {
      return fallback;
    }
    const level = LOG_LEVELS.find((candidate) => candidate === text);
    if (level === undefined) {
      this.problems.push(`${name}: expected one of ${LOG_LEVELS.join(", ")}, got "${text}"`);
      return fallback;
    }
    return level;
  }

  /** "*", or a list of origins exactly as browsers send them (scheme://host[:port]). */
  origins(name: string): readonly string[] {
    const items = (this.optionalText(name) ?? "")
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== "");
    if (items.includes("*")) {
      if (items.length > 1) {
        this.problems.push(`${name}: "*" allows every origin and cannot be combined with others`);
      }
      return ["*"];
    }
    const bad = items.filter((item) => !isOrigin(item));
    if (bad.length > 0) {
      this.problems.push(
        `${name}: expected origins like https://app.example.com (scheme, host, optional port; no path), got ${bad.map((item) => `"${item}"`).join(", ")}`,
      );
    }
    return items.filter(isOrigin);
  }

  databaseUrl(name: string): string | undefined {
    const text = this.optionalText(name);
    if (text === undefined) {
      return undefined;
    }
    if (!URL.canParse(text) || !["postgres:", "postgresql:"].includes(new URL(text).protocol)) {
      // The URL may hold a password: never echo it.
      this.problems.push(`${name}: expected a postgres:// or postgresql:// URL`);
      return undefined;
    }
    return text;
  }
}

/** True for a serialized origin: what a browser sends in the Origin header. */
function isOrigin(text: string): boolean {
  return (
    URL.canParse(text) &&
    ["http:", "https:"].includes(new URL(text).protocol) &&
    new URL(text).origin === text
  );
}

/** The store's settings from the service's configuration; the database URL comes from wherever the database runs. */
export function storeSettings(config: Config): Omit<StoreConfig, "databaseUrl"> {
  return {
    poolSizeMax: config.dbPoolSizeMax,
    lockTimeoutMs: config.dbLockTimeoutMs,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    queueWaitMsMax: config.dbQueueWaitMsMax,
    queuedCallsMax: config.dbQueuedCallsMax,
    writeBatchesMax: config.dbWriteBatchesMax,
    transactionPooling: config.dbTransactionPooling,
    holdTtlMsDefault: config.holdTtlMsDefault,
    holdTtlMsMax: config.holdTtlMsMax,
  };
}
