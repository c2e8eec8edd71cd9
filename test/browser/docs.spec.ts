/**
 * The API reference page at /docs works in a real browser: headless Chromium
 * against a server that requires tokens opens it without one, and Swagger UI
 * renders the served document: the API's title, every method's path, and an
 * operation's example request once opened. Everything the page loads comes
 * from the server itself (no CDN), and nothing breaks the content security
 * policy or throws. Skipped without Chromium as the console suite is,
 * except in CI.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { newToken } from "../../src/server/credentials.js";
import { type ConsoleServer, startConsoleServer } from "../server/console-server.js";
import {
  CHROMIUM_AVAILABLE,
  CHROMIUM_MISSING,
  type LaunchedBrowser,
  launchChromium,
  openPage,
  requireChromiumInCi,
} from "./chromium.js";

requireChromiumInCi("the API reference page");

describe.skipIf(!CHROMIUM_AVAILABLE)(
  `the API reference page${CHROMIUM_AVAILABLE ? "" : ` (skipped: ${CHROMIUM_MISSING})`}`,
  () => {
    let server: ConsoleServer;
    let chromium: LaunchedBrowser;
    let page: Page;
    const problems: string[] = [];
    const requested: string[] = [];

    beforeAll(async () => {
      server = await startConsoleServer({
        buildConsole: false,
        buildDocs: true,
        tokens: newToken("content", "admin").line,
      });
      chromium = await launchChromium();
      page = await openPage(chromium, (problem) =>
        problems.push(`${problem.kind}: ${problem.text}`),
      );
      page.on("request", (request) => requested.push(request.url()));
      page.on("response", (response) => {
        if (response.status() >= 400) {
          problems.push(`${response.status()}: ${response.url()}`);
        }
      });
    }, 120_000);

    afterAll(async () => {
      await chromium?.close();
      await server?.close();
    }, 60_000);

    it("renders every method of the document, without a token", async () => {
      const response = await page.goto(`${server.url}/docs`);
      expect(response?.status()).toBe(200);
      await page.getByText("LedgerService JSON API").first().waitFor();
      for (const method of LedgerService.methods) {
        const path = `/${LedgerService.typeName}/${method.name}`;
        await page.locator(`[data-path="${path}"]`).first().waitFor();
      }
    });

    it("shows an operation's example request when opened", async () => {
      await page.locator('[data-path="/ledger.v1.LedgerService/GetLedger"]').first().click();
      await page.getByText("{{ledgerId}}").first().waitFor();
    });

    it("loaded everything from the server itself, and nothing failed", () => {
      const origin = new URL(server.url).origin;
      expect(requested.length).toBeGreaterThan(0);
      expect(
        requested.filter((url) => !url.startsWith(origin) && !url.startsWith("data:")),
      ).toEqual([]);
      expect(requested).toContain(`${origin}/openapi.json`);
      expect(problems).toEqual([]);
    });
  },
);
