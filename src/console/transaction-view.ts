/**
 * The transaction dialog: what a transaction is (kind, amount, how much of
 * it was reversed), every leg with the balance it left, and links to the
 * transaction it reverses, to its reversals and to the other legs' ledgers.
 */
import type { Entry, Ledger, Transaction } from "../../gen/ledger/v1/ledger_pb.js";
import { TransactionKind } from "../../gen/ledger/v1/ledger_pb.js";
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
    ...transaction.entries.map((entry) => legRow(entry, ledger, links)),
  );
}

function facts(transaction: Transaction, unit: string, links: TransactionLinks): HTMLElement[] {
  return [
    ...fact("kind", "Kind", kindName(transaction.kind)),
    ...fact("created", "Created", formatTime(transaction.createdAt)),
    ...fact("amount", "Amount", formatAmount(transaction.amount, unit)),
    ...(transaction.externalTransactionId === ""
      ? []
      : fact("external-id", "External id", transaction.externalTransactionId)),
    ...(transaction.kind === TransactionKind.REVERSAL
      ? fact("reverses", "Reverses", transactionLink(transaction.reversesTransactionId, links))
      : reversalFacts(transaction, unit, links)),
  ];
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
  const ledgerCell =
    entry.ledgerId === ledger.id
      ? el("span", { class: "id" }, `${entry.ledgerId} (this ledger)`)
      : button(
          { class: "link id", "data-ledger-id": entry.ledgerId },
          () => links.openLedger(entry.ledgerId),
          entry.ledgerId,
        );
  return el(
    "tr",
    { "data-ledger-id": entry.ledgerId },
    el("td", {}, ledgerCell),
    el("td", { class: "num" }, entry.sequence.toString()),
    el("td", {}, entry.operation),
    signedAmountCell(entry.amount, ledger.unit),
    el("td", { class: "num" }, formatAmount(entry.balanceAfter, ledger.unit)),
  );
}

/** "TRANSFER" for TransactionKind.TRANSFER. */
function kindName(kind: TransactionKind): string {
  return TransactionKind[kind] ?? "UNSPECIFIED";
}
