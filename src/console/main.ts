/**
 * The web console: find an owner's ledgers or create one (with a validity
 * window), see balance, available, window, history and the balance over
 * time, record an operation, transfer to another owner's ledger (either of
 * them as a hold), post or void a ledger's pending holds, open a transaction
 * with all its legs, reverse a transaction, terminate a ledger (moving what
 * is left to another).
 * Every call goes through the SDK package's client (@shared-ledger/client),
 * and every failure is shown by the reason of its SDK error.
 * A server with access control refuses calls without a token: the console
 * then asks for one, keeps it for the tab, and the client sends it with every call.
 */
import "./styles.css";
import { APPS, type Entry, type Ledger, LedgerStatus } from "@shared-ledger/client";
import { createConsoleClient, latestEntries, newIdempotencyKey } from "./api.js";
import { CHART_ENTRIES_MAX, chartModel, renderBalanceChart } from "./balance-chart.js";
import { button, byId, el, formatTime, signedAmountCell } from "./dom.js";
import { asksForToken, describeError, type ShownError } from "./errors.js";
import { formatAmount, formatSignedAmount, parseAmount } from "./format.js";
import {
  type HoldActions,
  holdFields,
  renderFigures,
  renderHolds,
  resetHoldFields,
  wireHoldFields,
} from "./holds-view.js";
import {
  ledgerPhase,
  msUntilPhaseChange,
  renderWindow,
  resetWindowFields,
  statusBadge,
  windowFields,
  wireWindowFields,
  writable,
} from "./ledger-window.js";
import { createLive } from "./live.js";
import { type OperationSpec, operationsFor, signedForOperation } from "./operations.js";
import { tabTokenStore } from "./session.js";
import { wireSignIn } from "./sign-in.js";
import { renderTerminateOutcome, resetTerminateControls } from "./terminate-view.js";
import { renderTransaction, type TransactionLinks } from "./transaction-view.js";

const HISTORY_PAGE_SIZE = 10;
const LEDGER_LIST_PAGE_SIZE = 50;
/** The open holds listed, oldest first. */
const HOLDS_PAGE_SIZE = 50;
/** What both legs of a transfer record when the form names no operation. */
const TRANSFER_OPERATION = "TRANSFER";

const tokens = tabTokenStore(window.sessionStorage);
/** Calls that succeeded: an action refused for its token before any of its calls succeeded is retried. */
let succeededCalls = 0;
const client = createConsoleClient(window.location.origin, {
  token: () => tokens.current(),
  succeeded: (withToken) => {
    succeededCalls += 1;
    signIn.succeeded(withToken);
  },
});

/** The open ledger's watch: each new entry or hold step refreshes the page. */
const live = createLive({
  client,
  shownVersion: () => state.ledger?.version ?? 0n,
  showsHold: (transactionId) => state.openHoldIds.has(transactionId),
  refresh: (ledgerId, signal) => refreshLedger(ledgerId, true, signal),
});

interface State {
  ledger: Ledger | undefined;
  /** Tokens of the history pages above the current one; the current page's token is last. */
  pageTokens: string[];
  nextPageToken: string;
  /** The history page shown, newest first. */
  entries: readonly Entry[];
  /** The open holds listed. */
  openHoldIds: ReadonlySet<string>;
  /** The entry the reverse dialog is about. */
  reversing: Entry | undefined;
  /** Redraws the ledger when its window next changes its state (valid_from or valid_until reached). */
  phaseTimer: ReturnType<typeof setTimeout> | undefined;
}
const state: State = {
  ledger: undefined,
  pageTokens: [""],
  nextPageToken: "",
  entries: [],
  openHoldIds: new Set(),
  reversing: undefined,
  phaseTimer: undefined,
};

const errorBox = byId<HTMLDivElement>("error");

function showError(error: unknown): ShownError {
  const shown = describeError(error);
  byId("error-reason").textContent = shown.reason;
  byId("error-message").textContent = shown.message;
  byId("error-hint").textContent = shown.hint ?? "";
  errorBox.dataset.reason = shown.reason;
  errorBox.hidden = false;
  return shown;
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
  const succeededBefore = succeededCalls;
  try {
    clearError();
    await action();
  } catch (error) {
    onFailure(error, succeededCalls === succeededBefore ? action : undefined);
  } finally {
    buttons.forEach((b) => {
      b.disabled = false;
    });
    document.body.removeAttribute("aria-busy");
    renderPager();
  }
}

/**
 * Shows a failure; a missing or refused token asks for a token, then
 * retries the action when none of its calls had succeeded (so it changed nothing).
 */
function onFailure(error: unknown, retriable: (() => Promise<void>) | undefined): void {
  if (asksForToken(showError(error))) {
    signIn.ask(retriable === undefined ? undefined : () => void act(retriable));
  }
}

/** Hides what a forgotten token read: the ledger list and the open ledger. */
function resetView(): void {
  clearTimeout(state.phaseTimer);
  live.stop();
  state.ledger = undefined;
  state.entries = [];
  byId("ledger-panel").hidden = true;
  byId("ledger-list").replaceChildren();
  byId("ledger-list-empty").hidden = true;
  clearError();
}

/** The declared apps (the generated registry) in the find and create forms: no other app can be chosen. */
function renderAppChoices(): void {
  for (const id of ["find-app", "create-app"]) {
    byId(id).replaceChildren(...APPS.map(({ app }) => el("option", { value: app }, app)));
  }
}

async function findLedgers(): Promise<void> {
  const app = byId<HTMLSelectElement>("find-app").value;
  const ownerId = byId<HTMLInputElement>("find-owner").value.trim();
  const ledgers = await listOwnerLedgers(app, ownerId);
  if (ledgers.length === 1 && ledgers[0] !== undefined) {
    await openLedger(ledgers[0].id);
  }
}

/** Lists the owner's ledgers of `app` in the ledger list. */
async function listOwnerLedgers(app: string, ownerId: string): Promise<readonly Ledger[]> {
  const { ledgers } = await client.listLedgers({ app, ownerId, pageSize: LEDGER_LIST_PAGE_SIZE });
  const list = byId<HTMLUListElement>("ledger-list");
  list.replaceChildren(
    ...ledgers.map((ledger) =>
      el(
        "li",
        {},
        button(
          { "data-ledger-id": ledger.id, "data-unit": ledger.unit },
          () => void act(() => openLedger(ledger.id)),
          ...ledgerListLabel(ledger),
        ),
      ),
    ),
  );
  byId("ledger-list-empty").hidden = ledgers.length > 0;
  return ledgers;
}

function ledgerListLabel(ledger: Ledger): HTMLElement[] {
  return [
    el("span", {}, ledger.unit, statusBadge(ledger, Date.now())),
    el("span", { class: "muted" }, formatAmount(ledger.balance, ledger.unit)),
  ];
}

/**
 * Creates the ledger typed, with its window when one is typed (its
 * remainder expiring to the ledger of the owner typed, in the same app and
 * unit), then lists the owner's ledgers and opens the new one.
 */
async function createLedger(): Promise<void> {
  const app = byId<HTMLSelectElement>("create-app").value;
  const ownerId = byId<HTMLInputElement>("create-owner").value.trim();
  const unit = byId<HTMLInputElement>("create-unit").value.trim();
  const expireToOwner = byId<HTMLInputElement>("create-expire-to").value.trim();
  const { ledger: created } = await client.createLedger({
    app,
    ownerId,
    unit,
    unbounded: byId<HTMLInputElement>("create-unbounded").checked,
    ...windowFields(),
    expireToLedgerId: await activeLedgerIdOf(app, expireToOwner, unit),
    idempotencyKey: newIdempotencyKey("create"),
  });
  clearInputs("create-owner", "create-unit");
  byId<HTMLInputElement>("create-unbounded").checked = false;
  resetWindowFields();
  byId<HTMLSelectElement>("find-app").value = app;
  byId<HTMLInputElement>("find-owner").value = ownerId;
  await listOwnerLedgers(app, ownerId);
  await openLedger(created.id);
}

/** The id of the owner's active ledger of this app and unit; "" (none) for no owner. */
async function activeLedgerIdOf(app: string, ownerId: string, unit: string): Promise<string> {
  return ownerId === "" ? "" : (await client.getBalance({ app, ownerId, unit })).ledgerId;
}

async function openLedger(ledgerId: string): Promise<void> {
  state.pageTokens = [""];
  await refreshLedger(ledgerId);
}

/**
 * Reloads the ledger (GetLedger also shows terminated ones), the current
 * history page, the open holds and, unless only paging, the chart; then
 * follows the ledger live. A live refresh whose stream was stopped (another
 * ledger opened) renders nothing.
 */
async function refreshLedger(
  ledgerId: string,
  redrawChart = true,
  signal?: AbortSignal,
): Promise<void> {
  const ledger = await client.getLedger(ledgerId);
  const pageToken = state.pageTokens.at(-1) ?? "";
  const [page, holds, charted] = await Promise.all([
    client.listEntries({ ledgerId, pageSize: HISTORY_PAGE_SIZE, pageToken }),
    client.listPendingTransactions(ledgerId, { pageSize: HOLDS_PAGE_SIZE }),
    redrawChart ? latestEntries(client, ledgerId, CHART_ENTRIES_MAX) : undefined,
  ]);
  if (signal?.aborted === true) {
    return;
  }
  const switched = state.ledger?.id !== ledger.id;
  state.ledger = ledger;
  state.nextPageToken = page.nextPageToken;
  state.entries = page.entries;
  state.openHoldIds = new Set(holds.transactions.map((hold) => hold.id));
  renderLedger(ledger, switched);
  renderHistory(ledger, page.entries);
  renderHolds(holds.transactions, ledger, HOLD_ACTIONS);
  byId("holds-more").hidden = holds.nextPageToken === "";
  if (charted !== undefined) {
    renderBalanceChart(chartModel(charted.entries, charted.truncated, Date.now()), ledger.unit);
  }
  live.follow(ledger);
}

function renderLedger(ledger: Ledger, switched: boolean): void {
  byId("ledger-panel").hidden = false;
  byId("ledger-title").replaceChildren(
    `${ledger.ownerId} · ${ledger.app} · ${ledger.unit}`,
    statusBadge(ledger, Date.now()),
  );
  renderWindow(ledger, TRANSACTION_LINKS.openLedger);
  schedulePhaseChange(ledger);
  const floor = ledger.unbounded
    ? "no floor"
    : `floor ${formatAmount(ledger.minBalance ?? 0n, ledger.unit)}`;
  byId("ledger-meta").textContent = `${ledger.id} · version ${ledger.version} · ${floor}`;
  renderFigures(ledger);
  for (const item of Array.from(
    document.querySelectorAll<HTMLButtonElement>("#ledger-list button"),
  )) {
    const current = item.dataset.ledgerId === ledger.id;
    item.setAttribute("aria-current", String(current));
    if (current) {
      item.replaceChildren(...ledgerListLabel(ledger));
    }
  }
  byId("ledger-writes").hidden = !writable(ledgerPhase(ledger, Date.now()));
  byId("terminate-zone").hidden = ledger.status !== LedgerStatus.ACTIVE;
  if (switched) {
    renderOperations(ledger);
    resetTerminateControls();
  }
}

/**
 * Redraws the open ledger from what the page holds when valid_from or
 * valid_until is reached: its badge and write controls follow the clock.
 */
function schedulePhaseChange(ledger: Ledger): void {
  clearTimeout(state.phaseTimer);
  const delayMs = msUntilPhaseChange(ledger, Date.now());
  state.phaseTimer =
    delayMs === undefined
      ? undefined
      : setTimeout(() => {
          if (state.ledger?.id === ledger.id) {
            renderLedger(state.ledger, false);
            renderHistory(state.ledger, state.entries);
          }
        }, delayMs + 1);
}

/** The app's operations in the record form (with their policy) and the transfer form (any). */
function renderOperations(ledger: Ledger): void {
  const specs = operationsFor(ledger.app);
  byId("record-operation").replaceChildren(
    ...specs.map((spec) =>
      operationOption(
        spec,
        `${spec.name} (${spec.direction.toLowerCase()}, ${spec.fixed ? "fixed at" : "default"} ${formatSignedAmount(spec.defaultAmountMinor, ledger.unit)})`,
      ),
    ),
  );
  byId("transfer-operation").replaceChildren(
    el("option", { value: "" }, TRANSFER_OPERATION),
    ...specs.map((spec) => operationOption(spec, spec.name)),
  );
  byId<HTMLInputElement>("record-amount").placeholder = "the operation's default";
}

function operationOption(spec: OperationSpec, label: string): HTMLOptionElement {
  return el("option", { value: spec.name, title: spec.description }, label);
}

function renderHistory(ledger: Ledger, entries: readonly Entry[]): void {
  const active = writable(ledgerPhase(ledger, Date.now()));
  byId("history-body").replaceChildren(
    ...entries.map((entry) =>
      el(
        "tr",
        { "data-sequence": entry.sequence.toString(), "data-operation": entry.operation },
        el("td", {}, entry.sequence.toString()),
        el("td", {}, formatTime(entry.occurredAt)),
        el("td", {}, transactionButton(entry)),
        signedAmountCell(entry.amount, ledger.unit),
        el("td", { class: "num" }, formatAmount(entry.balanceAfter, ledger.unit)),
        el("td", {}, entry.description),
        el("td", {}, active && entry.reversesTransactionId === "" ? reverseButton(entry) : ""),
      ),
    ),
  );
  if (entries.length === 0) {
    byId("history-body").append(
      el("tr", {}, el("td", { colspan: "7", class: "muted" }, "No entries yet.")),
    );
  }
}

/** The entry's operation, as a link to its whole transaction. */
function transactionButton(entry: Entry): HTMLButtonElement {
  return button(
    {
      class: "link",
      title: "Show the transaction",
      "data-action": "show-transaction",
      "data-transaction-id": entry.transactionId,
    },
    () => TRANSACTION_LINKS.openTransaction(entry.transactionId),
    entry.operation,
  );
}

/** Offered for entries and transfers; a reversal cannot itself be reversed. */
function reverseButton(entry: Entry): HTMLButtonElement {
  return button(
    { class: "small secondary", "data-action": "reverse" },
    () => openReverseDialog(entry),
    "Reverse",
  );
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
  await client.recordEntry({
    ledgerId: ledger.id,
    operation,
    amountMinor: amount,
    description,
    ...holdFields("record"),
    idempotencyKey: newIdempotencyKey("record"),
  });
  clearInputs("record-amount", "record-description");
  resetHoldFields("record");
  await openLedger(ledger.id);
}

/** Moves the typed amount to the active ledger of the owner typed, in this ledger's app and unit. */
async function transfer(): Promise<void> {
  const ledger = currentLedger();
  const ownerId = byId<HTMLInputElement>("transfer-owner").value.trim();
  const amount = parseAmount(byId<HTMLInputElement>("transfer-amount").value, ledger.unit);
  const { ledgerId: toLedgerId } = await client.getBalance({
    app: ledger.app,
    ownerId,
    unit: ledger.unit,
  });
  await client.transfer({
    fromLedgerId: ledger.id,
    toLedgerId,
    amountMinor: amount,
    operation: byId<HTMLSelectElement>("transfer-operation").value,
    description: byId<HTMLInputElement>("transfer-description").value.trim(),
    ...holdFields("transfer"),
    idempotencyKey: newIdempotencyKey("transfer"),
  });
  clearInputs("transfer-amount", "transfer-description");
  resetHoldFields("transfer");
  await openLedger(ledger.id);
}

function clearInputs(...ids: string[]): void {
  for (const id of ids) {
    byId<HTMLInputElement>(id).value = "";
  }
}

const TRANSACTION_LINKS: TransactionLinks = {
  openTransaction: (transactionId) => void act(() => showTransaction(transactionId)),
  openLedger: (ledgerId) => {
    byId<HTMLDialogElement>("transaction-dialog").close();
    void act(() => openLedger(ledgerId));
  },
};

/** Opens the transaction dialog on `transactionId`, or moves the open one there. */
async function showTransaction(transactionId: string): Promise<void> {
  renderTransaction(await client.getTransaction(transactionId), currentLedger(), TRANSACTION_LINKS);
  const dialog = byId<HTMLDialogElement>("transaction-dialog");
  if (!dialog.open) {
    dialog.showModal();
  }
}

const HOLD_ACTIONS: HoldActions = {
  post: (transactionId, amountText) => void act(() => postHold(transactionId, amountText)),
  void: (transactionId) => void act(() => voidHold(transactionId)),
  openTransaction: (transactionId) => TRANSACTION_LINKS.openTransaction(transactionId),
};

/** Posts all of a hold, or the magnitude typed. */
async function postHold(transactionId: string, amountText: string): Promise<void> {
  const ledger = currentLedger();
  const typed = amountText.trim() === "" ? undefined : parseAmount(amountText, ledger.unit);
  await settleHold(ledger, () =>
    client.postPendingTransaction(transactionId, {
      amountMinor: typed === undefined ? undefined : magnitude(typed),
      idempotencyKey: newIdempotencyKey("post"),
    }),
  );
}

async function voidHold(transactionId: string): Promise<void> {
  await settleHold(currentLedger(), () =>
    client.voidPendingTransaction(transactionId, { idempotencyKey: newIdempotencyKey("void") }),
  );
}

/**
 * Runs a post or void, then reloads the ledger whatever the outcome (a hold
 * refused as no longer pending or expired leaves the list), and rethrows a failure.
 */
async function settleHold(ledger: Ledger, call: () => Promise<unknown>): Promise<void> {
  const failure = await call().then(
    () => undefined,
    (error: unknown) => ({ error }),
  );
  await openLedger(ledger.id);
  if (failure !== undefined) {
    throw failure.error;
  }
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
  await client.reverseTransaction({
    transactionId: entry.transactionId,
    amountMinor: amount === undefined ? undefined : magnitude(amount),
    idempotencyKey: newIdempotencyKey("reverse"),
  });
  await openLedger(ledger.id);
}

/** Terminates the open ledger, voiding its holds and moving its remainder to the owner typed when asked. */
async function terminateLedger(): Promise<void> {
  const ledger = currentLedger();
  const voidPending = byId<HTMLInputElement>("terminate-void-pending").checked;
  const sweepToOwner = byId<HTMLInputElement>("terminate-sweep-to").value.trim();
  const holds = voidPending ? " Its open holds are voided first." : "";
  const sweep = sweepToOwner === "" ? "" : ` What is left moves to ${sweepToOwner}'s ledger.`;
  if (!window.confirm(`Terminate ledger ${ledger.id}? It cannot be reopened.${holds}${sweep}`)) {
    return;
  }
  const sweepToLedgerId = await activeLedgerIdOf(ledger.app, sweepToOwner, ledger.unit);
  const terminated = await client.terminateLedger(ledger.id, { voidPending, sweepToLedgerId });
  await refreshLedger(ledger.id);
  renderTerminateOutcome(terminated, ledger.unit, TRANSACTION_LINKS);
}

function currentLedger(): Ledger {
  if (state.ledger === undefined) {
    throw new Error("no ledger is open");
  }
  return state.ledger;
}

/** A typed amount as the magnitude posts and reversals take: its sign is the form's, not the user's. */
function magnitude(minor: bigint): bigint {
  return minor < 0n ? -minor : minor;
}

function onSubmit(formId: string, action: () => Promise<void>): void {
  byId<HTMLFormElement>(formId).addEventListener("submit", (event) => {
    event.preventDefault();
    void act(action);
  });
}

const signIn = wireSignIn(tokens, resetView);
renderAppChoices();
onSubmit("find-form", findLedgers);
onSubmit("create-form", createLedger);
wireWindowFields();
onSubmit("record-form", recordEntry);
onSubmit("transfer-form", transfer);
wireHoldFields("record");
wireHoldFields("transfer");
byId<HTMLDialogElement>("reverse-dialog").addEventListener("close", () => {
  if (byId<HTMLDialogElement>("reverse-dialog").returnValue === "confirm") {
    void act(reverseTransaction);
  }
});
byId("terminate").addEventListener("click", () => void act(terminateLedger));
byId("error-dismiss").addEventListener("click", clearError);
byId("page-older").addEventListener("click", () => {
  state.pageTokens.push(state.nextPageToken);
  void act(() => refreshLedger(currentLedger().id, false));
});
byId("page-newer").addEventListener("click", () => {
  state.pageTokens.pop();
  void act(() => refreshLedger(currentLedger().id, false));
});
renderPager();
document.body.dataset.ready = "true";
