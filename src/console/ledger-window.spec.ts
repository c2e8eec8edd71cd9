/**
 * The console reads a ledger's state at an instant from its status and its
 * validity window: expired once valid_until is reached (a terminated ledger
 * that expired says both), not yet valid before valid_from, writable only
 * in between; and it knows when the window next changes that state.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { LedgerSchema, LedgerStatus } from "../../gen/ledger/v1/ledger_pb.js";
import { ledgerPhase, msUntilPhaseChange, statusLabel, writable } from "./ledger-window.js";

const NOW_MS = Date.UTC(2026, 11, 3, 12, 0, 0);
const MINUTE_MS = 60_000;

function ledger(window: { fromMs?: number; untilMs?: number; terminated?: boolean }) {
  return create(LedgerSchema, {
    id: "ledger-1",
    status: window.terminated ? LedgerStatus.TERMINATED : LedgerStatus.ACTIVE,
    ...(window.fromMs === undefined ? {} : { validFrom: timestampFromMs(window.fromMs) }),
    ...(window.untilMs === undefined
      ? {}
      : { validUntil: timestampFromMs(window.untilMs), expireToLedgerId: "ledger-sink" }),
  });
}

const labelAt = (l: ReturnType<typeof ledger>, nowMs = NOW_MS) =>
  statusLabel(ledgerPhase(l, nowMs));

describe("ledgerPhase and statusLabel", () => {
  it("reads a ledger without a window as active, or terminated", () => {
    expect(labelAt(ledger({}))).toBe("active");
    expect(labelAt(ledger({ terminated: true }))).toBe("terminated");
    expect(writable(ledgerPhase(ledger({}), NOW_MS))).toBe(true);
    expect(writable(ledgerPhase(ledger({ terminated: true }), NOW_MS))).toBe(false);
  });

  it("reads a ledger as expired from valid_until on, and says both when it was terminated too", () => {
    const expiring = ledger({ untilMs: NOW_MS + MINUTE_MS });
    expect(labelAt(expiring)).toBe("active");
    expect(labelAt(expiring, NOW_MS + MINUTE_MS - 1)).toBe("active");
    expect(labelAt(expiring, NOW_MS + MINUTE_MS)).toBe("expired");
    expect(writable(ledgerPhase(expiring, NOW_MS + MINUTE_MS))).toBe(false);
    expect(labelAt(ledger({ untilMs: NOW_MS - 1, terminated: true }))).toBe("expired · terminated");
  });

  it("reads a ledger as not yet valid before valid_from, and writable from it on", () => {
    const later = ledger({ fromMs: NOW_MS + MINUTE_MS, untilMs: NOW_MS + 2 * MINUTE_MS });
    expect(labelAt(later)).toBe("not yet valid");
    expect(writable(ledgerPhase(later, NOW_MS))).toBe(false);
    expect(labelAt(later, NOW_MS + MINUTE_MS)).toBe("active");
    expect(writable(ledgerPhase(later, NOW_MS + MINUTE_MS))).toBe(true);
  });
});

describe("msUntilPhaseChange", () => {
  it("waits for the next bound still ahead", () => {
    const window = ledger({ fromMs: NOW_MS + MINUTE_MS, untilMs: NOW_MS + 5 * MINUTE_MS });
    expect(msUntilPhaseChange(window, NOW_MS)).toBe(MINUTE_MS);
    expect(msUntilPhaseChange(window, NOW_MS + 2 * MINUTE_MS)).toBe(3 * MINUTE_MS);
  });

  it("waits for nothing once every bound passed, without a window, or beyond a timer's reach", () => {
    expect(msUntilPhaseChange(ledger({ untilMs: NOW_MS }), NOW_MS)).toBeUndefined();
    expect(msUntilPhaseChange(ledger({}), NOW_MS)).toBeUndefined();
    const farMs = NOW_MS + 365 * 24 * 60 * MINUTE_MS;
    expect(msUntilPhaseChange(ledger({ untilMs: farMs }), NOW_MS)).toBeUndefined();
  });
});
