/** The results of a run: a table on stdout, JSON, and an SVG chart. */
import type { BenchOptions, Scenario } from "./options.js";
import type { RunStats } from "./stats.js";

export interface ScenarioResult {
  readonly scenario: Scenario;
  readonly service: RunStats;
  readonly raw: RunStats;
  /** Service throughput / raw throughput. */
  readonly ratio: number;
  /** Largest resident memory of the server process during the scenario. */
  readonly serverRssMbMax: number;
  /** CPU time per successful call, in µs, measured on /proc over the measured window. */
  readonly cpuUsPerCall: {
    readonly service: {
      readonly server: number;
      readonly postgres: number;
      readonly client: number;
    };
    readonly raw: { readonly postgres: number; readonly client: number };
  };
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
  readonly scenarios: readonly ScenarioResult[];
}

export function printTable(report: BenchReport): void {
  const rows = [
    [
      "scenario",
      "side",
      "calls/s",
      "p50 ms",
      "p95 ms",
      "p99 ms",
      "errors",
      "server RSS MiB",
      "service/raw",
    ],
  ];
  for (const s of report.scenarios) {
    rows.push([
      s.scenario,
      "service",
      String(s.service.throughputPerS),
      String(s.service.p50Ms),
      String(s.service.p95Ms),
      String(s.service.p99Ms),
      String(s.service.errors),
      String(s.serverRssMbMax),
      s.ratio.toFixed(2),
    ]);
    rows.push([
      "",
      "raw pg",
      String(s.raw.throughputPerS),
      String(s.raw.p50Ms),
      String(s.raw.p95Ms),
      String(s.raw.p99Ms),
      String(s.raw.errors),
      "",
      "",
    ]);
  }
  const widths = (rows[0] ?? []).map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  for (const row of rows) {
    console.log(row.map((cell, c) => cell.padStart(widths[c] ?? 0)).join("  "));
  }
  for (const s of report.scenarios) {
    for (const [side, stats] of [
      ["service", s.service],
      ["raw", s.raw],
    ] as const) {
      if (stats.errorSamples.length > 0) {
        console.log(`${s.scenario} ${side} errors: ${stats.errorSamples.join(" | ")}`);
      }
    }
  }
}

const WIDTH = 760;
const HEIGHT = 360;
const MARGIN = { top: 48, right: 20, bottom: 70, left: 64 };
const COLORS = { service: "#2b6cb0", raw: "#a0aec0" };

/** Grouped bars: throughput of the service and of raw pg per scenario, with the ratio and p99. */
export function chartSvg(report: BenchReport): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const max = Math.max(
    1,
    ...report.scenarios.flatMap((s) => [s.service.throughputPerS, s.raw.throughputPerS]),
  );
  const top = niceCeiling(max);
  const group = Math.floor(plotW / Math.max(1, report.scenarios.length));
  const bar = Math.floor(Math.min(60, group / 3));
  const y = (v: number) => Math.round((MARGIN.top + plotH - (v / top) * plotH) * 10) / 10;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(`Ledger service vs raw pg, ${report.startedAt}`)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${MARGIN.left}" y="20" font-size="14" font-weight="bold">${escapeXml(
      `Ledger service vs raw pg: calls/s at concurrency ${report.options.concurrency}, ${report.options.durationS} s per side`,
    )}</text>`,
    `<text x="${MARGIN.left}" y="36" fill="#555">${escapeXml(
      `${report.machine.cpus} × ${report.machine.cpuModel}, Node ${report.machine.node}, PostgreSQL ${report.machine.postgres}, ${report.startedAt}`,
    )}</text>`,
  );
  for (let i = 0; i <= 4; i += 1) {
    const v = (top / 4) * i;
    parts.push(
      `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(v)}" y2="${y(v)}" stroke="#e2e8f0"/>`,
      `<text x="${MARGIN.left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${Math.round(v)}</text>`,
    );
  }
  report.scenarios.forEach((s, i) => {
    const x0 = MARGIN.left + group * i + group / 2 - bar;
    for (const [j, side, stats] of [
      [0, "service", s.service],
      [1, "raw", s.raw],
    ] as const) {
      const x = x0 + j * bar;
      const h = Math.round((MARGIN.top + plotH - y(stats.throughputPerS)) * 10) / 10;
      parts.push(
        `<rect x="${x}" y="${y(stats.throughputPerS)}" width="${bar - 4}" height="${h}" fill="${COLORS[side]}"/>`,
        `<text x="${x + (bar - 4) / 2}" y="${y(stats.throughputPerS) - 4}" text-anchor="middle">${stats.throughputPerS}</text>`,
      );
    }
    const cx = MARGIN.left + group * i + group / 2;
    parts.push(
      `<text x="${cx}" y="${HEIGHT - MARGIN.bottom + 16}" text-anchor="middle" font-weight="bold">${s.scenario}</text>`,
      `<text x="${cx}" y="${HEIGHT - MARGIN.bottom + 32}" text-anchor="middle" fill="#555">ratio ${s.ratio.toFixed(2)}</text>`,
      `<text x="${cx}" y="${HEIGHT - MARGIN.bottom + 48}" text-anchor="middle" fill="#555">p99 ${s.service.p99Ms} / ${s.raw.p99Ms} ms</text>`,
    );
  });
  const legendX = WIDTH - MARGIN.right - 190;
  parts.push(
    `<rect x="${legendX}" y="44" width="12" height="12" fill="${COLORS.service}"/>`,
    `<text x="${legendX + 16}" y="54">service (gRPC, grpc-js client)</text>`,
    `<rect x="${legendX}" y="60" width="12" height="12" fill="${COLORS.raw}"/>`,
    `<text x="${legendX + 16}" y="70">raw pg, same SQL</text>`,
    "</svg>",
  );
  return `${parts.join("\n")}\n`;
}

function niceCeiling(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= value) {
      return step * magnitude;
    }
  }
  return 10 * magnitude;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
