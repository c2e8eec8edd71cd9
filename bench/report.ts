/** The results of a run: a table on stdout, JSON, and an SVG chart. */
import { type BenchOptions, HOLD_SCENARIOS, type Scenario, TRANSFER_SCENARIOS } from "./options.js";
import type { RunStats } from "./stats.js";

/** CPU time per successful item (call, hold-post's hold and post, or entry or transfer of a batch), in µs, from /proc over the measured window. */
export interface CpuUsPerItem {
  /** The server processes, all replicas together; absent for the raw sides, which have none. */
  readonly server?: number;
  readonly postgres: number;
  readonly client: number;
}

export interface ScenarioResult {
  readonly scenario: Scenario;
  readonly concurrency: number;
  readonly service: RunStats;
  /** The per-request raw SQL; absent for rpc-floor, which has no database work to compare. */
  readonly raw: RunStats | undefined;
  /** The batched raw SQL (entries/s); only for the write scenarios it applies to. */
  readonly rawBatched: RunStats | undefined;
  /**
   * Service throughput / raw per-request throughput (bulk: entries or
   * transfers/s over the same; hold-post: holds made and posted per s over
   * raw one-phase transfers/s, a two-phase transfer through the service
   * against a one-phase transfer in raw SQL).
   */
  readonly ratio: number | undefined;
  /** Batched raw entries/s / raw per-request writes/s: what batching buys on this machine. */
  readonly batchedRatio: number | undefined;
  /** balance-reads only: service throughput / rpc-floor's at the same concurrency. */
  readonly floorRatio: number | undefined;
  /** Largest resident memory of each server process (replica, in start order) during the service side. */
  readonly serverRssMbMax: readonly number[];
  readonly cpuUsPerItem: {
    readonly service: CpuUsPerItem;
    readonly raw: CpuUsPerItem | undefined;
    readonly rawBatched: CpuUsPerItem | undefined;
  };
}

/** An open-loop run through the service at a fixed rate (--rate). */
export interface PacedResult {
  readonly scenario: Scenario;
  /** The scheduled rate. */
  readonly ratePerS: number;
  /** The peak it is half of (half-peak), else undefined. */
  readonly peakPerS: number | undefined;
  readonly inFlightMax: number;
  readonly stats: RunStats;
  /** Per server process, as ScenarioResult's. */
  readonly serverRssMbMax: readonly number[];
}

export interface BenchReport {
  readonly startedAt: string;
  readonly command: string;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly memoryGb: number;
    readonly node: string;
    readonly postgres: string;
    readonly platform: string;
  };
  readonly options: BenchOptions;
  /** PostgreSQL's synchronous_commit during the run. */
  readonly synchronousCommit: "on" | "off";
  /** How the server was started: package.json's start script's Node flags. */
  readonly serverNodeFlags: readonly string[];
  readonly scenarios: readonly ScenarioResult[];
  readonly paced: PacedResult | undefined;
  /** Largest resident memory of each server process (replica) from its start to its stop. */
  readonly serverRssMbMax: readonly number[];
  readonly durationS: number;
}

/** The server processes of the run, as its table and chart name them. */
export function servers(report: Pick<BenchReport, "options" | "serverNodeFlags">): string {
  const { replicas } = report.options;
  const command = `node ${report.serverNodeFlags.join(" ")} src/server/main.ts`;
  return replicas === 1 ? command : `${replicas} replicas (processes) of ${command}`;
}

/** RSS of each replica, "/"-separated. */
function rssCell(mbMax: readonly number[]): string {
  return mbMax.join("/");
}

export function commitMode(report: Pick<BenchReport, "synchronousCommit">): string {
  return report.synchronousCommit === "on"
    ? "durable commits (synchronous_commit=on)"
    : "NOT durable (--no-durable: synchronous_commit=off)";
}

const HEADER = [
  "scenario",
  "clients",
  "side",
  "unit",
  "per s",
  "p50 ms",
  "p95 ms",
  "p99 ms",
  "errors",
  "server RSS MiB",
  "÷ raw",
  "÷ rpc-floor",
];

/** What a scenario's items are: a bulk call's items are counted, not its calls. */
function itemsOf(scenario: Scenario): string {
  return TRANSFER_SCENARIOS.includes(scenario) ? "transfers" : "entries";
}

/**
 * The unit of a side's throughput: calls, a bulk call's items, or for
 * hold-post holds (each made and posted, two RPCs) against raw transfers.
 */
function unitOf(scenario: Scenario, side: "service" | "raw", stats: RunStats): string {
  if (HOLD_SCENARIOS.includes(scenario)) {
    return side === "service" ? "holds (2 RPCs each)" : "transfers";
  }
  return perCall(stats, itemsOf(scenario));
}

/** `calls`, or the items of a call that carries several, counted one by one. */
function perCall(stats: RunStats, items: string): string {
  return stats.itemsPerCall === 1 ? "calls" : `${items} (${stats.itemsPerCall}/call)`;
}

/** The footnote of a two-phase scenario, printed under the table when it ran. */
const HOLD_NOTE =
  "hold-post: a two-phase transfer through the service (Transfer with pending, then PostPendingTransaction) against a one-phase transfer in raw SQL";

function row(
  scenario: string,
  clients: string,
  side: string,
  stats: RunStats,
  unit: string,
  rest: readonly string[],
): string[] {
  return [
    scenario,
    clients,
    side,
    unit,
    String(stats.throughputPerS),
    String(stats.p50Ms),
    String(stats.p95Ms),
    String(stats.p99Ms),
    String(stats.errors),
    ...rest,
  ];
}

const fixed = (ratio: number | undefined): string => (ratio === undefined ? "" : ratio.toFixed(2));

export function printTable(report: BenchReport): void {
  console.log(`${commitMode(report)}; server: ${servers(report)}`);
  const rows = [HEADER];
  for (const s of report.scenarios) {
    const c = String(s.concurrency);
    rows.push(
      row(s.scenario, c, "service", s.service, unitOf(s.scenario, "service", s.service), [
        rssCell(s.serverRssMbMax),
        fixed(s.ratio),
        fixed(s.floorRatio),
      ]),
    );
    if (s.raw !== undefined) {
      rows.push(row("", c, "raw pg", s.raw, unitOf(s.scenario, "raw", s.raw), ["", "", ""]));
    }
    if (s.rawBatched !== undefined) {
      rows.push(
        row("", c, "raw pg batched", s.rawBatched, perCall(s.rawBatched, "entries"), [
          "",
          fixed(s.batchedRatio),
          "",
        ]),
      );
    }
  }
  const p = report.paced;
  if (p !== undefined) {
    rows.push(
      row(
        p.scenario,
        `≤${p.inFlightMax}`,
        `service @ ${p.ratePerS}/s${p.peakPerS === undefined ? "" : ` (½ of ${p.peakPerS})`}`,
        p.stats,
        unitOf(p.scenario, "service", p.stats),
        [rssCell(p.serverRssMbMax), "", ""],
      ),
    );
  }
  const widths = HEADER.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  for (const r of rows) {
    console.log(r.map((cell, c) => cell.padStart(widths[c] ?? 0)).join("  "));
  }
  if (report.scenarios.some((s) => HOLD_SCENARIOS.includes(s.scenario))) {
    console.log(HOLD_NOTE);
  }
  console.log(
    `server RSS through the whole run: at most ${rssCell(report.serverRssMbMax)} MiB${report.options.replicas === 1 ? "" : " (per replica)"}`,
  );
  const sides: { readonly name: string; readonly stats: RunStats | undefined }[] =
    report.scenarios.flatMap((s) => [
      { name: `${s.scenario} @${s.concurrency} service`, stats: s.service },
      { name: `${s.scenario} @${s.concurrency} raw`, stats: s.raw },
      { name: `${s.scenario} @${s.concurrency} raw batched`, stats: s.rawBatched },
    ]);
  if (p !== undefined) {
    sides.push({ name: `${p.scenario} paced`, stats: p.stats });
  }
  for (const { name, stats } of sides) {
    if (stats !== undefined && stats.errorSamples.length > 0) {
      console.log(`${name} errors: ${stats.errorSamples.join(" | ")}`);
    }
  }
}

/** The chart's least width; wider when a group (scenario at a concurrency) would get less than GROUP_MIN. */
const WIDTH_MIN = 1000;
const GROUP_MIN = 80;
const HEIGHT = 380;
const MARGIN = { top: 64, right: 20, bottom: 70, left: 64 };
/** About the width of a legend character at the chart's 11 px sans-serif, to space the legend. */
const LEGEND_CHAR_PX = 6.2;
const BARS = [
  {
    key: "service",
    color: "#2b6cb0",
    label: "service (gRPC), calls/s; bulk: items/s; hold-post: holds/s",
  },
  { key: "raw", color: "#a0aec0", label: "raw pg per request, calls/s; bulk: items/s" },
  { key: "rawBatched", color: "#dd6b20", label: "raw pg batched, entries/s" },
] as const;

/**
 * Grouped bars per scenario and concurrency: service, raw per request and raw
 * batched, on a log scale (batched entries/s and single writes differ by
 * orders of magnitude), with the ratio and the service's p99.
 */
export function chartSvg(report: BenchReport): string {
  const width = Math.max(
    WIDTH_MIN,
    MARGIN.left + MARGIN.right + GROUP_MIN * report.scenarios.length,
  );
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const max = Math.max(
    10,
    ...report.scenarios.flatMap((s) => BARS.map((b) => s[b.key]?.throughputPerS ?? 0)),
  );
  const decades = Math.ceil(Math.log10(max));
  const y = (v: number) =>
    Math.round((MARGIN.top + plotH - (Math.log10(Math.max(1, v)) / decades) * plotH) * 10) / 10;
  const group = Math.floor(plotW / Math.max(1, report.scenarios.length));
  const bar = Math.floor(Math.min(40, (group - 8) / 3));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${HEIGHT}" viewBox="0 0 ${width} ${HEIGHT}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(`Ledger service vs raw pg, ${report.startedAt}`)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${MARGIN.left}" y="20" font-size="14" font-weight="bold">${escapeXml(
      `Ledger service${report.options.replicas === 1 ? "" : ` (${report.options.replicas} replicas)`} vs raw pg, ${commitMode(report)}, ${report.options.durationS} s per side (log scale)`,
    )}</text>`,
    `<text x="${MARGIN.left}" y="36" fill="#555">${escapeXml(
      `${report.machine.cpus} × ${report.machine.cpuModel}, Node ${report.machine.node}, PostgreSQL ${report.machine.postgres}, ${report.startedAt}`,
    )}</text>`,
  ];
  for (let d = 0; d <= decades; d += 1) {
    parts.push(
      `<line x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${y(10 ** d)}" y2="${y(10 ** d)}" stroke="#e2e8f0"/>`,
      `<text x="${MARGIN.left - 6}" y="${y(10 ** d) + 4}" text-anchor="end" fill="#555">${10 ** d}</text>`,
    );
  }
  report.scenarios.forEach((s, i) => {
    const x0 = MARGIN.left + group * i + 4;
    BARS.forEach((b, j) => {
      const value = s[b.key]?.throughputPerS;
      if (value !== undefined) {
        const x = x0 + j * bar;
        const h = Math.round((MARGIN.top + plotH - y(value)) * 10) / 10;
        parts.push(
          `<rect x="${x}" y="${y(value)}" width="${bar - 2}" height="${h}" fill="${b.color}"/>`,
          `<text x="${x + (bar - 2) / 2}" y="${y(value) - 3}" text-anchor="middle" font-size="9">${value}</text>`,
        );
      }
    });
    const cx = MARGIN.left + group * i + group / 2;
    const ratio =
      s.floorRatio !== undefined
        ? `${s.floorRatio.toFixed(2)}× floor`
        : s.ratio !== undefined
          ? `${s.ratio.toFixed(2)}× raw`
          : "";
    parts.push(
      `<text x="${cx}" y="${HEIGHT - MARGIN.bottom + 14}" text-anchor="middle" font-weight="bold">${s.scenario}</text>`,
      `<text x="${cx}" y="${HEIGHT - MARGIN.bottom + 28}" text-anchor="middle" fill="#555">${s.concurrency} clients</text>`,
      `<text x="${cx}" y="${HEIGHT - MARGIN.bottom + 42}" text-anchor="middle" fill="#555">${ratio}</text>`,
      `<text x="${cx}" y="${HEIGHT - MARGIN.bottom + 56}" text-anchor="middle" fill="#555">p99 ${s.service.p99Ms} ms</text>`,
    );
  });
  let legendX = MARGIN.left;
  for (const b of BARS) {
    parts.push(
      `<rect x="${legendX}" y="44" width="12" height="12" fill="${b.color}"/>`,
      `<text x="${legendX + 16}" y="54">${escapeXml(b.label)}</text>`,
    );
    legendX += 16 + Math.ceil(b.label.length * LEGEND_CHAR_PX) + 24;
  }
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
