/**
 * The web console works in a real browser: headless Chromium (Debian's
 * package, driven by playwright-core) against the real server and database
 * finds an owner's ledgers, records operations, transfers to another owner
 * and reverses a transaction through the page, and shows the balance the
 * server holds, in the ledger's unit; it opens a transaction from its history
 * row with every leg and its links to reversals; holds a spend and a transfer
 * from the forms, shows available beside the posted balance and the hold in
 * the pending list, posts part of one and voids the other; pages through
 * history, terminates a ledger (voiding its open holds), and shows failures
 * by their reason. It draws a ledger's balance over time (one step per
 * entry, the latest 500 at most), creates a ledger with a validity window
 * from the form and shows the window with a link to the ledger it expires
 * to, shows a ledger whose valid_until passed as expired (and, once the
 * expiry sweep closed it, as expired and terminated), and terminates a
 * ledger moving its remainder to another. A screenshot is
 * saved. Without Chromium the suite is skipped with the reason printed,
 * except in CI, where that is a failure.
 */
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LedgerService, TransactionState } from "../../gen/ledger/v1/ledger_pb.js";
import { reasonOf } from "../../src/rpc/index.js";
import { type ConsoleServer, startConsoleServer } from "../server/console-server.js";
import {
  CHROMIUM_AVAILABLE,
  CHROMIUM_MISSING,
  IN_CI,
  type LaunchedBrowser,
  launchChromium,
  openPage,
  requireChromiumInCi,
} from "./chromium.js";

const DOCS_SCREENSHOT = fileURLToPath(new URL("../../docs/console.png", import.meta.url));
/** Set to 1 to refresh the README's screenshot; it is written anyway when missing. */
const UPDATE_DOCS_SCREENSHOT = process.env.LEDGER_UPDATE_SCREENSHOT === "1";
const OWNER = "user-42";
const PAYEE = "user-7";
/** The unbounded ledger that receives what expiring and swept ledgers leave. */
const SINK = "lapsed-credits";
/** An owner whose ledger has a window an hour long. */
const TIMED = "user-timed";
/** An owner whose ledger expires while the page shows it. */
const BRIEF = "user-brief";
const BRIEF_VALIDITY_MS = 2_500;
/** An owner with more entries than the chart reads. */
const MANY = "user-many";

if (!CHROMIUM_AVAILABLE && !IN_CI) {
  process.stderr.write(
    `\n[browser suite] SKIPPED: ${CHROMIUM_MISSING}. In CI (CI=true) this is a failure.\n\n`,
  );
}

requireChromiumInCi("the browser suite");

describe.skipIf(!CHROMIUM_AVAILABLE)(
  `the web console in Chromium${CHROMIUM_AVAILABLE ? "" : ` (skipped: ${CHROMIUM_MISSING})`}`,
  () => {
    let server: ConsoleServer;
    let chromium: LaunchedBrowser;
    let page: Page;
    const pageErrors: string[] = [];
    let usdLedgerId = "";
    let sinkLedgerId = "";
    const api = () =>
      createClient(
        LedgerService,
        createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }),
      );

    beforeAll(async () => {
      server = await startConsoleServer();
      chromium = await launchChromium();
      page = await openPage(chromium, ({ kind, text }) => {
        // Refused calls are answered 400 or 404 by design (Connect's failed_precondition, not_found...).
        const refusedCall = /status of (400 \(Bad Request\)|404 \(Not Found\))$/.test(text);
        if (kind === "page error" || !refusedCall) {
          pageErrors.push(text);
        }
      });
    }, 120_000);

    afterAll(async () => {
      await chromium?.close();
      await server?.close();
    }, 60_000);

    /** Waits until the console finished the action in flight and shows `text` as the balance. */
    async function balanceShows(text: string): Promise<void> {
      await page.locator("#balance", { hasText: new RegExp(`^${escapeRegExp(text)}$`) }).waitFor();
      await page.waitForFunction(() => !document.body.hasAttribute("aria-busy"));
    }

    async function record(operation: string, amount = "", description = ""): Promise<void> {
      await page.selectOption("#record-operation", operation);
      await page.fill("#record-amount", amount);
      await page.fill("#record-description", description);
      await page.click("#record-form button[type=submit]");
      await page.waitForFunction(() => !document.body.hasAttribute("aria-busy"));
    }

    async function shownError(): Promise<{ reason: string | null; text: string }> {
      const box = page.locator("#error");
      await box.waitFor({ state: "visible" });
      return {
        reason: await box.getAttribute("data-reason"),
        text: (await box.textContent()) ?? "",
      };
    }

    /** A table body as shown: one array of cell texts per row. */
    function tableRows(body: string): Promise<string[][]> {
      return page
        .locator(`${body} tr`)
        .evaluateAll((rows) =>
          rows.map((row) =>
            Array.from((row as HTMLTableRowElement).cells).map((cell) => cell.textContent ?? ""),
          ),
        );
    }

    /** The history table, newest first. */
    const historyRows = () => tableRows("#history-body");
    /** The open transaction's legs, in posting order. */
    const transactionLegs = () => tableRows("#transaction-legs");
    /** The open holds, oldest first. */
    const holdRows = () => tableRows("#holds-body");

    /** The ledger's figures as shown, once the action in flight finished. */
    async function figures(): Promise<Record<string, string>> {
      await page.waitForFunction(() => !document.body.hasAttribute("aria-busy"));
      const shown = async (id: string) => (await page.locator(`#${id}`).textContent()) ?? "";
      return {
        available: await shown("available"),
        balance: await shown("balance"),
        pendingDebits: await shown("pending-debits"),
        pendingCredits: await shown("pending-credits"),
      };
    }

    /** The open transaction's hold history: one "state amount" per step, oldest first. */
    function holdHistory(): Promise<string[]> {
      return page
        .locator("#transaction-history li")
        .evaluateAll((items) =>
          items.map(
            (item) =>
              `${(item as HTMLElement).dataset.state} ${item.lastElementChild?.textContent ?? ""}`,
          ),
        );
    }

    /** An hour from now as a datetime-local field takes it, and as the console shows it. */
    function anHourAhead(): Promise<{ typed: string; shown: string }> {
      return secondsFromNow(3_600);
    }

    /** `seconds` from now (negative: ago) as a datetime-local field takes it, and as the console shows it. */
    function secondsFromNow(seconds: number): Promise<{ typed: string; shown: string }> {
      return page.evaluate((offsetMs) => {
        const at = new Date(Date.now() + offsetMs);
        const pad = (n: number) => String(n).padStart(2, "0");
        const day = `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`;
        const time = `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
        return { typed: `${day}T${time}`, shown: `${day} ${time}` };
      }, seconds * 1000);
    }

    /** The chart as drawn: its data attributes, each point's balance_after, its axis labels. */
    async function chart(): Promise<{
      entries: string | null;
      finalBalance: string | null;
      points: string[];
      steps: number;
      labels: Record<string, string>;
      caption: string;
    }> {
      await page.waitForFunction(() => !document.body.hasAttribute("aria-busy"));
      const svg = page.locator("#balance-chart");
      return {
        entries: await svg.getAttribute("data-entries"),
        finalBalance: await svg.getAttribute("data-final-balance"),
        points: await svg
          .locator("circle.point")
          .evaluateAll((marks) =>
            marks.map((mark) => mark.getAttribute("data-balance-after") ?? ""),
          ),
        steps: (
          await svg
            .locator("path.step-line")
            .evaluateAll((paths) => paths.map((path) => path.getAttribute("d") ?? "").join(" "))
        )
          .split(" ")
          .filter((command) => command.startsWith("V")).length,
        labels: Object.fromEntries(
          await svg
            .locator("text[data-axis]")
            .evaluateAll((texts) =>
              texts.map((text) => [text.getAttribute("data-axis") ?? "", text.textContent ?? ""]),
            ),
        ),
        caption: (await page.locator("#balance-chart-caption").textContent()) ?? "",
      };
    }

    /** Finds the owner's ledgers through the page and waits for the (only) one to open. */
    async function findOwner(ownerId: string): Promise<void> {
      await page.fill("#find-owner", ownerId);
      await page.click("#find-form button[type=submit]");
      await page.locator("#ledger-title", { hasText: ownerId }).waitFor();
      await page.waitForFunction(() => !document.body.hasAttribute("aria-busy"));
    }

    /** The ledger title's status badge, as shown. */
    function statusShown(): Promise<string> {
      return page
        .locator("#ledger-title .status")
        .textContent()
        .then((text) => text ?? "");
    }

    /** Posts the listed hold (all of it when `amount` is empty). */
    async function postHold(transactionId: string, amount = ""): Promise<void> {
      const row = page.locator(`#holds-body tr[data-transaction-id='${transactionId}']`);
      await row.locator("[data-field=post-amount]").fill(amount);
      await row.locator("[data-action=post-hold]").click();
      await page.waitForFunction(() => !document.body.hasAttribute("aria-busy"));
    }

    /** The id of the hold listed at `index`, oldest first. */
    async function listedHold(index = 0): Promise<string> {
      return (
        (await page.locator("#holds-body tr").nth(index).getAttribute("data-transaction-id")) ?? ""
      );
    }

    async function transfer(ownerId: string, amount: string, description = ""): Promise<void> {
      await page.fill("#transfer-owner", ownerId);
      await page.fill("#transfer-amount", amount);
      await page.fill("#transfer-description", description);
      await page.click("#transfer-form button[type=submit]");
      await page.waitForFunction(() => !document.body.hasAttribute("aria-busy"));
    }

    /** Clicks a transaction link and waits for the dialog to show that transaction. */
    async function openTransaction(link: string): Promise<string> {
      const transactionId = (await page.locator(link).getAttribute("data-transaction-id")) ?? "";
      await page.click(link);
      await page
        .locator("#transaction-dialog[open] #transaction-id", { hasText: transactionId })
        .waitFor();
      await page.waitForFunction(() => !document.body.hasAttribute("aria-busy"));
      return transactionId;
    }

    /** The open transaction's facts by key (kind, amount...), as shown. */
    function transactionFacts(): Promise<Record<string, string>> {
      return page
        .locator("#transaction-facts dd")
        .evaluateAll((facts) =>
          Object.fromEntries(
            facts.map((fact) => [(fact as HTMLElement).dataset.fact, fact.textContent ?? ""]),
          ),
        );
    }

    /** The id of the listed ledger in `unit`. */
    function ledgerIdOf(unit: string): Promise<string> {
      return page
        .locator(`#ledger-list button[data-unit=${unit}]`)
        .getAttribute("data-ledger-id")
        .then((id) => id ?? "");
    }

    const anyTime = expect.stringMatching(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);

    it("finds an owner's ledgers and shows each balance in its unit", async () => {
      for (const unit of ["CREDITS", "USD_CENTS"]) {
        await api().createLedger({
          app: "content",
          ownerId: OWNER,
          unit,
          idempotencyKey: `browser-${unit}`,
        });
      }
      await page.goto(server.url);
      await page.locator("body[data-ready=true]").waitFor();
      await page.fill("#find-owner", OWNER);
      await page.click("#find-form button[type=submit]");
      await page.locator("#ledger-list li").nth(1).waitFor();
      expect(await page.locator("#ledger-list li").allTextContents()).toEqual([
        expect.stringMatching(/CREDITS[\s\S]*0 credits/),
        expect.stringMatching(/USD_CENTS[\s\S]*\$0\.00/),
      ]);
      await page.click("#ledger-list button[data-unit=CREDITS]");
      await balanceShows("0 credits");
    });

    it("offers the operations of the ledger's app, from the generated registry", async () => {
      const offered = await page
        .locator("#record-operation option")
        .evaluateAll((options) => options.map((option) => (option as HTMLOptionElement).value));
      expect(offered).toEqual(
        expect.arrayContaining(["DAILY_REWARD", "SIGNUP_CREDIT", "CREDIT_SPEND", "CREDIT_ADD"]),
      );
      expect(offered).toContain("CONTENT_CREATION");
    });

    it("records operations through the page and shows the balance the server holds", async () => {
      await record("SIGNUP_CREDIT", "", "Welcome bonus");
      await balanceShows("3 credits");
      await record("CREDIT_SPEND", "2", "Unlocked two articles");
      await balanceShows("1 credit");
      expect(await historyRows()).toEqual([
        [
          "2",
          anyTime,
          "CREDIT_SPEND",
          "-2 credits",
          "1 credit",
          "Unlocked two articles",
          "Reverse",
        ],
        ["1", anyTime, "SIGNUP_CREDIT", "+3 credits", "3 credits", "Welcome bonus", "Reverse"],
      ]);
      expect(await page.locator("#ledger-list button[data-unit=CREDITS]").textContent()).toMatch(
        /1 credit$/,
      );
      const ledgerId = await ledgerIdOf("CREDITS");
      const balance = await api().getBalance({ ledgerId });
      expect(balance.balance).toBe(1n);
    });

    it("shows a refused write by its reason and leaves the balance as it was", async () => {
      await record("CREDIT_SPEND", "5");
      expect(await shownError()).toMatchObject({
        reason: "INSUFFICIENT_FUNDS",
        text: expect.stringContaining("INSUFFICIENT_FUNDS"),
      });
      await balanceShows("1 credit");
      await record("SIGNUP_CREDIT", "-2");
      expect((await shownError()).reason).toBe("AMOUNT_DIRECTION_MISMATCH");
      await record("CREDIT_ADD", "1.5");
      expect((await shownError()).reason).toBe("INVALID_AMOUNT");
      expect(await page.locator("#history-body tr").count()).toBe(2);
    });

    it("reverses a transaction through the page and shows the restored balance", async () => {
      await page.click("#history-body tr[data-operation=CREDIT_SPEND] button[data-action=reverse]");
      await page.locator("#reverse-dialog[open]").waitFor();
      await page.fill("#reverse-amount", "");
      await page.click("#reverse-confirm");
      await balanceShows("3 credits");
      await page.fill("#record-amount", "");
      expect(await page.locator("#error").isHidden()).toBe(true);
      expect((await historyRows())[0]).toEqual([
        "3",
        anyTime,
        "REVERSAL",
        "+2 credits",
        "3 credits",
        "",
        "",
      ]);
      // A reversal cannot itself be reversed: the page offers no button for it.
      expect(
        await page
          .locator("#history-body tr[data-operation=REVERSAL] [data-action=reverse]")
          .count(),
      ).toBe(0);
      const ledgerId = await ledgerIdOf("CREDITS");
      expect((await api().getBalance({ ledgerId })).balance).toBe(3n);
      expect(await server.store.verifyInvariants()).toEqual([]);

      const artifacts = await mkdtemp(join(tmpdir(), "ledger-browser-"));
      const screenshot = join(artifacts, "console.png");
      await page.screenshot({ path: screenshot, fullPage: true });
      process.stderr.write(`[browser suite] screenshot: ${screenshot}\n`);
      if (UPDATE_DOCS_SCREENSHOT || !existsSync(DOCS_SCREENSHOT)) {
        await mkdir(dirname(DOCS_SCREENSHOT), { recursive: true });
        await copyFile(screenshot, DOCS_SCREENSHOT);
      }
    });

    it("transfers to another owner's ledger through the form, and both balances change", async () => {
      const payee = await api().createLedger({
        app: "content",
        ownerId: PAYEE,
        unit: "CREDITS",
        idempotencyKey: "browser-payee",
      });
      const payeeLedgerId = payee.ledger?.id ?? "";
      const transferOperations = await page
        .locator("#transfer-operation option")
        .evaluateAll((options) => options.map((option) => (option as HTMLOptionElement).value));
      expect(transferOperations).toEqual(
        expect.arrayContaining(["", "CREDIT_SPEND", "CONTENT_CREATION"]),
      );
      await transfer(PAYEE, "2", "A gift");
      await balanceShows("1 credit");
      expect(await page.locator("#error").isHidden()).toBe(true);
      expect((await historyRows())[0]).toEqual([
        "4",
        anyTime,
        "TRANSFER",
        "-2 credits",
        "1 credit",
        "A gift",
        "Reverse",
      ]);
      expect((await api().getBalance({ ledgerId: payeeLedgerId })).balance).toBe(2n);
      expect(await page.inputValue("#transfer-amount")).toBe("");
    });

    it("opens the transfer from its history row with both legs, and each leg's ledger", async () => {
      const ownLedgerId = await ledgerIdOf("CREDITS");
      const payeeLedgerId = (
        await api().getBalance({ app: "content", ownerId: PAYEE, unit: "CREDITS" })
      ).ledgerId;
      await openTransaction("#history-body tr[data-sequence='4'] [data-action=show-transaction]");
      expect(await page.locator("#transaction-title").textContent()).toBe("TRANSFER transaction");
      expect(await transactionFacts()).toEqual({
        kind: "TRANSFER",
        state: "POSTED",
        created: anyTime,
        amount: "2 credits",
        reversed: "0 credits",
        reversals: "none",
      });
      expect(await transactionLegs()).toEqual([
        [`${ownLedgerId} (this ledger)`, "4", "TRANSFER", "-2 credits", "1 credit"],
        [payeeLedgerId, "1", "TRANSFER", "+2 credits", "2 credits"],
      ]);
      await page.click(`#transaction-legs button[data-ledger-id='${payeeLedgerId}']`);
      await page.locator("#ledger-title", { hasText: PAYEE }).waitFor();
      await balanceShows("2 credits");
      expect(await page.locator("#transaction-dialog").isHidden()).toBe(true);
      await page.click("#ledger-list button[data-unit=CREDITS]");
      await balanceShows("1 credit");
    });

    it("reverses the transfer, and the reversal links back to the original", async () => {
      await page.click("#history-body tr[data-sequence='4'] [data-action=reverse]");
      await page.locator("#reverse-dialog[open]").waitFor();
      await page.click("#reverse-confirm");
      await balanceShows("3 credits");
      expect((await historyRows())[0]).toEqual([
        "5",
        anyTime,
        "REVERSAL",
        "+2 credits",
        "3 credits",
        "",
        "",
      ]);
      const payee = await api().getBalance({ app: "content", ownerId: PAYEE, unit: "CREDITS" });
      expect(payee.balance).toBe(0n);

      const reversalId = await openTransaction(
        "#history-body tr[data-sequence='5'] [data-action=show-transaction]",
      );
      const originalId =
        (await page
          .locator("#history-body tr[data-sequence='4'] [data-action=show-transaction]")
          .getAttribute("data-transaction-id")) ?? "";
      expect(await transactionFacts()).toEqual({
        kind: "REVERSAL",
        state: "POSTED",
        created: anyTime,
        amount: "2 credits",
        reverses: originalId,
      });
      expect(await transactionLegs()).toEqual([
        [
          `${await ledgerIdOf("CREDITS")} (this ledger)`,
          "5",
          "REVERSAL",
          "+2 credits",
          "3 credits",
        ],
        [payee.ledgerId, "2", "REVERSAL", "-2 credits", "0 credits"],
      ]);
      await openTransaction("#transaction-facts [data-fact=reverses] button");
      expect(await transactionFacts()).toMatchObject({
        kind: "TRANSFER",
        reversed: "2 credits",
        reversals: reversalId,
      });
      await openTransaction(`#transaction-facts button[data-transaction-id='${reversalId}']`);
      expect((await transactionFacts()).kind).toBe("REVERSAL");
      await page.click("#transaction-close");
      expect(await page.locator("#transaction-dialog").isHidden()).toBe(true);
      expect(await server.store.verifyInvariants()).toEqual([]);
    });

    it("shows a transfer that breaks the floor, or goes to no ledger, by its reason", async () => {
      await transfer(PAYEE, "4");
      expect(await shownError()).toMatchObject({
        reason: "INSUFFICIENT_FUNDS",
        text: expect.stringContaining("INSUFFICIENT_FUNDS"),
      });
      await balanceShows("3 credits");
      await transfer("nobody", "1");
      expect((await shownError()).reason).toBe("LEDGER_NOT_FOUND");
      expect((await historyRows())[0]?.[0]).toBe("5");
      expect(
        (await api().getBalance({ app: "content", ownerId: PAYEE, unit: "CREDITS" })).balance,
      ).toBe(0n);
    });

    it("holds a spend from the form: available drops, the hold is listed, the balance stays", async () => {
      expect(await page.locator("#record-expires").isDisabled()).toBe(true);
      const expiry = await anHourAhead();
      await page.check("#record-pending");
      await page.fill("#record-expires", expiry.typed);
      await record("CREDIT_SPEND", "2", "Seat on hold");
      expect(await page.locator("#error").isHidden()).toBe(true);
      expect(await figures()).toEqual({
        available: "1 credit",
        balance: "3 credits",
        pendingDebits: "2 credits",
        pendingCredits: "0 credits",
      });
      expect(await holdRows()).toEqual([
        [anyTime, "CREDIT_SPEND", "-2 credits", expiry.shown, "Post", "Void"],
      ]);
      expect((await historyRows())[0]?.[0]).toBe("5");
      expect(await page.isChecked("#record-pending")).toBe(false);
      expect(await page.locator("#record-expires").isDisabled()).toBe(true);
      const ledgerId = await ledgerIdOf("CREDITS");
      expect(await api().getBalance({ ledgerId })).toMatchObject({
        balance: 3n,
        available: 1n,
        pendingDebits: 2n,
        pendingCredits: 0n,
      });

      await openTransaction("#holds-body [data-action=show-transaction]");
      expect(await transactionFacts()).toEqual({
        kind: "ENTRY",
        state: "PENDING",
        created: anyTime,
        amount: "2 credits",
        held: "2 credits",
        expires: expiry.shown,
      });
      expect(await transactionLegs()).toEqual([
        [`${ledgerId} (this ledger)`, "held", "CREDIT_SPEND", "-2 credits", ""],
      ]);
      expect(await holdHistory()).toEqual(["PENDING 2 credits"]);
      await page.click("#transaction-close");
    });

    it("posts part of the hold: the balance moves by that much and the rest is released", async () => {
      const holdId = await listedHold();
      await postHold(holdId, "1");
      await balanceShows("2 credits");
      expect(await page.locator("#error").isHidden()).toBe(true);
      expect(await figures()).toEqual({
        available: "2 credits",
        balance: "2 credits",
        pendingDebits: "0 credits",
        pendingCredits: "0 credits",
      });
      expect(await holdRows()).toEqual([["No pending holds."]]);
      expect((await historyRows())[0]).toEqual([
        "6",
        anyTime,
        "CREDIT_SPEND",
        "-1 credit",
        "2 credits",
        "Seat on hold",
        "Reverse",
      ]);
      const postedId = await openTransaction(
        "#history-body tr[data-sequence='6'] [data-action=show-transaction]",
      );
      expect(postedId).toBe(holdId);
      expect(await transactionFacts()).toMatchObject({
        state: "POSTED",
        amount: "1 credit",
        held: "2 credits",
        reversed: "0 credits",
      });
      expect(await holdHistory()).toEqual(["PENDING 2 credits", "POSTED 1 credit"]);
      expect((await transactionLegs()).map((leg) => leg.slice(1))).toEqual([
        ["6", "CREDIT_SPEND", "-1 credit", "2 credits"],
      ]);
      await page.click("#transaction-close");
      expect(await server.store.verifyInvariants()).toEqual([]);
    });

    it("holds a transfer from the form and voids it: neither ledger moves", async () => {
      const payee = () => api().getBalance({ app: "content", ownerId: PAYEE, unit: "CREDITS" });
      await page.check("#transfer-pending");
      await transfer(PAYEE, "1", "Held gift");
      expect(await page.locator("#error").isHidden()).toBe(true);
      expect(await figures()).toEqual({
        available: "1 credit",
        balance: "2 credits",
        pendingDebits: "1 credit",
        pendingCredits: "0 credits",
      });
      expect(await holdRows()).toEqual([
        [anyTime, "TRANSFER", "-1 credit", anyTime, "Post", "Void"],
      ]);
      expect(await payee()).toMatchObject({ balance: 0n, pendingCredits: 1n, available: 0n });

      const holdId = await listedHold();
      await page.click(`#holds-body tr[data-transaction-id='${holdId}'] [data-action=void-hold]`);
      await page.locator("#holds-body tr:not([data-transaction-id])").waitFor();
      expect(await figures()).toEqual({
        available: "2 credits",
        balance: "2 credits",
        pendingDebits: "0 credits",
        pendingCredits: "0 credits",
      });
      expect(await payee()).toMatchObject({ balance: 0n, pendingCredits: 0n });
      const { transaction } = await api().getTransaction({ transactionId: holdId });
      expect(transaction?.state).toBe(TransactionState.VOIDED);
      expect((await historyRows())[0]?.[0]).toBe("6");
    });

    it("shows a post of more than held by its reason, and a hold voided elsewhere leaving the list live", async () => {
      await page.check("#record-pending");
      await record("CREDIT_SPEND", "1");
      const holdId = await listedHold();
      await postHold(holdId, "5");
      expect(await shownError()).toMatchObject({
        reason: "HOLD_AMOUNT_EXCEEDED",
        text: expect.stringContaining("Post at most the amount held"),
      });
      expect(await listedHold()).toBe(holdId);
      expect(await figures()).toMatchObject({ available: "1 credit", balance: "2 credits" });

      // Voided elsewhere: the live stream's hold step takes it off the list, no reload.
      await api().voidPendingTransaction({
        transactionId: holdId,
        idempotencyKey: "browser-void-behind",
      });
      await expect.poll(holdRows, { timeout: 10_000 }).toEqual([["No pending holds."]]);
      expect(await figures()).toMatchObject({ available: "2 credits", balance: "2 credits" });
      expect(await server.store.verifyInvariants()).toEqual([]);
    });

    it("pages through history and shows cents as dollars", async () => {
      const usd = (await api().getBalance({ app: "content", ownerId: OWNER, unit: "USD_CENTS" }))
        .ledgerId;
      usdLedgerId = usd;
      for (let i = 1; i <= 12; i++) {
        await api().recordEntry({
          ledgerId: usd,
          operation: "CREDIT_ADD",
          amount: 125n,
          idempotencyKey: `browser-usd-${i}`,
        });
      }
      await page.click("#ledger-list button[data-unit=USD_CENTS]");
      await balanceShows("$15.00");
      expect(await page.locator("#history-body tr").count()).toBe(10);
      expect((await historyRows())[0]).toEqual([
        "12",
        anyTime,
        "CREDIT_ADD",
        "+$1.25",
        "$15.00",
        "",
        "Reverse",
      ]);
      expect(await page.locator("#page-newer").isDisabled()).toBe(true);
      await page.click("#page-older");
      await page.locator("#page-label", { hasText: "page 2" }).waitFor();
      expect((await historyRows()).map((row) => row.slice(0, 5))).toEqual([
        ["2", anyTime, "CREDIT_ADD", "+$1.25", "$2.50"],
        ["1", anyTime, "CREDIT_ADD", "+$1.25", "$1.25"],
      ]);
      expect(await page.locator("#page-older").isDisabled()).toBe(true);
      await page.click("#page-newer");
      await page.locator("#page-label", { hasText: "page 1" }).waitFor();
      expect((await historyRows())[0]?.[0]).toBe("12");
    });

    it("draws the balance over time from the history, oldest first, one step per entry", async () => {
      const drawn = await chart();
      expect(drawn).toEqual({
        entries: "12",
        finalBalance: "1500",
        points: Array.from({ length: 12 }, (_, i) => String(125 * (i + 1))),
        steps: 12,
        labels: { "y-max": "$15.00", "y-min": "$0.00", "x-min": anyTime, "x-max": anyTime },
        caption: "Balance after each of the 12 entries, oldest first.",
      });
    });

    it("terminates a ledger with an open hold only when told to void it", async () => {
      const { pendingTransaction: hold } = await api().recordEntry({
        ledgerId: usdLedgerId,
        operation: "CREDIT_SPEND",
        amount: -200n,
        pending: true,
        idempotencyKey: "browser-usd-hold",
      });
      await page.click("#ledger-list button[data-unit=USD_CENTS]");
      await page.locator("#holds-body tr[data-transaction-id]").waitFor();
      expect(await figures()).toMatchObject({ available: "$13.00", balance: "$15.00" });

      page.once("dialog", (dialog) => void dialog.accept());
      await page.click("#terminate");
      expect(await shownError()).toMatchObject({
        reason: "LEDGER_HAS_PENDING_TRANSACTIONS",
        text: expect.stringContaining("void open holds"),
      });
      expect(await page.locator("#ledger-title .status.terminated").count()).toBe(0);

      await page.check("#terminate-void-pending");
      page.once("dialog", (dialog) => void dialog.accept());
      await page.click("#terminate");
      await page.locator("#ledger-title .status.terminated").waitFor();
      expect(await page.locator("#error").isHidden()).toBe(true);
      const { transaction } = await api().getTransaction({ transactionId: hold?.id ?? "" });
      expect(transaction?.state).toBe(TransactionState.VOIDED);
      expect(await figures()).toMatchObject({ available: "$15.00", pendingDebits: "$0.00" });
      const outcome = page.locator("#terminate-outcome");
      expect(await outcome.textContent()).toBe("Closed with $15.00 left on it.");
      expect(await outcome.getAttribute("data-remaining-balance")).toBe("1500");
    });

    it("shows the terminated ledger without its write forms, and the server refuses writes", async () => {
      expect(await page.locator("#record-form").isHidden()).toBe(true);
      expect(await page.locator("#terminate").isHidden()).toBe(true);
      expect(await holdRows()).toEqual([["No pending holds."]]);
      await balanceShows("$15.00");
      const refused = await api()
        .recordEntry({ ledgerId: usdLedgerId, operation: "CREDIT_ADD", idempotencyKey: "late" })
        .then(
          () => undefined,
          (error: unknown) => ConnectError.from(error),
        );
      expect(refused?.code).toBe(Code.FailedPrecondition);
      expect(refused && reasonOf(refused)).toBe("LEDGER_TERMINATED");
      expect(pageErrors).toEqual([]);
    });

    it("refuses a window without the ledger it expires to, then creates the ledger with its window", async () => {
      const sink = await api().createLedger({
        app: "content",
        ownerId: SINK,
        unit: "CREDITS",
        unbounded: true,
        idempotencyKey: "browser-sink",
      });
      sinkLedgerId = sink.ledger?.id ?? "";
      expect(await page.locator("#create-expire-to").isDisabled()).toBe(true);
      const from = await secondsFromNow(-60);
      const until = await anHourAhead();
      await page.fill("#create-owner", TIMED);
      await page.fill("#create-unit", "CREDITS");
      await page.fill("#create-valid-from", from.typed);
      await page.fill("#create-valid-until", until.typed);
      await page.click("#create-form button[type=submit]");
      expect((await shownError()).reason).toBe("INVALID_ARGUMENT");
      expect(
        (await api().listLedgers({ app: "content", ownerId: TIMED, pageSize: 10 })).ledgers,
      ).toEqual([]);

      expect(await page.locator("#create-expire-to").isDisabled()).toBe(false);
      await page.fill("#create-expire-to", SINK);
      await page.click("#create-form button[type=submit]");
      await page.locator("#ledger-title", { hasText: TIMED }).waitFor();
      await page.waitForFunction(() => !document.body.hasAttribute("aria-busy"));
      expect(await page.locator("#error").isHidden()).toBe(true);
      expect(await statusShown()).toBe("active");
      expect(await page.locator("#ledger-window").textContent()).toBe(
        `valid from ${from.shown} · valid until ${until.shown} · expires to ${sinkLedgerId}`,
      );
      const timedLedgerId = await ledgerIdOf("CREDITS");
      const { ledger } = await api().getLedger({ ledgerId: timedLedgerId });
      expect(ledger?.expireToLedgerId).toBe(sinkLedgerId);
      expect(ledger?.validUntil).toBeDefined();
      expect(await page.inputValue("#create-owner")).toBe("");
      expect(await page.locator("#create-expire-to").isDisabled()).toBe(true);
      expect(await chart()).toMatchObject({ entries: null, caption: "No entries yet." });
      expect(await page.locator("#balance-chart").isHidden()).toBe(true);
    });

    it("redraws the chart after a write, and links to the ledger the remainder expires to", async () => {
      await record("SIGNUP_CREDIT");
      await balanceShows("3 credits");
      expect(await chart()).toMatchObject({
        entries: "1",
        finalBalance: "3",
        points: ["3"],
        steps: 1,
        caption: "Balance after each of the 1 entry, oldest first.",
      });
      await page.click("#ledger-window [data-window=expire-to]");
      await page.locator("#ledger-title", { hasText: SINK }).waitFor();
      await balanceShows("0 credits");
      expect(await page.locator("#ledger-window").isHidden()).toBe(true);
      await findOwner(TIMED);
      await balanceShows("3 credits");
    });

    it("terminates with the remainder moved to another owner's ledger, and says what moved", async () => {
      await page.fill("#terminate-sweep-to", SINK);
      page.once("dialog", (dialog) => void dialog.accept());
      await page.click("#terminate");
      await page.locator("#ledger-title .status.terminated").waitFor();
      expect(await page.locator("#error").isHidden()).toBe(true);
      const outcome = page.locator("#terminate-outcome");
      expect(await outcome.textContent()).toBe(
        `Moved 3 credits to ${sinkLedgerId} (SWEEP); 0 credits left on it.`,
      );
      expect(await outcome.getAttribute("data-swept-minor")).toBe("3");
      expect(await outcome.getAttribute("data-remaining-balance")).toBe("0");
      await balanceShows("0 credits");
      expect((await historyRows())[0]?.slice(0, 5)).toEqual([
        "2",
        anyTime,
        "SWEEP",
        "-3 credits",
        "0 credits",
      ]);
      expect(await chart()).toMatchObject({ entries: "2", finalBalance: "0", points: ["3", "0"] });
      expect((await api().getBalance({ ledgerId: sinkLedgerId })).balance).toBe(3n);

      await openTransaction("#terminate-outcome [data-action=show-transaction]");
      expect((await transactionLegs()).map((leg) => leg.slice(2, 4))).toEqual([
        ["SWEEP", "-3 credits"],
        ["SWEEP", "+3 credits"],
      ]);
      await page.click("#transaction-close");
      expect(await server.store.verifyInvariants()).toEqual([]);
    });

    it("shows a ledger as expired once its valid until passes, and the server refuses its writes", async () => {
      const created = await api().createLedger({
        app: "content",
        ownerId: BRIEF,
        unit: "CREDITS",
        validUntil: timestampFromMs(Date.now() + BRIEF_VALIDITY_MS),
        expireToLedgerId: sinkLedgerId,
        idempotencyKey: "browser-brief",
      });
      const briefLedgerId = created.ledger?.id ?? "";
      await api().recordEntry({
        ledgerId: briefLedgerId,
        operation: "SIGNUP_CREDIT",
        idempotencyKey: "browser-brief-signup",
      });
      await findOwner(BRIEF);
      expect(await statusShown()).toBe("active");
      expect(await page.locator("#record-form").isVisible()).toBe(true);

      // The page flips by itself when valid_until is reached.
      await page.locator("#ledger-title .status.expired").waitFor();
      expect(await statusShown()).toMatch(/^expired( · terminated)?$/);
      expect(await page.locator("#record-form").isHidden()).toBe(true);
      const refused = await api()
        .recordEntry({
          ledgerId: briefLedgerId,
          operation: "CREDIT_ADD",
          idempotencyKey: "browser-brief-late",
        })
        .then(
          () => undefined,
          (error: unknown) => ConnectError.from(error),
        );
      expect(refused && reasonOf(refused)).toMatch(/^LEDGER_(EXPIRED|TERMINATED)$/);
    });

    it("shows the ledger the expiry sweep closed as expired and terminated, its remainder moved", async () => {
      // The server's own sweep may have closed it already: then this closes nothing.
      await server.store.expireLedgers();
      await page.click("#ledger-list button[data-unit=CREDITS]");
      await balanceShows("0 credits");
      expect(await statusShown()).toBe("expired · terminated");
      expect(
        await page.locator("#ledger-list button[data-unit=CREDITS] .status").textContent(),
      ).toBe("expired · terminated");
      expect(await page.locator("#terminate").isHidden()).toBe(true);
      expect((await historyRows())[0]?.slice(0, 5)).toEqual([
        "2",
        anyTime,
        "EXPIRY",
        "-3 credits",
        "0 credits",
      ]);
      expect(await chart()).toMatchObject({ entries: "2", finalBalance: "0", points: ["3", "0"] });
      expect((await api().getBalance({ ledgerId: sinkLedgerId })).balance).toBe(6n);
      expect(await server.store.verifyInvariants()).toEqual([]);
    });

    it("bounds the chart to the latest 500 entries, and says so", async () => {
      const many = await api().createLedger({
        app: "content",
        ownerId: MANY,
        unit: "CREDITS",
        idempotencyKey: "browser-many",
      });
      const manyLedgerId = many.ledger?.id ?? "";
      await api().recordEntries({
        atomic: true,
        entries: Array.from({ length: 501 }, (_, i) => ({
          ledgerId: manyLedgerId,
          operation: "CREDIT_ADD",
          amount: 1n,
          idempotencyKey: `browser-many-${i}`,
        })),
      });
      await findOwner(MANY);
      await balanceShows("501 credits");
      const drawn = await chart();
      expect(drawn).toMatchObject({
        entries: "500",
        finalBalance: "501",
        steps: 500,
        labels: { "y-max": "501 credits", "y-min": "0 credits" },
        caption: "Balance after each of the latest 500 entries; older entries are not drawn.",
      });
      expect(drawn.points).toEqual(Array.from({ length: 500 }, (_, i) => String(i + 2)));
      expect(pageErrors).toEqual([]);
    });
  },
);

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
