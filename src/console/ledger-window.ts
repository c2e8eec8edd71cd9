/**
 * Time in the ledger view: a ledger's validity window (valid from, valid
 * until and where its remainder goes at expiry), the state that window puts
 * it in at a given instant (not yet valid, expired) beside its status, and
 * the window fields of the create form.
 */
import { type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import { type Ledger, LedgerStatus } from "@shared-ledger/client";
import { button, byId, el, formatTime } from "./dom.js";

/** Where a ledger stands at an instant: its status and what its window says then. */
export interface LedgerPhase {
  readonly terminated: boolean;
  /** valid_until has passed: writes are refused (LEDGER_EXPIRED). */
  readonly expired: boolean;
  /** valid_from is still ahead: writes are refused (LEDGER_NOT_YET_VALID). */
  readonly notYetValid: boolean;
}

/** The longest delay setTimeout keeps (about 24.8 days). */
const TIMER_DELAY_MAX_MS = 2 ** 31 - 1;

export function ledgerPhase(ledger: Ledger, nowMs: number): LedgerPhase {
  return {
    terminated: ledger.status === LedgerStatus.TERMINATED,
    expired: reached(ledger.validUntil, nowMs),
    notYetValid: ledger.validFrom !== undefined && !reached(ledger.validFrom, nowMs),
  };
}

/** Whether the page offers writes: an active ledger inside its window. */
export function writable(phase: LedgerPhase): boolean {
  return !phase.terminated && !phase.expired && !phase.notYetValid;
}

/** "active", "terminated", "expired", "expired · terminated" or "not yet valid". */
export function statusLabel(phase: LedgerPhase): string {
  const facts = [
    ...(phase.expired ? ["expired"] : []),
    ...(phase.notYetValid ? ["not yet valid"] : []),
    ...(phase.terminated ? ["terminated"] : []),
  ];
  return facts.length === 0 ? "active" : facts.join(" · ");
}

/** The status badge: classes name each fact, so a terminated ledger that expired has both. */
export function statusBadge(ledger: Ledger, nowMs: number): HTMLElement {
  const phase = ledgerPhase(ledger, nowMs);
  const classes = [
    "status",
    ...(phase.terminated ? ["terminated"] : []),
    ...(phase.expired ? ["expired"] : []),
    ...(phase.notYetValid ? ["not-yet-valid"] : []),
  ];
  return el("span", { class: classes.join(" ") }, statusLabel(phase));
}

/**
 * Milliseconds until the window next changes the ledger's phase (valid_from
 * or valid_until reached), or undefined when it never will again or is
 * beyond what a timer can wait for.
 */
export function msUntilPhaseChange(ledger: Ledger, nowMs: number): number | undefined {
  const ahead = [ledger.validFrom, ledger.validUntil]
    .filter((at): at is Timestamp => at !== undefined)
    .map((at) => timestampMs(at) - nowMs)
    .filter((delayMs) => delayMs > 0);
  const nextMs = Math.min(...ahead);
  return Number.isFinite(nextMs) && nextMs <= TIMER_DELAY_MAX_MS ? nextMs : undefined;
}

/**
 * Fills #ledger-window with the window's bounds and the ledger its
 * remainder expires to (a link, as other ledger links), or hides it when the
 * ledger has no window.
 */
export function renderWindow(ledger: Ledger, openLedger: (ledgerId: string) => void): void {
  const line = byId("ledger-window");
  const parts = [
    ...bound("valid-from", "valid from", ledger.validFrom),
    ...bound("valid-until", "valid until", ledger.validUntil),
    ...expireTo(ledger.expireToLedgerId, openLedger),
  ];
  line.replaceChildren(...parts.flatMap((part, i) => (i === 0 ? [part] : [" · ", part])));
  line.hidden = parts.length === 0;
}

function bound(key: string, term: string, at: Timestamp | undefined): HTMLElement[] {
  return at === undefined
    ? []
    : [el("span", { "data-window": key }, `${term} `, el("time", {}, formatTime(at)))];
}

function expireTo(ledgerId: string, openLedger: (ledgerId: string) => void): HTMLElement[] {
  if (ledgerId === "") {
    return [];
  }
  const link = button(
    {
      class: "link id",
      title: "Open the ledger the remainder goes to at expiry",
      "data-window": "expire-to",
      "data-ledger-id": ledgerId,
    },
    () => openLedger(ledgerId),
    ledgerId,
  );
  return [el("span", {}, "expires to ", link)];
}

/** The create form's window: each bound typed in the browser's time zone, absent when empty. */
export function windowFields(): { validFrom?: Date; validUntil?: Date } {
  const validFrom = typedInstant("create-valid-from");
  const validUntil = typedInstant("create-valid-until");
  return {
    ...(validFrom === undefined ? {} : { validFrom }),
    ...(validUntil === undefined ? {} : { validUntil }),
  };
}

/** The expire-to owner is asked for only once a valid until is typed. */
export function wireWindowFields(): void {
  for (const event of ["input", "change"]) {
    byId("create-valid-until").addEventListener(event, syncExpireTo);
  }
  syncExpireTo();
}

/** Empties the window fields (and with them the expire-to owner). */
export function resetWindowFields(): void {
  byId<HTMLInputElement>("create-valid-from").value = "";
  byId<HTMLInputElement>("create-valid-until").value = "";
  syncExpireTo();
}

function syncExpireTo(): void {
  const expireTo = byId<HTMLInputElement>("create-expire-to");
  expireTo.disabled = byId<HTMLInputElement>("create-valid-until").value === "";
  if (expireTo.disabled) {
    expireTo.value = "";
  }
}

function typedInstant(inputId: string): Date | undefined {
  const typed = byId<HTMLInputElement>(inputId).value;
  return typed === "" ? undefined : new Date(typed);
}

function reached(at: Timestamp | undefined, nowMs: number): boolean {
  return at !== undefined && timestampMs(at) <= nowMs;
}
