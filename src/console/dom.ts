import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { formatSignedAmount } from "./format.js";

/** A tiny element builder: the console has no framework. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Readonly<Record<string, string>> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    element.setAttribute(name, value);
  }
  element.append(...children);
  return element;
}

/** A `type=button` button that runs `onClick`. */
export function button(
  attributes: Readonly<Record<string, string>>,
  onClick: () => void,
  ...children: (Node | string)[]
): HTMLButtonElement {
  const element = el("button", { type: "button", ...attributes }, ...children);
  element.addEventListener("click", onClick);
  return element;
}

/** The element with this id; a missing one is a bug in index.html. */
export function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) {
    throw new Error(`index.html has no #${id}`);
  }
  return element as T;
}

/** A table cell with a signed amount, coloured as a credit or a debit. */
export function signedAmountCell(amountMinor: bigint, unit: string): HTMLTableCellElement {
  return el(
    "td",
    { class: `num ${amountMinor < 0n ? "debit" : "credit"}` },
    formatSignedAmount(amountMinor, unit),
  );
}

/** "2026-11-21 06:30:12" in the browser's time zone, or "" when absent. */
export function formatTime(timestamp: Timestamp | undefined): string {
  if (timestamp === undefined) {
    return "";
  }
  const date = timestampDate(timestamp);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}
