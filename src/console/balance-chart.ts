/**
 * The balance-over-time chart: a ledger's balance_after along its history
 * (created_at), as a step line in an inline SVG, with the bounds of both
 * axes labelled. It is drawn from the latest entries ListEntries returns
 * (newest first), read back oldest first; amounts stay bigint until they
 * become pixels.
 */
import { type Timestamp, timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { Entry } from "@shared-ledger/client";
import { byId, formatTime } from "./dom.js";
import { formatAmount } from "./format.js";

/** How many of the latest entries the chart reads. */
export const CHART_ENTRIES_MAX = 500;

const SVG_NS = "http://www.w3.org/2000/svg";
const WIDTH_PX = 720;
const HEIGHT_PX = 200;
/** The plot area inside the SVG: room for the amount labels on the left, the times below. */
const PLOT = { left: 88, right: 710, top: 12, bottom: 176 } as const;

export interface ChartPoint {
  readonly sequence: bigint;
  readonly atMs: number;
  readonly balanceAfterMinor: bigint;
}

/** What the chart draws, in data units: the axes' bounds and the points oldest first. */
export interface ChartModel {
  readonly points: readonly ChartPoint[];
  /** The balance before the first point (0 unless older entries were left out). */
  readonly startBalanceMinor: bigint;
  readonly fromMs: number;
  /** The last entry's instant, or now when later: the last balance holds until now. */
  readonly untilMs: number;
  readonly lowMinor: bigint;
  readonly highMinor: bigint;
  readonly truncated: boolean;
}

/**
 * The chart of `entriesNewestFirst` (as ListEntries returns them) at
 * `nowMs`, or undefined when there are none. The amount axis always
 * includes 0.
 */
export function chartModel(
  entriesNewestFirst: readonly Entry[],
  truncated: boolean,
  nowMs: number,
): ChartModel | undefined {
  const oldest = entriesNewestFirst.at(-1);
  const newest = entriesNewestFirst[0];
  if (oldest === undefined || newest === undefined) {
    return undefined;
  }
  const points = [...entriesNewestFirst].reverse().map(toPoint);
  const startBalanceMinor = oldest.balanceAfter - oldest.amount;
  const balances = [0n, startBalanceMinor, ...points.map((point) => point.balanceAfterMinor)];
  return {
    points,
    startBalanceMinor,
    fromMs: createdMs(oldest),
    untilMs: Math.max(createdMs(newest), nowMs),
    lowMinor: balances.reduce((low, b) => (b < low ? b : low)),
    highMinor: balances.reduce((high, b) => (b > high ? b : high)),
    truncated,
  };
}

/** The SVG path of the step line: flat until each entry, then straight to its balance_after. */
export function stepPath(model: ChartModel): string {
  const scale = scales(model);
  const first = model.points[0];
  const start =
    first === undefined ? "" : `M${scale.x(first.atMs)} ${scale.y(model.startBalanceMinor)}`;
  const steps = model.points.map(
    (point) => `H${scale.x(point.atMs)} V${scale.y(point.balanceAfterMinor)}`,
  );
  return [start, ...steps, `H${scale.x(model.untilMs)}`].join(" ");
}

/** "The latest 500 entries..." or "3 entries...": what the chart shows and what it leaves out. */
export function chartCaption(model: ChartModel | undefined): string {
  if (model === undefined) {
    return "No entries yet.";
  }
  const count = model.points.length;
  return model.truncated
    ? `Balance after each of the latest ${count} entries; older entries are not drawn.`
    : `Balance after each of the ${count} ${count === 1 ? "entry" : "entries"}, oldest first.`;
}

/** Draws the chart into #balance-chart and its caption, in the ledger's unit. */
export function renderBalanceChart(model: ChartModel | undefined, unit: string): void {
  const svg = byId("balance-chart") as unknown as SVGSVGElement;
  byId("balance-chart-caption").textContent = chartCaption(model);
  svg.toggleAttribute("hidden", model === undefined);
  if (model === undefined) {
    svg.replaceChildren();
    delete svg.dataset.entries;
    delete svg.dataset.finalBalance;
    return;
  }
  const last = model.points.at(-1);
  svg.setAttribute("viewBox", `0 0 ${WIDTH_PX} ${HEIGHT_PX}`);
  svg.dataset.entries = String(model.points.length);
  svg.dataset.finalBalance = String(last?.balanceAfterMinor ?? 0n);
  svg.replaceChildren(
    ...axes(),
    svgElement("path", { class: "step-line", d: stepPath(model) }),
    ...pointMarks(model, unit),
    ...axisLabels(model, unit),
  );
}

function axes(): SVGElement[] {
  return [
    svgElement("line", {
      class: "axis",
      x1: PLOT.left,
      y1: PLOT.top,
      x2: PLOT.left,
      y2: PLOT.bottom,
    }),
    svgElement("line", {
      class: "axis",
      x1: PLOT.left,
      y1: PLOT.bottom,
      x2: PLOT.right,
      y2: PLOT.bottom,
    }),
  ];
}

/** One mark per entry, carrying its sequence and balance_after, with a tooltip. */
function pointMarks(model: ChartModel, unit: string): SVGElement[] {
  const scale = scales(model);
  return model.points.map((point) => {
    const mark = svgElement("circle", {
      class: "point",
      cx: scale.x(point.atMs),
      cy: scale.y(point.balanceAfterMinor),
      r: 2.5,
      "data-sequence": point.sequence.toString(),
      "data-balance-after": point.balanceAfterMinor.toString(),
    });
    const title = svgElement("title", {});
    title.textContent = `#${point.sequence} ${formatTime(atTimestamp(point.atMs))}: ${formatAmount(point.balanceAfterMinor, unit)}`;
    mark.append(title);
    return mark;
  });
}

function axisLabels(model: ChartModel, unit: string): SVGElement[] {
  return [
    label("y-max", PLOT.left - 6, PLOT.top + 4, "end", formatAmount(model.highMinor, unit)),
    label("y-min", PLOT.left - 6, PLOT.bottom, "end", formatAmount(model.lowMinor, unit)),
    label("x-min", PLOT.left, HEIGHT_PX - 6, "start", formatTime(atTimestamp(model.fromMs))),
    label("x-max", PLOT.right, HEIGHT_PX - 6, "end", formatTime(atTimestamp(model.untilMs))),
  ];
}

function label(axis: string, x: number, y: number, anchor: string, text: string): SVGElement {
  const element = svgElement("text", {
    class: "axis-label",
    x,
    y,
    "text-anchor": anchor,
    "data-axis": axis,
  });
  element.textContent = text;
  return element;
}

/** Data to pixels: time left to right, amounts bottom to top (1 when an axis spans nothing). */
function scales(model: ChartModel): { x(atMs: number): number; y(minor: bigint): number } {
  const spanMs = Math.max(model.untilMs - model.fromMs, 1);
  const spanMinor = Number(model.highMinor - model.lowMinor) || 1;
  const round = (px: number) => Math.round(px * 10) / 10;
  return {
    x: (atMs) => round(PLOT.left + ((atMs - model.fromMs) / spanMs) * (PLOT.right - PLOT.left)),
    y: (minor) =>
      round(PLOT.bottom - (Number(minor - model.lowMinor) / spanMinor) * (PLOT.bottom - PLOT.top)),
  };
}

function svgElement(
  tag: string,
  attributes: Readonly<Record<string, string | number>>,
): SVGElement {
  const element = document.createElementNS(SVG_NS, tag) as SVGElement;
  for (const [name, value] of Object.entries(attributes)) {
    element.setAttribute(name, String(value));
  }
  return element;
}

function toPoint(entry: Entry): ChartPoint {
  return {
    sequence: entry.sequence,
    atMs: createdMs(entry),
    balanceAfterMinor: entry.balanceAfter,
  };
}

function createdMs(entry: Entry): number {
  return entry.createdAt === undefined ? 0 : timestampMs(entry.createdAt);
}

function atTimestamp(atMs: number): Timestamp {
  return timestampFromMs(atMs);
}
