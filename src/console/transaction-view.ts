/**
 * The transaction dialog: what a transaction is (kind, state, amount, how
 * much of it was reversed), every leg with the balance it left, and links to
 * the transaction it reverses, to its reversals and to the other legs'
 * ledgers. A hold shows what it held, its expiry and its history (created,
 * then posted, voided or expired), and its held legs until it is posted.
 */
import {
  type Entry,
  type HoldEvent,
  type Ledger,
  type PendingEntry,
  type Transaction,
  TransactionKind,
  TransactionState,
} from "@shared-ledger/client";
import { button, byId, el, formatTime, signedAmountCell } from "./dom.js";
import { formatAmount } from "./format.js";

/** Where the dialog's links lead. */
export interface TransactionLinks {
  openTransaction(transactionId: string): void;
  openLedger(ledgerId: string): void;
}

/**
 * Fills the dialog with `transaction` as seen from `ledger`: its amounts are
 * in that ledger's unit (every leg of a transaction shares it), and that
 * ledger's own leg is marked rather than linked.
 */
export function renderTransaction(
  transaction: Transaction,
  ledger: Ledger,
  links: TransactionLinks,
): void {
  byId("transaction-title").textContent = `${kindName(transaction.kind)} transaction`;
  byId("transaction-id").textContent = transaction.id;
  byId("transaction-facts").replaceChildren(...facts(transaction, ledger.unit, links));
  byId("transaction-legs").replaceChildren(
    ...(transaction.entries.length > 0
      ? transaction.entries.map((entry) => legRow(entry, ledger, links))
      : transaction.pendingEntries.map((leg) => heldLegRow(leg, ledger, links))),
  );
  const history = byId("transaction-history");
  history.replaceChildren(...transaction.history.map((event) => historyItem(event, ledger.unit)));
  history.hidden = transaction.history.length === 0;
}

function facts(transaction: Transaction, unit: string, links: TransactionLinks): HTMLElement[] {
  return [
    ...fact("kind", "Kind", kindName(transaction.kind)),
    ...fact("state", "State", stateName(transaction.state)),
    ...fact("created", "Created", formatTime(transaction.createdAt)),
    ...fact("amount", "Amount", formatAmount(transaction.amount, unit)),
    ...(isHold(transaction) ? holdFacts(transaction, unit) : []),
    ...(transaction.externalTransactionId === ""
      ? []
      : fact("external-id", "External id", transaction.externalTransactionId)),
    ...reversalLinks(transaction, unit, links),
  ];
}

/** What a reversal reverses; for a transaction with entries, what reversed it (a hold not posted has none). */
function reversalLinks(
  transaction: Transaction,
  unit: string,
  links: TransactionLinks,
): HTMLElement[] {
  if (transaction.kind === TransactionKind.REVERSAL) {
    return fact("reverses", "Reverses", transactionLink(transaction.reversesTransactionId, links));
  }
  return transaction.entries.length > 0 ? reversalFacts(transaction, unit, links) : [];
}

function isHold(transaction: Transaction): boolean {
  return transaction.history.length > 0 || transaction.pendingEntries.length > 0;
}

/** What a hold reserved when created, and until when it could be posted. */
function holdFacts(transaction: Transaction, unit: string): HTMLElement[] {
  return [
    ...fact("held", "Held", formatAmount(transaction.heldAmount, unit)),
    ...fact("expires", "Expires", formatTime(transaction.pendingExpiresAt)),
  ];
}

/** "pending 2026-11-21 06:30:12 3 credits": one step of the hold's life. */
function historyItem(event: HoldEvent, unit: string): HTMLLIElement {
  const state = stateName(event.state);
  return el(
    "li",
    { "data-state": state },
    el("span", { class: `status hold-${state.toLowerCase()}` }, state.toLowerCase()),
    el("span", {}, formatTime(event.at)),
    el("span", { class: "num" }, formatAmount(event.amount, unit)),
  );
}

/** How much of a reversible transaction was reversed, and by which reversals. */
function reversalFacts(
  transaction: Transaction,
  unit: string,
  links: TransactionLinks,
): HTMLElement[] {
  const reversals =
    transaction.reversalIds.length === 0
      ? ["none"]
      : transaction.reversalIds.map((id) => transactionLink(id, links));
  return [
    ...fact("reversed", "Reversed", formatAmount(transaction.reversedAmount, unit)),
    ...fact("reversals", "Reversals", ...reversals),
  ];
}

function fact(key: string, term: string, ...value: (Node | string)[]): HTMLElement[] {
  return [el("dt", {}, term), el("dd", { "data-fact": key }, ...value)];
}

function transactionLink(transactionId: string, links: TransactionLinks): HTMLButtonElement {
  return button(
    { class: "link id", "data-transaction-id": transactionId },
    () => links.openTransaction(transactionId),
    transactionId,
  );
}

function legRow(entry: Entry, ledger: Ledger, links: TransactionLinks): HTMLTableRowElement {
  return el(
    "tr",
    { "data-ledger-id": entry.ledgerId },
    el("td", {}, ledgerCell(entry.ledgerId, ledger, links)),
    el("td", { class: "num" }, entry.sequence.toString()),
    el("td", {}, entry.operation),
    signedAmountCell(entry.amount, ledger.unit),
    el("td", { class: "num" }, formatAmount(entry.balanceAfter, ledger.unit)),
  );
}

/** This ledger marked, any other linked. */
function ledgerCell(ledgerId: string, ledger: Ledger, links: TransactionLinks): HTMLElement {
  return ledgerId === ledger.id
    ? el("span", { class: "id" }, `${ledgerId} (this ledger)`)
    : button(
        { class: "link id", "data-ledger-id": ledgerId },
        () => links.openLedger(ledgerId),
        ledgerId,
      );
}

/** A leg of a hold not posted: what it holds on its ledger, with no sequence or balance yet. */
function heldLegRow(
  leg: PendingEntry,
  ledger: Ledger,
  links: TransactionLinks,
): HTMLTableRowElement {
  return el(
    "tr",
    { "data-ledger-id": leg.ledgerId, "data-held": "true" },
    el("td", {}, ledgerCell(leg.ledgerId, ledger, links)),
    el("td", { class: "num muted" }, "held"),
    el("td", {}, leg.operation),
    signedAmountCell(leg.amount, ledger.unit),
    el("td", { class: "num muted" }, ""),
  );
}

/** "PENDING" for TransactionState.PENDING. */
function stateName(state: TransactionState): string {
  return TransactionState[state] ?? "UNSPECIFIED";
}

/** "TRANSFER" for TransactionKind.TRANSFER. */
function kindName(kind: TransactionKind): string {
  return TransactionKind[kind] ?? "UNSPECIFIED";
}
