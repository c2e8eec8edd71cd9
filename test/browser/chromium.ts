/**
 * Where the browser suite finds Chromium (Debian's `chromium` package, or
 * CHROMIUM_PATH), and what happens without it: locally the suite is skipped
 * with the reason printed; in CI (CI=true) its absence fails the run.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { describe, it } from "vitest";
import { IN_CI } from "../support/ci.js";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const CHROMIUM_AVAILABLE = existsSync(CHROMIUM_PATH);
export { IN_CI };
export const CHROMIUM_MISSING = `Chromium not found at ${CHROMIUM_PATH} (install Debian's package: apt-get install -y chromium, or set CHROMIUM_PATH)`;

/** Flags for a headless Chromium in a container: no sandbox, GPU or background traffic. */
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

export interface LaunchedBrowser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Launches the system Chromium on a fresh profile (its --user-data-dir, which
 * Playwright takes as launchPersistentContext's first argument), removed on close.
 */
export async function launchChromium(): Promise<LaunchedBrowser> {
  const profile = await mkdtemp(join(tmpdir(), "ledger-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1200, height: 860 },
    timeout: 60_000,
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** How long one browser step (a click, a wait) may take before the test fails. */
export const STEP_TIMEOUT_MS = 15_000;

/** In CI, a suite that Chromium's absence would skip fails instead (registers that test). */
export function requireChromiumInCi(suite: string): void {
  describe.runIf(!CHROMIUM_AVAILABLE && IN_CI)(`${suite} in CI`, () => {
    it("has Chromium to run on", () => {
      throw new Error(`${CHROMIUM_MISSING}: ${suite} cannot run, and CI requires it`);
    });
  });
}

/** What a page reported: an uncaught error, or a console message of type error. */
export interface PageProblem {
  readonly kind: "page error" | "console";
  readonly text: string;
}

/** A new tab whose steps wait STEP_TIMEOUT_MS at most, telling `report` of its errors. */
export async function openPage(
  browser: LaunchedBrowser,
  report: (problem: PageProblem) => void,
): Promise<Page> {
  const page = await browser.context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on("pageerror", (error) => report({ kind: "page error", text: error.message }));
  page.on("console", (message) => {
    if (message.type() === "error") {
      report({ kind: "console", text: message.text() });
    }
  });
  return page;
}
