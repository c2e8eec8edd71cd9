/**
 * Holds in the ledger view: the figures open holds move (available beside the
 * posted balance, pending debits and credits), the list of open holds with
 * their post and void buttons, and the "hold (pending)" fields of the write
 * forms.
 */
import type { Ledger, Transaction } from "@shared-ledger/client";
import { button, byId, el, formatTime, signedAmountCell } from "./dom.js";
import { formatAmount } from "./format.js";

/** The write forms that can create a hold. */
export type HoldForm = "record" | "transfer";

/** What the holds list's buttons do. */
export interface HoldActions {
  /** Posts `amountText` of the hold ("" posts all of it). */
  post(transactionId: string, amountText: string): void;
  void(transactionId: string): void;
  openTransaction(transactionId: string): void;
}

/** Available (what a debit may take) beside the posted balance, and what open holds reserve or await. */
export function renderFigures(ledger: Ledger): void {
  showAmount("balance", ledger.balance, ledger.unit);
  showAmount("available", ledger.available, ledger.unit);
  showAmount("pending-debits", ledger.pendingDebits, ledger.unit);
  showAmount("pending-credits", ledger.pendingCredits, ledger.unit);
}

function showAmount(id: string, minor: bigint, unit: string): void {
  const output = byId<HTMLOutputElement>(id);
  output.textContent = formatAmount(minor, unit);
  output.dataset.minor = minor.toString();
}

/** The open holds on `ledger`, oldest first, each with its leg on this ledger. */
export function renderHolds(
  holds: readonly Transaction[],
  ledger: Ledger,
  actions: HoldActions,
): void {
  const body = byId("holds-body");
  // A live refresh redraws the list: what was typed in a row that stays is kept, focus too.
  const typed = typedAmounts(body);
  body.replaceChildren(...holds.map((hold) => holdRow(hold, ledger, actions)));
  restoreTyped(body, typed);
  if (holds.length === 0) {
    body.append(el("tr", {}, el("td", { colspan: "6", class: "muted" }, "No pending holds.")));
  }
}

interface TypedAmounts {
  readonly values: ReadonlyMap<string, string>;
  /** The hold whose amount field has the focus, if any. */
  readonly focused: string | undefined;
}

function typedAmounts(body: HTMLElement): TypedAmounts {
  const values = new Map<string, string>();
  let focused: string | undefined;
  body.querySelectorAll<HTMLInputElement>("[data-field=post-amount]").forEach((input) => {
    const id = input.closest("tr")?.dataset.transactionId;
    if (id !== undefined && input.value !== "") {
      values.set(id, input.value);
    }
    if (id !== undefined && input === document.activeElement) {
      focused = id;
    }
  });
  return { values, focused };
}

function restoreTyped(body: HTMLElement, typed: TypedAmounts): void {
  body.querySelectorAll<HTMLTableRowElement>("tr[data-transaction-id]").forEach((row) => {
    const id = row.dataset.transactionId ?? "";
    const input = row.querySelector<HTMLInputElement>("[data-field=post-amount]");
    if (input !== null) {
      input.value = typed.values.get(id) ?? "";
      if (typed.focused === id) {
        input.focus();
      }
    }
  });
}

function holdRow(hold: Transaction, ledger: Ledger, actions: HoldActions): HTMLTableRowElement {
  const amountInput = el("input", {
    class: "small",
    "data-field": "post-amount",
    placeholder: "all held",
    autocomplete: "off",
    "aria-label": "Amount to post",
  });
  return el(
    "tr",
    { "data-transaction-id": hold.id },
    el("td", {}, formatTime(hold.createdAt)),
    el("td", {}, holdLink(hold, actions)),
    signedAmountCell(heldOn(hold, ledger.id), ledger.unit),
    el("td", {}, formatTime(hold.pendingExpiresAt)),
    el(
      "td",
      { class: "hold-post" },
      amountInput,
      button(
        { class: "small", "data-action": "post-hold" },
        () => actions.post(hold.id, amountInput.value),
        "Post",
      ),
    ),
    el(
      "td",
      {},
      button(
        { class: "small secondary", "data-action": "void-hold" },
        () => actions.void(hold.id),
        "Void",
      ),
    ),
  );
}

/** The hold's operation, as a link to the whole transaction. */
function holdLink(hold: Transaction, actions: HoldActions): HTMLButtonElement {
  return button(
    {
      class: "link",
      title: "Show the transaction",
      "data-action": "show-transaction",
      "data-transaction-id": hold.id,
    },
    () => actions.openTransaction(hold.id),
    hold.pendingEntries[0]?.operation ?? hold.id,
  );
}

/** The signed amount the hold reserves (< 0) or awaits (> 0) on this ledger. */
function heldOn(hold: Transaction, ledgerId: string): bigint {
  return hold.pendingEntries
    .filter((leg) => leg.ledgerId === ledgerId)
    .reduce((sum, leg) => sum + leg.amount, 0n);
}

/**
 * What a write form adds to its SDK input: a hold when its box is ticked,
 * with any expiry typed (in the browser's time zone); else a plain write.
 */
export type HoldFields = { pending: false } | { pending: true; pendingExpiresAt?: Date };

/** The fields a write form adds to its request: a hold when its box is ticked, with any expiry typed. */
export function holdFields(form: HoldForm): HoldFields {
  if (!byId<HTMLInputElement>(`${form}-pending`).checked) {
    return { pending: false };
  }
  const expires = byId<HTMLInputElement>(`${form}-expires`).value;
  return expires === ""
    ? { pending: true }
    : { pending: true, pendingExpiresAt: new Date(expires) };
}

/** Unticks the form's hold box and clears its expiry. */
export function resetHoldFields(form: HoldForm): void {
  byId<HTMLInputElement>(`${form}-pending`).checked = false;
  syncExpiry(form);
}

/** The expiry field is offered only while the hold box is ticked. */
export function wireHoldFields(form: HoldForm): void {
  byId(`${form}-pending`).addEventListener("change", () => syncExpiry(form));
  syncExpiry(form);
}

function syncExpiry(form: HoldForm): void {
  const expires = byId<HTMLInputElement>(`${form}-expires`);
  expires.disabled = !byId<HTMLInputElement>(`${form}-pending`).checked;
  if (expires.disabled) {
    expires.value = "";
  }
}
