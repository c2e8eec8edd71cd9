/**
 * The web console against a server with access control, in headless
 * Chromium: the first call refused for want of a token shows the token form;
 * a wrong token is refused TOKEN_INVALID and asked for again; the content
 * admin's token then finishes the refused call, creates a ledger and records
 * an entry, with the token in the authorization header of every call and in
 * no URL or console message. The tab keeps the token across a reload; a new
 * tab asks again, and so does "forget token". A reader's token is refused
 * ROLE_NOT_PERMITTED on creating a ledger (nothing is created) and
 * APP_NOT_PERMITTED on another app. The app fields offer the declared apps
 * only. Against a development-mode server no token is asked for and the
 * header says so. Skipped without Chromium as the console suite is.
 */
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
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
} from "./chromium.js";

const OWNER = "access-owner";
const READER_OWNER = "access-reader-owner";
const TOKENS = {
  contentAdmin: newToken("content", "admin"),
  contentReader: newToken("content", "reader"),
};
/** Refusals are answered 401, 403... by design: Chromium logs them, and that is no page error. */
const REFUSED_CALL = /status of (400|401|403|404) \(/;

describe.skipIf(!CHROMIUM_AVAILABLE)(
  `the web console with access control${CHROMIUM_AVAILABLE ? "" : ` (skipped: ${CHROMIUM_MISSING})`}`,
  () => {
    let server: ConsoleServer;
    let chromium: LaunchedBrowser;
    let page: Page;
    const pageErrors: string[] = [];
    const consoleTexts: string[] = [];
    const urls: string[] = [];
    /** The authorization header of each LedgerService call, in order. */
    const sentAuthorizations: (string | undefined)[] = [];

    const adminApi = () => {
      const bearer: Interceptor = (next) => (request) => {
        request.header.set("authorization", `Bearer ${TOKENS.contentAdmin.token}`);
        return next(request);
      };
      return createClient(
        LedgerService,
        createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", interceptors: [bearer] }),
      );
    };

    beforeAll(async () => {
      server = await startConsoleServer({
        tokens: Object.values(TOKENS)
          .map((token) => token.line)
          .join(","),
      });
      chromium = await launchChromium();
      page = await openTab();
    }, 120_000);

    afterAll(async () => {
      await chromium?.close();
      await server?.close();
    }, 60_000);

    /** A new tab, its errors, console messages, URLs and calls recorded. */
    async function openTab(): Promise<Page> {
      const tab = await openPage(chromium, ({ kind, text }) => {
        if (kind === "page error" || !REFUSED_CALL.test(text)) {
          pageErrors.push(text);
        }
      });
      tab.on("console", (message) => consoleTexts.push(message.text()));
      tab.on("request", (request) => {
        urls.push(request.url());
        if (request.url().includes("/ledger.v1.LedgerService/")) {
          sentAuthorizations.push(request.headers().authorization);
        }
      });
      await tab.goto(server.url);
      await tab.locator("body[data-ready=true]").waitFor();
      return tab;
    }

    const idle = (tab: Page = page) =>
      tab.waitForFunction(() => !document.body.hasAttribute("aria-busy"));

    async function find(ownerId: string, tab: Page = page): Promise<void> {
      await tab.selectOption("#find-app", "content");
      await tab.fill("#find-owner", ownerId);
      await tab.click("#find-form button[type=submit]");
      await idle(tab);
    }

    async function signIn(token: string): Promise<void> {
      await page.fill("#token-input", token);
      await page.click("#token-form button[type=submit]");
      await idle();
    }

    async function createLedger(ownerId: string): Promise<void> {
      await page.selectOption("#create-app", "content");
      await page.fill("#create-owner", ownerId);
      await page.fill("#create-unit", "CREDITS");
      await page.click("#create-form button[type=submit]");
      await idle();
    }

    /** The refusal shown: its reason and hint, or undefined when none is. */
    async function shownError(
      tab: Page = page,
    ): Promise<{ reason: string; hint: string } | undefined> {
      if (!(await tab.locator("#error").isVisible())) {
        return undefined;
      }
      return {
        reason: (await tab.locator("#error").getAttribute("data-reason")) ?? "",
        hint: (await tab.locator("#error-hint").textContent()) ?? "",
      };
    }

    const asksForToken = (tab: Page = page) => tab.locator("#token-panel").isVisible();
    const tabToken = (tab: Page = page) =>
      tab.evaluate(() => Object.values(window.sessionStorage).join(""));

    it("offers exactly the declared apps, and asks for a token on the first call", async () => {
      for (const select of ["#find-app", "#create-app"]) {
        const offered = await page
          .locator(`${select} option`)
          .evaluateAll((options) => options.map((option) => (option as HTMLOptionElement).value));
        expect(offered, select).toEqual(["content", "learning"]);
      }
      expect(await asksForToken()).toBe(false);
      await find(OWNER);
      expect(await asksForToken()).toBe(true);
      expect(await page.getAttribute("#token-input", "type")).toBe("password");
      expect(await page.locator("#token-panel").textContent()).toContain(
        "npm run token -- --app <app> --role <role>",
      );
      expect(await shownError()).toEqual({ reason: "TOKEN_MISSING", hint: expect.any(String) });
    });

    it("refuses a wrong token as TOKEN_INVALID and asks again, keeping nothing", async () => {
      await signIn(newToken("content", "admin").token);
      expect(await shownError()).toEqual({
        reason: "TOKEN_INVALID",
        hint: expect.stringMatching(/enter another/),
      });
      expect(await asksForToken()).toBe(true);
      expect(await tabToken()).toBe("");
      expect(await page.locator("#signed-in").isVisible()).toBe(false);
    });

    it("with the admin's token, finishes the refused search, creates a ledger and records an entry", async () => {
      await signIn(TOKENS.contentAdmin.token);
      expect(await asksForToken()).toBe(false);
      expect(await shownError()).toBeUndefined();
      expect(await page.locator("#ledger-list-empty").isVisible()).toBe(true);
      expect(await page.locator("#signed-in").isVisible()).toBe(true);
      expect(await page.locator("#dev-mode").isVisible()).toBe(false);

      await createLedger(OWNER);
      await page.selectOption("#record-operation", "SIGNUP_CREDIT");
      await page.click("#record-form button[type=submit]");
      await page.locator("#balance", { hasText: /^3 credits$/ }).waitFor();
      const ledger = await adminApi().getBalance({
        app: "content",
        ownerId: OWNER,
        unit: "CREDITS",
      });
      expect(ledger.balance).toBe(3n);

      expect(await tabToken()).toBe(TOKENS.contentAdmin.token);
      const withToken = sentAuthorizations.filter(
        (header) => header === `Bearer ${TOKENS.contentAdmin.token}`,
      );
      expect(withToken.length).toBeGreaterThanOrEqual(4);
      expect(sentAuthorizations.at(-1)).toBe(`Bearer ${TOKENS.contentAdmin.token}`);
    });

    it("keeps the token across a reload of the tab", async () => {
      await page.reload();
      await page.locator("body[data-ready=true]").waitFor();
      await find(OWNER);
      await page.locator("#balance", { hasText: /^3 credits$/ }).waitFor();
      expect(await asksForToken()).toBe(false);
      expect(await shownError()).toBeUndefined();
    });

    it("asks again in a new tab: the token is kept for its tab only", async () => {
      const tab = await openTab();
      try {
        await find(OWNER, tab);
        expect(await asksForToken(tab)).toBe(true);
        expect((await shownError(tab))?.reason).toBe("TOKEN_MISSING");
        expect(await tabToken(tab)).toBe("");
      } finally {
        await tab.close();
      }
      const cookies = await chromium.context.cookies();
      expect(cookies).toEqual([]);
      expect(await page.evaluate(() => window.localStorage.length)).toBe(0);
    });

    it("forgets the token on demand, hides what it read, and asks again", async () => {
      await page.click("#token-forget");
      expect(await asksForToken()).toBe(true);
      expect(await tabToken()).toBe("");
      expect(await page.locator("#ledger-panel").isVisible()).toBe(false);
      expect(await page.locator("#signed-in").isVisible()).toBe(false);
      await find(OWNER);
      expect((await shownError())?.reason).toBe("TOKEN_MISSING");
      expect(await asksForToken()).toBe(true);
    });

    it("shows a reader's token refused ROLE_NOT_PERMITTED on creating a ledger, and creates nothing", async () => {
      await signIn(TOKENS.contentReader.token);
      await page.locator("#ledger-title", { hasText: OWNER }).waitFor();
      await createLedger(READER_OWNER);
      expect(await shownError()).toEqual({
        reason: "ROLE_NOT_PERMITTED",
        hint: expect.stringMatching(/creating or terminating ledgers needs an admin token/),
      });
      expect(await asksForToken()).toBe(false);
      const created = await adminApi().listLedgers({
        app: "content",
        ownerId: READER_OWNER,
        pageSize: 10,
      });
      expect(created.ledgers).toEqual([]);
    });

    it("shows another app's ledgers refused APP_NOT_PERMITTED", async () => {
      await page.selectOption("#find-app", "learning");
      await page.fill("#find-owner", OWNER);
      await page.click("#find-form button[type=submit]");
      await idle();
      expect(await shownError()).toEqual({
        reason: "APP_NOT_PERMITTED",
        hint: expect.stringMatching(/belongs to another app/),
      });
    });

    it("puts no token in a URL or a console message, and the page had no errors", () => {
      const secrets = Object.values(TOKENS).map((token) => token.token);
      expect(urls.filter((url) => secrets.some((secret) => url.includes(secret)))).toEqual([]);
      expect(
        consoleTexts.filter((text) => secrets.some((secret) => text.includes(secret))),
      ).toEqual([]);
      expect(pageErrors).toEqual([]);
    });

    describe("in development mode", () => {
      let devServer: ConsoleServer;

      beforeAll(async () => {
        devServer = await startConsoleServer();
      }, 120_000);

      afterAll(async () => {
        await devServer?.close();
      }, 60_000);

      it("asks for no token, and says none is needed", async () => {
        const tab = await openPage(chromium, () => {});
        try {
          await tab.goto(devServer.url);
          await tab.locator("body[data-ready=true]").waitFor();
          await find(OWNER, tab);
          expect(await asksForToken(tab)).toBe(false);
          expect(await shownError(tab)).toBeUndefined();
          expect(await tab.locator("#dev-mode").textContent()).toBe(
            "development mode: no token needed",
          );
          expect(await tab.locator("#dev-mode").isVisible()).toBe(true);
        } finally {
          await tab.close();
        }
      });
    });
  },
);
