/** The command line of `npm run bench`, checked when parsed. */
export const SCENARIOS = ["record-spread", "record-hot", "balance-reads", "mix"] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface BenchOptions {
  readonly concurrency: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly scenarios: readonly Scenario[];
  readonly ledgers: number;
  /** Database connections of the service, and of the raw baseline's pool. */
  readonly poolSize: number;
  /** PostgreSQL's default synchronous_commit=on; otherwise off (see README). */
  readonly durable: boolean;
  /** Run the server under --cpu-prof and summarise where its time goes. */
  readonly profile: boolean;
  readonly logLevel: string;
  readonly out: string;
}

const USAGE = `usage: npm run bench -- [--concurrency 32] [--duration-s 10] [--warmup-s 2]
  [--scenarios ${SCENARIOS.join(",")}] [--ledgers 10000] [--pool-size 10]
  [--durable] [--profile] [--log-level info] [--out bench/results]`;

export function parseOptions(argv: readonly string[]): BenchOptions {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? "";
    if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      process.exit(0);
    }
    if (arg === "--durable" || arg === "--profile") {
      flags.add(arg.slice(2));
      continue;
    }
    const [name, inline] = arg.startsWith("--") ? arg.slice(2).split("=", 2) : [undefined];
    const value = inline ?? argv[i + 1];
    if (name === undefined || value === undefined) {
      throw new Error(`unexpected argument ${arg}\n${USAGE}`);
    }
    if (inline === undefined) {
      i += 1;
    }
    values.set(name, value);
  }
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = values.get(name);
    values.delete(name);
    const value = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`--${name} must be an integer in ${min}..${max}, got ${raw}`);
    }
    return value;
  };
  const scenarioList = (values.get("scenarios") ?? SCENARIOS.join(",")).split(",");
  values.delete("scenarios");
  for (const name of scenarioList) {
    if (!(SCENARIOS as readonly string[]).includes(name)) {
      throw new Error(`unknown scenario ${name}: one of ${SCENARIOS.join(", ")}`);
    }
  }
  const options: BenchOptions = {
    concurrency: integer("concurrency", 32, 1, 1024),
    durationS: integer("duration-s", 10, 1, 3600),
    warmupS: integer("warmup-s", 2, 0, 600),
    ledgers: integer("ledgers", 10_000, 1, 1_000_000),
    poolSize: integer("pool-size", 10, 1, 200),
    scenarios: scenarioList as Scenario[],
    durable: flags.has("durable"),
    profile: flags.has("profile"),
    logLevel: values.get("log-level") ?? "info",
    out: values.get("out") ?? "bench/results",
  };
  values.delete("log-level");
  values.delete("out");
  if (values.size > 0) {
    throw new Error(`unknown option(s) ${[...values.keys()].join(", ")}\n${USAGE}`);
  }
  return options;
}
