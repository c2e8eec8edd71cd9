/**
 * What terminating a ledger left behind: the remainder moved to another
 * ledger by the SWEEP transfer, or the balance left on the closed ledger,
 * as the SDK's terminateLedger result says.
 */
import type { TerminatedLedger } from "@shared-ledger/client";
import { button, byId } from "./dom.js";
import { formatAmount } from "./format.js";

/** Where the outcome's links lead. */
export interface TerminateLinks {
  openTransaction(transactionId: string): void;
  openLedger(ledgerId: string): void;
}

/** The terminate controls as a freshly opened ledger shows them: nothing ticked, typed or reported. */
export function resetTerminateControls(): void {
  byId<HTMLInputElement>("terminate-void-pending").checked = false;
  byId<HTMLInputElement>("terminate-sweep-to").value = "";
  const outcome = byId("terminate-outcome");
  outcome.hidden = true;
  outcome.replaceChildren();
}

/**
 * "Moved $15.00 to <ledger> (SWEEP <transaction>); $0.00 left on it." or
 * "Closed with $15.00 left on it.", in the closed ledger's unit.
 */
export function renderTerminateOutcome(
  terminated: TerminatedLedger,
  unit: string,
  links: TerminateLinks,
): void {
  const closedLedgerId = terminated.ledger.id;
  const outcome = byId("terminate-outcome");
  const left = formatAmount(terminated.remainingBalanceMinor, unit);
  outcome.dataset.remainingBalance = terminated.remainingBalanceMinor.toString();
  const sweep = terminated.sweepTransaction;
  if (sweep === undefined) {
    delete outcome.dataset.sweptMinor;
    outcome.replaceChildren(`Closed with ${left} left on it.`);
  } else {
    const legs = sweep.entries;
    const ownMinor = sum(legs.filter((leg) => leg.ledgerId === closedLedgerId));
    const other = legs.find((leg) => leg.ledgerId !== closedLedgerId)?.ledgerId ?? "";
    outcome.dataset.sweptMinor = (-ownMinor).toString();
    outcome.replaceChildren(
      ownMinor <= 0n
        ? `Moved ${formatAmount(-ownMinor, unit)} to `
        : `Covered ${formatAmount(ownMinor, unit)} from `,
      ledgerLink(other, links),
      " (",
      transactionLink(sweep.id, links),
      `); ${left} left on it.`,
    );
  }
  outcome.hidden = false;
}

function sum(legs: readonly { amount: bigint }[]): bigint {
  return legs.reduce((total, leg) => total + leg.amount, 0n);
}

function ledgerLink(ledgerId: string, links: TerminateLinks): HTMLButtonElement {
  return button(
    { class: "link id", "data-ledger-id": ledgerId },
    () => links.openLedger(ledgerId),
    ledgerId,
  );
}

function transactionLink(transactionId: string, links: TerminateLinks): HTMLButtonElement {
  return button(
    {
      class: "link",
      "data-action": "show-transaction",
      "data-transaction-id": transactionId,
    },
    () => links.openTransaction(transactionId),
    "SWEEP",
  );
}
