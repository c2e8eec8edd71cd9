/**
 * Prometheus metrics of a real server on a real database, scraped over HTTP
 * from their own listener (METRICS_PORT), never from the ledger's port: calls
 * by method and code, latency, error reasons, write batches, lock wait, the
 * pool, watchers and the process.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLedgerMetrics, loadConfig } from "../../src/server/index.js";
import { serveMetrics } from "../../src/server/metrics.js";
import { failureOf, type LedgerApi, openClient } from "../support/clients.js";
import { absentId } from "../support/fixtures.js";
import { freePort } from "../support/ports.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { openLedger } from "../support/steps.js";
import { captureLog } from "./log-capture.js";

const SERVICE = "ledger.v1.LedgerService";

let server: TestServer;
let api: LedgerApi;

beforeAll(async () => {
  server = await startTestServer({ METRICS_PORT: String(await freePort()) });
  api = openClient("connect", server.url);
}, 60_000);

afterAll(async () => {
  api?.close();
  await server?.close();
});

type Labels = Readonly<Record<string, string>>;

interface Sample {
  readonly name: string;
  readonly labels: Labels;
  readonly value: number;
}

/** The samples of a Prometheus text exposition (comments skipped). */
function parseExposition(text: string): Sample[] {
  return text
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (match === null) {
        throw new Error(`not a sample line: ${line}`);
      }
      const labels = Object.fromEntries(
        [...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
      );
      return { name: match[1] ?? "", labels, value: Number(match[3]) };
    });
}

/** The value of the one series named `name` whose labels include `labels`; 0 when absent. */
function seriesValue(samples: readonly Sample[], name: string, labels: Labels = {}): number {
  const matching = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([key, v]) => s.labels[key] === v),
  );
  expect(matching.length).toBeLessThanOrEqual(1);
  return matching[0]?.value ?? 0;
}

async function scrape(): Promise<{ samples: Sample[]; text: string }> {
  const url = server.metricsUrl;
  if (url === undefined) {
    throw new Error("the test server has no metrics listener");
  }
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/plain");
  const text = await response.text();
  return { samples: parseExposition(text), text };
}

function handled(method: string, code: string): Labels {
  return { grpc_service: SERVICE, grpc_method: method, grpc_type: "unary", grpc_code: code };
}

describe("metrics", () => {
  it("count calls by method and code, their latency and the reason of each failure", async () => {
    const before = (await scrape()).samples;

    const ledger = await openLedger(api);
    await api.getLedger(ledger.id);
    await api.getLedger(ledger.id);
    const failure = await failureOf(api.getLedger(absentId()));
    expect(failure).toMatchObject({ code: "NOT_FOUND", reason: "LEDGER_NOT_FOUND" });

    const after = (await scrape()).samples;
    const moved = (name: string, labels: Labels) =>
      seriesValue(after, name, labels) - seriesValue(before, name, labels);
    const getLedger = { grpc_service: SERVICE, grpc_method: "GetLedger", grpc_type: "unary" };

    expect(moved("grpc_server_started_total", getLedger)).toBe(3);
    expect(moved("grpc_server_handled_total", handled("GetLedger", "OK"))).toBe(2);
    expect(moved("grpc_server_handled_total", handled("GetLedger", "NOT_FOUND"))).toBe(1);
    expect(moved("grpc_server_handled_total", handled("CreateLedger", "OK"))).toBe(1);
    expect(moved("grpc_server_handling_seconds_count", getLedger)).toBe(3);
    expect(moved("grpc_server_handling_seconds_bucket", { ...getLedger, le: "+Inf" })).toBe(3);
    expect(seriesValue(after, "grpc_server_handling_seconds_sum", getLedger)).toBeGreaterThan(0);
    expect(
      moved("ledger_errors_total", { grpc_method: "GetLedger", reason: "LEDGER_NOT_FOUND" }),
    ).toBe(1);
  });

  it("observe write batches, their lock statement, the pool and the process", async () => {
    const before = (await scrape()).samples;
    await openLedger(api);
    const { samples: after, text } = await scrape();

    for (const name of [
      "ledger_write_batch_calls_count",
      "ledger_write_batch_commands_count",
      "ledger_write_batch_duration_seconds_count",
      "ledger_lock_wait_seconds_count",
    ]) {
      expect(seriesValue(after, name) - seriesValue(before, name), name).toBeGreaterThanOrEqual(1);
    }
    expect(seriesValue(after, "ledger_write_batch_commands_sum")).toBeGreaterThanOrEqual(1);
    expect(seriesValue(after, "ledger_write_batch_duration_seconds_sum")).toBeGreaterThan(0);

    const inUse = after.find(
      (s) => s.name === "ledger_db_pool_connections" && s.labels.state === "in_use",
    );
    const idle = after.find(
      (s) => s.name === "ledger_db_pool_connections" && s.labels.state === "idle",
    );
    expect(inUse?.value).toBeGreaterThanOrEqual(0);
    // The calls are answered: the connections they used are back in the pool.
    expect(idle?.value).toBeGreaterThanOrEqual(1);
    expect(seriesValue(after, "ledger_db_pool_waiting")).toBe(0);
    expect(seriesValue(after, "ledger_watchers_active")).toBe(0);

    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    expect(text).toContain("# TYPE ledger_lock_wait_seconds histogram");
  });

  it("count the open WatchEntries streams", async () => {
    const ledger = await openLedger(api);
    const stop = new AbortController();
    const stream = api.watchEntries({ ledgerId: ledger.id }, stop.signal)[Symbol.asyncIterator]();
    const reading = stream.next();
    await expect
      .poll(async () => seriesValue((await scrape()).samples, "ledger_watchers_active"))
      .toBe(1);
    stop.abort();
    await reading.catch(() => undefined);
    await expect
      .poll(async () => seriesValue((await scrape()).samples, "ledger_watchers_active"))
      .toBe(0);
  });

  it("are served on their own listener only: /metrics there, 404 elsewhere and on the ledger port", async () => {
    const metricsUrl = new URL(server.metricsUrl ?? "");
    expect(metricsUrl.hostname).toBe("127.0.0.1");
    expect(metricsUrl.port).not.toBe(String(server.port));
    expect((await fetch(new URL("/", metricsUrl))).status).toBe(404);
    expect((await fetch(new URL("/metricsx", metricsUrl))).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
  });

  it("listen on loopback by default", () => {
    expect(loadConfig({ PORT: "0" })).toMatchObject({
      metricsHost: "127.0.0.1",
      metricsPort: 9464,
    });
  });

  it("log their URL, and a warning when the operator puts them on another address", async () => {
    for (const host of ["127.0.0.1", "0.0.0.0"]) {
      const log = captureLog();
      const listener = await serveMetrics(
        createLedgerMetrics(),
        { host, port: await freePort() },
        log.logger,
      );
      try {
        expect((await fetch(listener.url)).status).toBe(200);
        const lines = log.lines();
        expect(lines.find((line) => line.msg === "metrics listening")?.url).toBe(listener.url);
        const warned = lines.some((line) => line.level === 40 && line.host === host);
        expect(warned).toBe(host === "0.0.0.0");
      } finally {
        await listener.close();
      }
    }
  });
});
