import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveStoreConfig } from "../store/config.js";
import { CONFIG_SETTINGS, ConfigError, configTableMarkdown, loadConfig } from "./config.js";
import { newToken } from "./credentials.js";

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) {
      return e.problems;
    }
    throw e;
  }
  return [];
}

describe("loadConfig", () => {
  it("has a documented default for everything", () => {
    expect(loadConfig({})).toEqual({
      port: 8080,
      host: "127.0.0.1",
      credentials: { enabled: false, tokens: [], file: undefined },
      databaseUrl: undefined,
      dataDir: ".data/postgres",
      migrateOnStart: true,
      tls: undefined,
      requestBytesMax: 1024 * 1024,
      shutdownGraceMs: 10_000,
      http2IdleTimeoutMs: 60_000,
      connectionsMax: 1000,
      logLevel: "info",
      dbPoolSizeMax: undefined,
      dbLockTimeoutMs: undefined,
      dbStatementTimeoutMs: undefined,
      dbQueueWaitMsMax: undefined,
      dbQueuedCallsMax: undefined,
      dbTransactionPooling: false,
      corsAllowedOrigins: [],
      holdTtlMsDefault: undefined,
      holdTtlMsMax: undefined,
      holdSweepIntervalMs: 5000,
      expirySweepIntervalMs: 60_000,
      watchersMax: 1000,
      watchPollIntervalMs: 1000,
      watchBufferMax: 1000,
      metricsPort: 9464,
      metricsHost: "127.0.0.1",
    });
  });

  it("reads every setting", () => {
    const config = loadConfig({
      PORT: "0",
      HOST: "127.0.0.1",
      DATABASE_URL: "postgresql://ledger:pw@db:5432/ledger",
      LEDGER_DATA_DIR: "/var/lib/ledger",
      MIGRATE_ON_START: "false",
      REQUEST_BYTES_MAX: "4096",
      SHUTDOWN_GRACE_MS: "0",
      LOG_LEVEL: "DEBUG",
      DB_POOL_SIZE_MAX: "20",
      DB_LOCK_TIMEOUT_MS: "500",
      DB_STATEMENT_TIMEOUT_MS: "3000",
      DB_QUEUE_WAIT_MS_MAX: "1500",
      DB_QUEUED_CALLS_MAX: "0",
      DB_WRITE_BATCHES_MAX: "2",
      DB_TRANSACTION_POOLING: "true",
      HTTP2_IDLE_TIMEOUT_MS: "250",
      CONNECTIONS_MAX: "64",
      CORS_ALLOWED_ORIGINS: "https://console.example.com",
    });
    expect(config).toMatchObject({
      port: 0,
      host: "127.0.0.1",
      databaseUrl: "postgresql://ledger:pw@db:5432/ledger",
      dataDir: "/var/lib/ledger",
      migrateOnStart: false,
      requestBytesMax: 4096,
      shutdownGraceMs: 0,
      logLevel: "debug",
      dbPoolSizeMax: 20,
      dbLockTimeoutMs: 500,
      dbStatementTimeoutMs: 3000,
      dbQueueWaitMsMax: 1500,
      dbQueuedCallsMax: 0,
      dbWriteBatchesMax: 2,
      dbTransactionPooling: true,
      http2IdleTimeoutMs: 250,
      connectionsMax: 64,
      corsAllowedOrigins: ["https://console.example.com"],
    });
  });

  it("treats an empty value as unset", () => {
    expect(loadConfig({ PORT: "", DATABASE_URL: "" })).toMatchObject({
      port: 8080,
      databaseUrl: undefined,
    });
  });

  it("lists every problem at once, without echoing a database password", () => {
    const problems = problemsOf({
      PORT: "80a",
      REQUEST_BYTES_MAX: "10",
      SHUTDOWN_GRACE_MS: "-1",
      MIGRATE_ON_START: "maybe",
      LOG_LEVEL: "loud",
      DATABASE_URL: "mysql://root:hunter2@db/x",
      DB_POOL_SIZE_MAX: "0",
      DB_LOCK_TIMEOUT_MS: "1.5",
      DB_STATEMENT_TIMEOUT_MS: "99999999999",
      DB_QUEUE_WAIT_MS_MAX: "0",
      DB_QUEUED_CALLS_MAX: "-1",
      DB_WRITE_BATCHES_MAX: "0",
      HTTP2_IDLE_TIMEOUT_MS: "0",
      CONNECTIONS_MAX: "1e3",
    });
    expect(problems.map((p) => p.split(":")[0])).toEqual([
      "PORT",
      "DATABASE_URL",
      "MIGRATE_ON_START",
      "REQUEST_BYTES_MAX",
      "SHUTDOWN_GRACE_MS",
      "HTTP2_IDLE_TIMEOUT_MS",
      "CONNECTIONS_MAX",
      "LOG_LEVEL",
      "DB_POOL_SIZE_MAX",
      "DB_LOCK_TIMEOUT_MS",
      "DB_STATEMENT_TIMEOUT_MS",
      "DB_QUEUE_WAIT_MS_MAX",
      "DB_QUEUED_CALLS_MAX",
      "DB_WRITE_BATCHES_MAX",
    ]);
    expect(problems.join("\n")).not.toContain("hunter2");
  });

  it("needs both TLS files or neither, and they must exist", () => {
    expect(problemsOf({ TLS_CERT_FILE: "/etc/hostname" })).toEqual([
      "TLS_CERT_FILE and TLS_KEY_FILE: set both or neither",
    ]);
    expect(problemsOf({ TLS_CERT_FILE: "/nope/cert.pem", TLS_KEY_FILE: "/nope/key.pem" })).toEqual([
      "TLS_CERT_FILE: no such file: /nope/cert.pem",
      "TLS_KEY_FILE: no such file: /nope/key.pem",
    ]);
  });

  it("documents exactly the variables it reads, with their defaults", () => {
    const read = new Set<string>();
    const env = new Proxy({} as Record<string, string | undefined>, {
      get(_, name) {
        if (typeof name === "string") {
          read.add(name);
        }
        return undefined;
      },
    });
    const config = loadConfig(env);
    expect([...read].sort()).toEqual(CONFIG_SETTINGS.map((s) => s.env).sort());
    const documented = Object.fromEntries(CONFIG_SETTINGS.map((s) => [s.env, s.default]));
    expect(documented).toMatchObject({
      PORT: String(config.port),
      HOST: config.host,
      LEDGER_DATA_DIR: config.dataDir,
      MIGRATE_ON_START: String(config.migrateOnStart),
      REQUEST_BYTES_MAX: String(config.requestBytesMax),
      SHUTDOWN_GRACE_MS: String(config.shutdownGraceMs),
      HTTP2_IDLE_TIMEOUT_MS: String(config.http2IdleTimeoutMs),
      CONNECTIONS_MAX: String(config.connectionsMax),
      LOG_LEVEL: config.logLevel,
      METRICS_PORT: String(config.metricsPort),
      METRICS_HOST: config.metricsHost,
      DB_QUEUE_WAIT_MS_MAX: String(resolveStoreConfig({ databaseUrl: "x" }).queueWaitMsMax),
      DB_QUEUED_CALLS_MAX: String(resolveStoreConfig({ databaseUrl: "x" }).queuedCallsMax),
      DB_WRITE_BATCHES_MAX: String(resolveStoreConfig({ databaseUrl: "x" }).writeBatchesMax),
      DB_TRANSACTION_POOLING: String(config.dbTransactionPooling),
    });
  });

  it("renders the settings as a padded Markdown table, as Biome formats it", () => {
    const lines = configTableMarkdown().split("\n");
    expect(lines).toHaveLength(CONFIG_SETTINGS.length + 2);
    expect(new Set(lines.map((line) => line.length)).size).toBe(1);
    expect(lines[1]).toMatch(/^\| -+ \| -+ \| -+ \|$/);
    for (const setting of CONFIG_SETTINGS) {
      expect(configTableMarkdown()).toContain(`| \`${setting.env}\` `);
    }
  });
});

describe("the metrics listener", () => {
  it("is on loopback port 9464 by default, off with METRICS_PORT 0", () => {
    expect(loadConfig({})).toMatchObject({ metricsPort: 9464, metricsHost: "127.0.0.1" });
    expect(loadConfig({ METRICS_PORT: "0" }).metricsPort).toBe(0);
    expect(loadConfig({ METRICS_PORT: "9100", METRICS_HOST: "::1" })).toMatchObject({
      metricsPort: 9100,
      metricsHost: "::1",
    });
  });

  it("stays on loopback when the ledger port is public, and leaves it only when set", () => {
    const token = newToken("content", "writer");
    expect(loadConfig({ LEDGER_TOKENS: token.line }).metricsHost).toBe("127.0.0.1");
    // Development mode confines HOST, not METRICS_HOST: the operator named it (a warning at start).
    expect(loadConfig({ METRICS_HOST: "0.0.0.0" }).metricsHost).toBe("0.0.0.0");
  });

  it("refuses a bad port, and the ledger's own port", () => {
    expect(problemsOf({ METRICS_PORT: "99999" })).toEqual([
      'METRICS_PORT: expected an integer in 0..65535, got "99999"',
    ]);
    expect(problemsOf({ PORT: "9000", METRICS_PORT: "9000" })).toEqual([
      "METRICS_PORT: must differ from PORT (metrics have a listener of their own)",
    ]);
    expect(problemsOf({ PORT: "0", METRICS_PORT: "0" })).toEqual([]);
  });
});

describe("credentials and the listening address", () => {
  const content = newToken("content", "writer");
  const learning = newToken("learning", "admin");

  it("is in development mode without credentials: loopback only", () => {
    expect(loadConfig({}).host).toBe("127.0.0.1");
    expect(loadConfig({ HOST: "::1" }).host).toBe("::1");
    expect(loadConfig({ HOST: "localhost" }).credentials.enabled).toBe(false);
    for (const host of ["0.0.0.0", "::", "192.168.1.10", "example.com"]) {
      const [problem] = problemsOf({ HOST: host });
      expect(problem).toContain(`HOST: "${host}" is not a loopback address`);
      expect(problem).toContain("LEDGER_TOKENS");
    }
  });

  it("listens everywhere by default once tokens are configured", () => {
    const config = loadConfig({ LEDGER_TOKENS: `${content.line}, ${learning.line}` });
    expect(config.host).toBe("0.0.0.0");
    expect(config.credentials).toEqual({
      enabled: true,
      file: undefined,
      tokens: [
        { app: "content", role: "writer", sha256Hex: content.line.split(":")[3] },
        { app: "learning", role: "admin", sha256Hex: learning.line.split(":")[3] },
      ],
    });
    expect(loadConfig({ LEDGER_TOKENS: content.line, HOST: "10.0.0.5" }).host).toBe("10.0.0.5");
  });

  it("reads a token file with comments, and turns credentials on even when it is empty", () => {
    const dir = mkdtempSync(join(tmpdir(), "tokens-"));
    const file = join(dir, "tokens");
    writeFileSync(
      file,
      `# the content app\n${content.line}  # since 2026-12\n\n${learning.line}\n`,
    );
    expect(loadConfig({ LEDGER_TOKENS_FILE: file }).credentials.tokens).toHaveLength(2);
    writeFileSync(file, "# nobody yet\n");
    expect(loadConfig({ LEDGER_TOKENS_FILE: file }).credentials).toEqual({
      enabled: true,
      tokens: [],
      file,
    });
    expect(problemsOf({ LEDGER_TOKENS_FILE: join(dir, "absent") })[0]).toMatch(
      /^LEDGER_TOKENS_FILE: cannot read/,
    );
    rmSync(dir, { recursive: true });
  });

  it("refuses bad entries, naming each without echoing a secret", () => {
    const hex = "a".repeat(64);
    const problems = problemsOf({
      LEDGER_TOKENS: [
        `giftcards:writer:sha256:${hex}`,
        `content:owner:sha256:${hex}`,
        "content:writer:sha256:short",
        content.token,
      ].join(","),
    });
    expect(problems).toEqual([
      'LEDGER_TOKENS: app "giftcards" is not declared (declared: content, learning)',
      'LEDGER_TOKENS: role "owner" is not one of reader, writer, admin',
      "LEDGER_TOKENS: expected <app>:<role>:sha256:<64 hex digits>, got an entry",
      "LEDGER_TOKENS: expected <app>:<role>:sha256:<64 hex digits>, got a raw token (configure its sha256 line)",
    ]);
    expect(problems.join("\n")).not.toContain(content.token);
  });

  it("allows two tokens per app and role (a rotation), not three, and no token twice", () => {
    const lines = [1, 2, 3].map(() => newToken("content", "writer").line);
    expect(
      loadConfig({ LEDGER_TOKENS: lines.slice(0, 2).join(",") }).credentials.tokens,
    ).toHaveLength(2);
    expect(problemsOf({ LEDGER_TOKENS: lines.join(",") })).toEqual([
      "tokens: 3 tokens for content:writer; at most 2 (the current one and the next, during a rotation)",
    ]);
    expect(problemsOf({ LEDGER_TOKENS: `${content.line},${content.line}` })[0]).toMatch(
      /^tokens: the token [0-9a-f]{12}… is configured twice$/,
    );
  });
});
