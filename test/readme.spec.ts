/**
 * The README is true: its configuration table is the server's, every npm
 * script it names exists, and its "Try it" commands run as written against a
 * real server and database, printing what the README says they print.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { newToken } from "../src/server/credentials.js";
import { configTableMarkdown } from "../src/server/index.js";
import { DEFAULT_URL_LINE, README, ROOT, readmeShBlock, runShScript } from "./support/readme.js";
import { useLedgerServer } from "./support/server.js";

const packageJson = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as {
  scripts: Record<string, string>;
};

describe("README", () => {
  it("shows the configuration table the server actually reads", () => {
    expect(README).toContain(configTableMarkdown());
  });

  it("names only npm scripts that exist", () => {
    const named = [...README.matchAll(/npm (?:run )?([a-z:]+)/g)].map((m) => m[1] ?? "");
    const builtins = new Set(["ci", "run", "install"]);
    for (const script of named.filter((name) => !builtins.has(name))) {
      expect(packageJson.scripts, `npm script "${script}"`).toHaveProperty(script);
    }
  });

  describe("Try it", () => {
    // The README's commands run with a content admin token, against a server that requires one.
    const admin = newToken("content", "admin");
    const harness = useLedgerServer({ LEDGER_TOKENS: admin.line });

    it("runs as written and ends with the balance and errors it describes", async () => {
      const script = readmeShBlock("## Try it");
      expect(script).toContain(DEFAULT_URL_LINE);
      const compact = await runShScript(
        script.replace(DEFAULT_URL_LINE, `LEDGER=${harness.server().url}`),
        ROOT,
        60_000,
        { LEDGER_TOKEN: admin.token },
      );
      expect(compact).toContain('"operation":"SIGNUP_CREDIT","amount":"3","balanceAfter":"3"');
      expect(compact).toContain('"operation":"CREDIT_SPEND","amount":"-2","balanceAfter":"1"');
      expect(compact).toContain('"operation":"REVERSAL","amount":"1","balanceAfter":"2"');
      expect(compact).toMatch(/"balance":"2","unit":"CREDITS","version":"3"/);
      expect(compact).toContain('"code":"failed_precondition"');
      expect(compact).toContain('"reason":"INSUFFICIENT_FUNDS"');
      expect(compact).toContain('"status":"LEDGER_STATUS_TERMINATED"');
    }, 90_000);
  });
});
