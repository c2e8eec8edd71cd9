/**
 * The open ledger updates live in Chromium: an entry recorded through the API
 * (not the page) shows in the balance and history without a reload, with the
 * "live" indicator; once another ledger is opened, entries on the first no
 * longer change the page. While the stream cannot reach the server it says
 * "reconnecting", then "live" again with what was recorded meanwhile.
 * Without Chromium the suite is skipped with the reason printed, except in
 * CI, where that is a failure.
 */
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { type ConsoleServer, startConsoleServer } from "../server/console-server.js";
import {
  CHROMIUM_AVAILABLE,
  CHROMIUM_MISSING,
  type LaunchedBrowser,
  launchChromium,
  openPage,
  requireChromiumInCi,
} from "./chromium.js";

const OWNER = "user-live";
/** Long enough for a stream that still followed the first ledger to have redrawn the page. */
const QUIET_MS = 1_500;

requireChromiumInCi("the live browser suite");

describe.skipIf(!CHROMIUM_AVAILABLE)(
  `the console's live ledger in Chromium${CHROMIUM_AVAILABLE ? "" : ` (skipped: ${CHROMIUM_MISSING})`}`,
  () => {
    let server: ConsoleServer;
    let chromium: LaunchedBrowser;
    let page: Page;
    const pageErrors: string[] = [];
    const ledgerIds: Record<string, string> = {};
    const api = () =>
      createClient(
        LedgerService,
        createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }),
      );

    beforeAll(async () => {
      server = await startConsoleServer();
      chromium = await launchChromium();
      page = await openPage(chromium, (problem) => pageErrors.push(problem.text));
      for (const unit of ["CREDITS", "USD_CENTS"]) {
        const { ledger } = await api().createLedger({
          app: "content",
          ownerId: OWNER,
          unit,
          idempotencyKey: `live-${unit}`,
        });
        ledgerIds[unit] = ledger?.id ?? "";
      }
    }, 120_000);

    afterAll(async () => {
      await chromium?.close();
      await server?.close();
    }, 60_000);

    async function balanceShows(text: string): Promise<void> {
      const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      await page.locator("#balance", { hasText: new RegExp(`^${escaped}$`) }).waitFor();
    }

    /** The history table, newest first: one array of cell texts per row. */
    function historyRows(): Promise<string[][]> {
      return page
        .locator("#history-body tr")
        .evaluateAll((rows) =>
          rows.map((row) =>
            Array.from((row as HTMLTableRowElement).cells).map((cell) => cell.textContent ?? ""),
          ),
        );
    }

    async function openLedger(unit: string): Promise<void> {
      await page.click(`#ledger-list button[data-unit=${unit}]`);
      await page.locator("#ledger-meta", { hasText: ledgerIds[unit] ?? "" }).waitFor();
      await page.waitForFunction(() => !document.body.hasAttribute("aria-busy"));
    }

    function recordThroughApi(unit: string, operation: string, key: string) {
      return api().recordEntry({ ledgerId: ledgerIds[unit] ?? "", operation, idempotencyKey: key });
    }

    it("shows an entry recorded elsewhere without a reload, and says it is live", async () => {
      await page.goto(server.url);
      await page.locator("body[data-ready=true]").waitFor();
      await page.fill("#find-owner", OWNER);
      await page.click("#find-form button[type=submit]");
      await page.locator("#ledger-list li").nth(1).waitFor();
      await openLedger("CREDITS");
      await balanceShows("0 credits");
      await page.locator("#live-indicator[data-state=live]", { hasText: "live" }).waitFor();

      await recordThroughApi("CREDITS", "SIGNUP_CREDIT", "live-signup");
      await balanceShows("3 credits");
      await page.locator("#history-body tr[data-sequence='1']").waitFor();
      expect((await historyRows()).map((row) => [row[0], row[2], row[3], row[4]])).toEqual([
        ["1", "SIGNUP_CREDIT", "+3 credits", "3 credits"],
      ]);
      expect(await page.locator("#ledger-meta").textContent()).toContain("version 1");
      expect(await page.locator("#balance-chart").getAttribute("data-entries")).toBe("1");

      await recordThroughApi("CREDITS", "CREDIT_SPEND", "live-spend");
      await page.locator("#history-body tr[data-sequence='2']").waitFor();
      expect(await page.locator("#live-indicator").isVisible()).toBe(true);
      expect(await page.evaluate(() => performance.getEntriesByType("navigation").length)).toBe(1);
    });

    it("keeps what is typed in a hold's row when a hold made elsewhere redraws the list", async () => {
      await openLedger("CREDITS");
      await page.locator("#live-indicator[data-state=live]").waitFor();
      const hold = (key: string) =>
        api().recordEntry({
          ledgerId: ledgerIds.CREDITS ?? "",
          operation: "CREDIT_ADD",
          amount: 2n,
          idempotencyKey: key,
          pending: true,
        });
      const first = await hold("live-hold-1");
      const amount = page.locator(
        `#holds-body tr[data-transaction-id='${first.pendingTransaction?.id}'] [data-field=post-amount]`,
      );
      await amount.fill("1");
      await amount.focus();
      await hold("live-hold-2");
      await expect.poll(() => page.locator("#holds-body tr[data-transaction-id]").count()).toBe(2);
      expect(await amount.inputValue()).toBe("1");
      expect(await amount.evaluate((input) => input === document.activeElement)).toBe(true);
    });

    it("stops following a ledger once another is opened", async () => {
      await openLedger("USD_CENTS");
      await balanceShows("$0.00");
      await page.locator("#live-indicator[data-state=live]").waitFor();
      const before = await historyRows();

      await recordThroughApi("CREDITS", "CREDIT_ADD", "live-add-elsewhere");
      await page.waitForTimeout(QUIET_MS);
      await balanceShows("$0.00");
      expect(await historyRows()).toEqual(before);
      expect(await page.locator("#ledger-meta").textContent()).toContain(ledgerIds.USD_CENTS);

      await recordThroughApi("USD_CENTS", "CREDIT_ADD", "live-add-here");
      await page.locator("#history-body tr[data-sequence='1']").waitFor();
      expect(await page.locator("#ledger-meta").textContent()).toContain(ledgerIds.USD_CENTS);
      expect(pageErrors).toEqual([]);
    });

    it("says it is reconnecting while the stream cannot reach the server, then live again, missing nothing", async () => {
      // Chromium refuses the page's WatchEntries requests: the SDK client
      // retries them with backoff, and tells the console each time.
      const watchCalls = "**/ledger.v1.LedgerService/WatchEntries";
      await page.route(watchCalls, (route) => route.abort("connectionrefused"));
      await openLedger("CREDITS");
      await page
        .locator("#live-indicator[data-state=reconnecting]", { hasText: "reconnecting" })
        .waitFor();
      const shown = (await historyRows()).length;
      await recordThroughApi("CREDITS", "CREDIT_ADD", "live-add-while-away");

      await page.unroute(watchCalls);
      await page.locator("#live-indicator[data-state=live]", { hasText: "live" }).waitFor();
      await page.locator(`#history-body tr[data-sequence='${shown + 1}']`).waitFor();
      const refusedLoads = /Failed to load resource/;
      expect(pageErrors.filter((text) => !refusedLoads.test(text))).toEqual([]);
    });
  },
);
