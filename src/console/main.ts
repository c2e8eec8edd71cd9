/**
 * The web console: find an owner's ledgers, see balance and history, record
 * an operation, reverse a transaction, terminate a ledger. Every failure is
 * shown by its reason (the ErrorInfo of the ledger.v1 domain).
 */
import "./styles.css";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Entry, Ledger } from "../../gen/ledger/v1/ledger_pb.js";
import { LedgerStatus } from "../../gen/ledger/v1/ledger_pb.js";
import { createLedgerApi, newIdempotencyKey } from "./api.js";
import { byId, el, formatTime } from "./dom.js";
import { describeError } from "./errors.js";
import { formatAmount, formatSignedAmount, parseAmount } from "./format.js";
import { operationsFor, signedForOperation } from "./operations.js";

const HISTORY_PAGE_SIZE = 10;
const LEDGER_LIST_PAGE_SIZE = 50;
const REVERSAL_OPERATION = "REVERSAL";

const api = createLedgerApi(window.location.origin);

interface State {
  ledger: Ledger | undefined;
  /** Tokens of the history pages above the current one; the current page's token is last. */
  pageTokens: string[];
  nextPageToken: string;
  /** The entry the reverse dialog is about. */
  reversing: Entry | undefined;
}
const state: State = {
  ledger: undefined,
  pageTokens: [""],
  nextPageToken: "",
  reversing: undefined,
};

const errorBox = byId<HTMLDivElement>("error");

function showError(error: unknown): void {
  const { reason, message } = describeError(error);
  byId("error-reason").textContent = reason;
  byId("error-message").textContent = message;
  errorBox.dataset.reason = reason;
  errorBox.hidden = false;
}

function clearError(): void {
  errorBox.hidden = true;
  delete errorBox.dataset.reason;
}

/** Runs a user action with the page's controls disabled; any failure is shown, not thrown. */
async function act(action: () => Promise<void>): Promise<void> {
  const buttons = Array.from(document.querySelectorAll("button")).filter((b) => !b.disabled);
  buttons.forEach((b) => {
    b.disabled = true;
  });
  document.body.setAttribute("aria-busy", "true");
  try {
    clearError();
    await action();
  } catch (error) {
    showError(error);
  } finally {
    buttons.forEach((b) => {
      b.disabled = false;
    });
    document.body.removeAttribute("aria-busy");
    renderPager();
  }
}

async function findLedgers(): Promise<void> {
  const app = byId<HTMLInputElement>("find-app").value.trim();
  const ownerId = byId<HTMLInputElement>("find-owner").value.trim();
  const { ledgers } = await api.listLedgers({ app, ownerId, pageSize: LEDGER_LIST_PAGE_SIZE });
  const list = byId<HTMLUListElement>("ledger-list");
  list.replaceChildren(
    ...ledgers.map((ledger) => {
      const button = el(
        "button",
        { type: "button", "data-ledger-id": ledger.id, "data-unit": ledger.unit },
        ...ledgerListLabel(ledger),
      );
      button.addEventListener("click", () => void act(() => openLedger(ledger.id)));
      return el("li", {}, button);
    }),
  );
  byId("ledger-list-empty").hidden = ledgers.length > 0;
  if (ledgers.length === 1 && ledgers[0] !== undefined) {
    await openLedger(ledgers[0].id);
  }
}

function ledgerListLabel(ledger: Ledger): HTMLElement[] {
  return [
    el("span", {}, ledger.unit, statusBadge(ledger.status)),
    el("span", { class: "muted" }, formatAmount(ledger.balance, ledger.unit)),
  ];
}

function statusBadge(status: LedgerStatus): HTMLElement {
  const terminated = status === LedgerStatus.TERMINATED;
  return el(
    "span",
    { class: terminated ? "status terminated" : "status" },
    terminated ? "terminated" : "active",
  );
}

async function openLedger(ledgerId: string): Promise<void> {
  state.pageTokens = [""];
  await refreshLedger(ledgerId);
}

/** Reloads the ledger (GetLedger also shows terminated ones) and the current history page. */
async function refreshLedger(ledgerId: string): Promise<void> {
  const { ledger } = await api.getLedger({ ledgerId });
  if (ledger === undefined) {
    throw new Error("the server answered GetLedger without a ledger");
  }
  const pageToken = state.pageTokens.at(-1) ?? "";
  const page = await api.listEntries({ ledgerId, pageSize: HISTORY_PAGE_SIZE, pageToken });
  const switched = state.ledger?.id !== ledger.id;
  state.ledger = ledger;
  state.nextPageToken = page.nextPageToken;
  renderLedger(ledger, switched);
  renderHistory(ledger, page.entries);
}

function renderLedger(ledger: Ledger, switched: boolean): void {
  byId("ledger-panel").hidden = false;
  byId("ledger-title").replaceChildren(
    `${ledger.ownerId} · ${ledger.app} · ${ledger.unit}`,
    statusBadge(ledger.status),
  );
  const floor = ledger.unbounded
    ? "no floor"
    : `floor ${formatAmount(ledger.minBalance ?? 0n, ledger.unit)}`;
  byId("ledger-meta").textContent = `${ledger.id} · version ${ledger.version} · ${floor}`;
  const balance = byId<HTMLOutputElement>("balance");
  balance.textContent = formatAmount(ledger.balance, ledger.unit);
  balance.dataset.minor = ledger.balance.toString();
  for (const button of Array.from(
    document.querySelectorAll<HTMLButtonElement>("#ledger-list button"),
  )) {
    const current = button.dataset.ledgerId === ledger.id;
    button.setAttribute("aria-current", String(current));
    if (current) {
      button.replaceChildren(...ledgerListLabel(ledger));
    }
  }
  const active = ledger.status === LedgerStatus.ACTIVE;
  byId<HTMLFormElement>("record-form").hidden = !active;
  byId("terminate").hidden = !active;
  if (switched) {
    renderOperations(ledger);
  }
}

function renderOperations(ledger: Ledger): void {
  const select = byId<HTMLSelectElement>("record-operation");
  select.replaceChildren(
    ...operationsFor(ledger.app).map((spec) =>
      el(
        "option",
        { value: spec.name, title: spec.description },
        `${spec.name} (${spec.direction.toLowerCase()}, default ${formatSignedAmount(spec.defaultAmountMinor, ledger.unit)})`,
      ),
    ),
  );
  byId<HTMLInputElement>("record-amount").placeholder = "the operation's default";
}

function renderHistory(ledger: Ledger, entries: readonly Entry[]): void {
  const active = ledger.status === LedgerStatus.ACTIVE;
  byId("history-body").replaceChildren(
    ...entries.map((entry) => {
      const reverse = el("button", { type: "button", class: "small secondary" }, "Reverse");
      reverse.addEventListener("click", () => openReverseDialog(entry));
      const reversible = active && entry.operation !== REVERSAL_OPERATION;
      return el(
        "tr",
        { "data-sequence": entry.sequence.toString(), "data-operation": entry.operation },
        el("td", {}, entry.sequence.toString()),
        el("td", {}, formatTime(entry.occurredAt ? timestampDate(entry.occurredAt) : undefined)),
        el("td", {}, entry.operation),
        el(
          "td",
          { class: `num ${entry.amount < 0n ? "debit" : "credit"}` },
          formatSignedAmount(entry.amount, ledger.unit),
        ),
        el("td", { class: "num" }, formatAmount(entry.balanceAfter, ledger.unit)),
        el("td", {}, entry.description),
        el("td", {}, reversible ? reverse : ""),
      );
    }),
  );
  if (entries.length === 0) {
    byId("history-body").append(
      el("tr", {}, el("td", { colspan: "7", class: "muted" }, "No entries yet.")),
    );
  }
}

function renderPager(): void {
  const page = state.pageTokens.length;
  byId<HTMLButtonElement>("page-newer").disabled = page <= 1;
  byId<HTMLButtonElement>("page-older").disabled = state.nextPageToken === "";
  byId("page-label").textContent = `page ${page}`;
}

async function recordEntry(): Promise<void> {
  const ledger = currentLedger();
  const operation = byId<HTMLSelectElement>("record-operation").value;
  const spec = operationsFor(ledger.app).find((candidate) => candidate.name === operation);
  const amountText = byId<HTMLInputElement>("record-amount").value;
  const description = byId<HTMLInputElement>("record-description").value.trim();
  const amount =
    amountText.trim() === "" || spec === undefined
      ? undefined
      : signedForOperation(parseAmount(amountText, ledger.unit), amountText, spec);
  await api.recordEntry({
    ledgerId: ledger.id,
    operation,
    ...(amount === undefined ? {} : { amount }),
    description,
    idempotencyKey: newIdempotencyKey("record"),
  });
  byId<HTMLInputElement>("record-amount").value = "";
  byId<HTMLInputElement>("record-description").value = "";
  state.pageTokens = [""];
  await refreshLedger(ledger.id);
}

function openReverseDialog(entry: Entry): void {
  const ledger = currentLedger();
  state.reversing = entry;
  byId("reverse-summary").textContent =
    `#${entry.sequence} ${entry.operation} ${formatSignedAmount(entry.amount, ledger.unit)} (transaction ${entry.transactionId})`;
  byId<HTMLInputElement>("reverse-amount").value = "";
  byId<HTMLDialogElement>("reverse-dialog").showModal();
}

async function reverseTransaction(): Promise<void> {
  const ledger = currentLedger();
  const entry = state.reversing;
  if (entry === undefined) {
    return;
  }
  const amountText = byId<HTMLInputElement>("reverse-amount").value;
  const amount = amountText.trim() === "" ? undefined : parseAmount(amountText, ledger.unit);
  await api.reverseTransaction({
    transactionId: entry.transactionId,
    ...(amount === undefined ? {} : { amount: amount < 0n ? -amount : amount }),
    idempotencyKey: newIdempotencyKey("reverse"),
  });
  state.pageTokens = [""];
  await refreshLedger(ledger.id);
}

async function terminateLedger(): Promise<void> {
  const ledger = currentLedger();
  if (!window.confirm(`Terminate ledger ${ledger.id}? It cannot be reopened.`)) {
    return;
  }
  await api.terminateLedger({ ledgerId: ledger.id });
  await refreshLedger(ledger.id);
}

function currentLedger(): Ledger {
  if (state.ledger === undefined) {
    throw new Error("no ledger is open");
  }
  return state.ledger;
}

byId<HTMLFormElement>("find-form").addEventListener("submit", (event) => {
  event.preventDefault();
  void act(findLedgers);
});
byId<HTMLFormElement>("record-form").addEventListener("submit", (event) => {
  event.preventDefault();
  void act(recordEntry);
});
byId<HTMLDialogElement>("reverse-dialog").addEventListener("close", () => {
  if (byId<HTMLDialogElement>("reverse-dialog").returnValue === "confirm") {
    void act(reverseTransaction);
  }
});
byId("terminate").addEventListener("click", () => void act(terminateLedger));
byId("error-dismiss").addEventListener("click", clearError);
byId("page-older").addEventListener("click", () => {
  state.pageTokens.push(state.nextPageToken);
  void act(() => refreshLedger(currentLedger().id));
});
byId("page-newer").addEventListener("click", () => {
  state.pageTokens.pop();
  void act(() => refreshLedger(currentLedger().id));
});
renderPager();
document.body.dataset.ready = "true";
