/** The command line of `npm run bench`, checked when parsed. */

import { BULK_ITEMS_MAX } from "../src/domain/limits.js";

/**
 * `record-bulk` sends RecordEntries of --batch-entries items (100 by
 * default, not atomic) on random ledgers, counted in entries/s (issue 9).
 * `transfer-spread` sends a Transfer, `transfer-bulk` CreateTransfers of
 * --batch-entries items (not atomic), each between a random pair of the
 * TRANSFER_LEDGERS (setup.ts), counted in transfers/s. `hold-post` makes a
 * hold (Transfer with `pending`) of 1 between such a pair, then posts it
 * (PostPendingTransaction): two RPCs one after the other, counted in holds/s.
 * Its raw side is transfer-spread's one-phase raw transfer, so its ratio is a
 * two-phase transfer through the service against a one-phase transfer in raw
 * SQL. `record-backdate` sends RecordEntry backdated to a random instant
 * of the last BACKDATE_WINDOW_MS (run.ts) on random ledgers: each lands in
 * history and recomputes the balances of what the ledger recorded since;
 * its raw side does the same recompute in SQL.
 */
export const SCENARIOS = [
  "record-spread",
  "record-hot",
  "record-bulk",
  "transfer-spread",
  "transfer-bulk",
  "hold-post",
  "record-backdate",
  "balance-reads",
  "mix",
  "rpc-floor",
] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Scenarios whose raw side is RecordEntry's SQL, so a batched-SQL baseline applies. */
export const BATCHABLE_SCENARIOS: readonly Scenario[] = [
  "record-spread",
  "record-hot",
  "record-bulk",
];
/** Scenarios whose every call carries --batch-entries items, counted in items/s. */
export const BULK_SCENARIOS: readonly Scenario[] = ["record-bulk", "transfer-bulk"];
/** Scenarios whose items are transfers (a debit and a credit entry each), not entries. */
export const TRANSFER_SCENARIOS: readonly Scenario[] = ["transfer-spread", "transfer-bulk"];
/**
 * Scenarios whose service call is a hold and its post (two RPCs), counted in
 * holds/s, against a one-phase raw transfer per call.
 */
export const HOLD_SCENARIOS: readonly Scenario[] = ["hold-post"];
/** The scenario paced at --rate (open loop) for the p99-at-half-the-peak goal. */
export const PACED_SCENARIO: Scenario = "record-spread";

/** How the paced run chooses its rate. */
export type RateOption =
  | { readonly kind: "half-peak" }
  | { readonly kind: "fixed"; readonly callsPerS: number }
  | { readonly kind: "off" };

export interface BenchOptions {
  /** Each scenario runs once per value, each side at each. */
  readonly concurrency: readonly number[];
  readonly durationS: number;
  readonly warmupS: number;
  readonly scenarios: readonly Scenario[];
  readonly ledgers: number;
  /** Database connections of each service process, and of the raw baselines' pool. */
  readonly poolSize: number;
  /**
   * Service processes on the one database; each load client (worker) is
   * bound to one of them, round robin, so each gets an equal share.
   */
  readonly replicas: number;
  /** The service's DB_WRITE_BATCHES_MAX; undefined: its default. */
  readonly writeBatches: number | undefined;
  /**
   * Entries per transaction of the batched raw baseline, and items per bulk
   * call (RecordEntries of record-bulk, CreateTransfers of transfer-bulk).
   */
  readonly batchEntries: number;
  /** The open-loop run of PACED_SCENARIO through the service. */
  readonly rate: RateOption;
  /** PostgreSQL's default synchronous_commit=on; off only with --no-durable (see README). */
  readonly durable: boolean;
  /** Run the server under --cpu-prof and summarise where its time goes. */
  readonly profile: boolean;
  readonly logLevel: string;
  readonly out: string;
}

const USAGE = `usage: npm run bench -- [--concurrency 16,64] [--duration-s 8] [--warmup-s 2]
  [--scenarios ${SCENARIOS.join(",")}] [--ledgers 10000] [--pool-size 10] [--replicas 1]
  [--write-batches <DB_WRITE_BATCHES_MAX>]
  [--batch-entries 100] [--rate half-peak|<calls/s>|off] [--no-durable] [--profile]
  [--log-level info] [--out bench/results]`;

/** Service processes a run may start: each is a Node process with its own pool. */
const REPLICAS_MAX = 8;

const FLAGS = new Set(["no-durable", "profile"]);

export function parseOptions(argv: readonly string[]): BenchOptions {
  const { values, flags } = split(argv);
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = values.get(name);
    values.delete(name);
    return checkedInteger(name, raw === undefined ? fallback : raw, min, max);
  };
  const options: BenchOptions = {
    concurrency: concurrencyList(take(values, "concurrency") ?? "16,64"),
    durationS: integer("duration-s", 8, 1, 3600),
    warmupS: integer("warmup-s", 2, 0, 600),
    ledgers: integer("ledgers", 10_000, 1, 1_000_000),
    poolSize: integer("pool-size", 10, 1, 200),
    replicas: integer("replicas", 1, 1, REPLICAS_MAX),
    writeBatches: values.has("write-batches") ? integer("write-batches", 0, 1, 1000) : undefined,
    batchEntries: integer("batch-entries", 100, 1, BULK_ITEMS_MAX),
    scenarios: scenarioList(take(values, "scenarios") ?? SCENARIOS.join(",")),
    rate: rateOption(take(values, "rate") ?? "half-peak"),
    durable: !flags.has("no-durable"),
    profile: flags.has("profile"),
    logLevel: take(values, "log-level") ?? "info",
    out: take(values, "out") ?? "bench/results",
  };
  if (values.size > 0) {
    throw new Error(`unknown option(s) ${[...values.keys()].join(", ")}\n${USAGE}`);
  }
  if (options.profile && options.replicas > 1) {
    throw new Error("--profile summarises one server process: run it with --replicas 1");
  }
  return options;
}

function split(argv: readonly string[]): { values: Map<string, string>; flags: Set<string> } {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? "";
    if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      process.exit(0);
    }
    if (arg === "--durable") {
      throw new Error(
        "--durable is gone: commits are durable by default; --no-durable turns that off",
      );
    }
    if (arg.startsWith("--") && FLAGS.has(arg.slice(2))) {
      flags.add(arg.slice(2));
      continue;
    }
    const [name, inline] = arg.startsWith("--") ? arg.slice(2).split("=", 2) : [undefined];
    const value = inline ?? argv[i + 1];
    if (name === undefined || value === undefined || value.startsWith("--")) {
      throw new Error(`unexpected argument ${arg}\n${USAGE}`);
    }
    if (inline === undefined) {
      i += 1;
    }
    values.set(name, value);
  }
  return { values, flags };
}

function take(values: Map<string, string>, name: string): string | undefined {
  const value = values.get(name);
  values.delete(name);
  return value;
}

function checkedInteger(name: string, raw: number | string, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`--${name} must be an integer in ${min}..${max}, got ${raw}`);
  }
  return value;
}

function concurrencyList(raw: string): number[] {
  const list = raw.split(",").map((item) => checkedInteger("concurrency", item, 1, 1024));
  if (new Set(list).size !== list.length) {
    throw new Error(`--concurrency lists a value twice: ${raw}`);
  }
  return list;
}

function scenarioList(raw: string): Scenario[] {
  const list = raw.split(",");
  for (const name of list) {
    if (!(SCENARIOS as readonly string[]).includes(name)) {
      throw new Error(`unknown scenario ${name}: one of ${SCENARIOS.join(", ")}`);
    }
  }
  return list as Scenario[];
}

function rateOption(raw: string): RateOption {
  if (raw === "half-peak" || raw === "off") {
    return { kind: raw };
  }
  return { kind: "fixed", callsPerS: checkedInteger("rate", raw, 1, 1_000_000) };
}
