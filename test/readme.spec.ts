/**
 * The README is true: its configuration table is the server's, every npm
 * script it names exists, and its "Try it" commands run as written against a
 * real server and database, printing what the README says they print.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configTableMarkdown } from "../src/server/index.js";
import { startTestServer, type TestServer } from "./support/server.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const readme = readFileSync(`${root}README.md`, "utf8");
const packageJson = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as {
  scripts: Record<string, string>;
};
const DEFAULT_URL_LINE = "LEDGER=http://localhost:8080";

function tryItScript(): string {
  const section = readme.slice(readme.indexOf("## Try it"));
  const match = /```sh\n([\s\S]*?)```/.exec(section);
  if (match?.[1] === undefined) {
    throw new Error("README has no sh block under '## Try it'");
  }
  return match[1];
}

describe("README", () => {
  it("shows the configuration table the server actually reads", () => {
    expect(readme).toContain(configTableMarkdown());
  });

  it("names only npm scripts that exist", () => {
    const named = [...readme.matchAll(/npm (?:run )?([a-z:]+)/g)].map((m) => m[1] ?? "");
    const builtins = new Set(["ci", "run", "install"]);
    for (const script of named.filter((name) => !builtins.has(name))) {
      expect(packageJson.scripts, `npm script "${script}"`).toHaveProperty(script);
    }
  });

  describe("Try it", () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer();
    }, 60_000);
    afterAll(async () => {
      await server?.close();
    });

    it("runs as written and ends with the balance and errors it describes", async () => {
      const script = tryItScript();
      expect(script).toContain(DEFAULT_URL_LINE);
      const { stdout } = await promisify(execFile)(
        "bash",
        ["-euo", "pipefail", "-c", script.replace(DEFAULT_URL_LINE, `LEDGER=${server.url}`)],
        { cwd: root, timeout: 60_000 },
      );
      const compact = stdout.replace(/\s+/g, "");
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
