/**
 * Prometheus metrics (prom-client), one registry per server, served on a
 * listener of their own (METRICS_HOST:METRICS_PORT, `/metrics`): they span
 * every app, and the ledger port's bearer tokens are per app.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { CallObserver } from "../rpc/index.js";
import type { PoolStats, WriteBatchReport } from "../store/index.js";
import { type Config, isLoopback, urlHost } from "./config.js";

export const METRICS_PATH = "/metrics";

const CALL_LABELS = ["grpc_service", "grpc_method", "grpc_type"] as const;
/** Calls or commands per batch: powers of two up to BATCH_COMMANDS_MAX. */
const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000];
/** Lock statements: from an uncontended row (sub-millisecond) to DB_LOCK_TIMEOUT_MS's default. */
const LOCK_WAIT_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

/** What the server, the call log and the store report; `registry` is what a scrape reads. */
export interface LedgerMetrics extends CallObserver {
  readonly registry: Registry;
  /** The store's onWriteBatch. */
  observeWriteBatch(batch: WriteBatchReport): void;
  /** The store's pool, read at each scrape. */
  readPoolFrom(stats: () => PoolStats): void;
  /** Where ledger_watchers_active is read at each scrape (the WatchEntries hub). */
  readWatchersFrom(active: () => number): void;
}

/** Metrics when METRICS_PORT asks for them; undefined when it is 0. */
export function metricsFor(config: Pick<Config, "metricsPort">): LedgerMetrics | undefined {
  return config.metricsPort === 0 ? undefined : createLedgerMetrics();
}

/** A fresh registry with every ledger metric and the process's own (process_*, nodejs_*). */
export function createLedgerMetrics(): LedgerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const calls = callMetrics(registry);
  const batches = batchMetrics(registry);
  let pool: (() => PoolStats) | undefined;
  poolGauges(registry, () => pool?.());
  let watchers: (() => number) | undefined;
  new Gauge({
    name: "ledger_watchers_active",
    help: "Open WatchEntries streams.",
    registers: [registry],
    collect() {
      this.set(watchers?.() ?? 0);
    },
  });
  return {
    registry,
    ...calls,
    observeWriteBatch: batches,
    readPoolFrom(stats) {
      pool = stats;
    },
    readWatchersFrom(active) {
      watchers = active;
    },
  };
}

function callMetrics(registry: Registry): CallObserver {
  const registers = [registry];
  const started = new Counter({
    name: "grpc_server_started_total",
    help: "RPCs started on the server.",
    labelNames: CALL_LABELS,
    registers,
  });
  const handled = new Counter({
    name: "grpc_server_handled_total",
    help: "RPCs completed on the server, by gRPC code.",
    labelNames: [...CALL_LABELS, "grpc_code"],
    registers,
  });
  const handlingSeconds = new Histogram({
    name: "grpc_server_handling_seconds",
    help: "Time from an RPC's start to its answer, in seconds.",
    labelNames: CALL_LABELS,
    registers,
  });
  const errors = new Counter({
    name: "ledger_errors_total",
    help: "Failed calls by the reason of their google.rpc.ErrorInfo.",
    labelNames: ["grpc_method", "reason"],
    registers,
  });
  return {
    callStarted(call) {
      started.inc(callLabels(call));
    },
    callHandled(call) {
      handled.inc({ ...callLabels(call), grpc_code: call.code });
      handlingSeconds.observe(callLabels(call), call.durationSeconds);
      if (call.reason !== undefined) {
        errors.inc({ grpc_method: call.method, reason: call.reason });
      }
    },
  };
}

function callLabels(call: { service: string; method: string; type: string }) {
  return { grpc_service: call.service, grpc_method: call.method, grpc_type: call.type };
}

function batchMetrics(registry: Registry): (batch: WriteBatchReport) => void {
  const registers = [registry];
  const calls = new Histogram({
    name: "ledger_write_batch_calls",
    help: "Calls served by one write batch (group commit).",
    buckets: BATCH_SIZE_BUCKETS,
    registers,
  });
  const commands = new Histogram({
    name: "ledger_write_batch_commands",
    help: "Commands in one write batch.",
    buckets: BATCH_SIZE_BUCKETS,
    registers,
  });
  const durationSeconds = new Histogram({
    name: "ledger_write_batch_duration_seconds",
    help: "A write batch from taking its calls (connection in hand) to answering them, in seconds.",
    registers,
  });
  const lockWaitSeconds = new Histogram({
    name: "ledger_lock_wait_seconds",
    help: "A write batch's time in its ledgers' lock statement (SELECT ... FOR UPDATE), in seconds.",
    buckets: LOCK_WAIT_BUCKETS_SECONDS,
    registers,
  });
  return (batch) => {
    calls.observe(batch.calls);
    commands.observe(batch.commands);
    durationSeconds.observe(batch.durationSeconds);
    lockWaitSeconds.observe(batch.lockWaitSeconds);
  };
}

/** Gauges set from the pool at each scrape; absent values until a store is attached. */
function poolGauges(registry: Registry, read: () => PoolStats | undefined): void {
  const registers = [registry];
  new Gauge({
    name: "ledger_db_pool_connections",
    help: "Database connections by state: in_use (checked out) or idle.",
    labelNames: ["state"],
    registers,
    collect() {
      const stats = read();
      if (stats !== undefined) {
        this.set({ state: "in_use" }, stats.inUse);
        this.set({ state: "idle" }, stats.idle);
      }
    },
  });
  new Gauge({
    name: "ledger_db_pool_waiting",
    help: "Reads and write batches waiting for a database connection.",
    registers,
    collect() {
      this.set(read()?.waiting ?? 0);
    },
  });
  new Gauge({
    name: "ledger_write_queued_calls",
    help: "Write calls queued for a write batch.",
    registers,
    collect() {
      this.set(read()?.queuedWrites ?? 0);
    },
  });
}

export interface MetricsListener {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves GET /metrics on host:port (404 on any other path), until close(). */
export async function serveMetrics(
  metrics: LedgerMetrics,
  address: { readonly host: string; readonly port: number },
  logger: Logger,
): Promise<MetricsListener> {
  const server = http.createServer((req, res) => void answer(metrics.registry, req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (error) => logger.error({ err: error }, "metrics listener error"));
  const { port } = server.address() as AddressInfo;
  const url = `http://${urlHost(address.host)}:${port}${METRICS_PATH}`;
  logger.info({ url }, "metrics listening");
  if (!isLoopback(address.host)) {
    logger.warn(
      { host: address.host },
      "metrics are served without authentication on a non-loopback address (METRICS_HOST): firewall it to the scraper",
    );
  }
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function answer(
  registry: Registry,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const path = new URL(req.url ?? "/", "http://metrics").pathname;
  if (path !== METRICS_PATH) {
    res.writeHead(404).end();
    return;
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD" }).end();
    return;
  }
  try {
    const body = await registry.metrics();
    res.writeHead(200, { "content-type": registry.contentType }).end(body);
  } catch {
    res.writeHead(500).end();
  }
}
