/**
 * The README's SDK snippets run as written against a real server: every
 * ```ts block under "## SDK" is written to a module importing the real SDK
 * (the README's "./src/sdk/index.js" pointed at this checkout), run under
 * Node + tsx, and must print exactly the `// →` comments of its
 * console.log lines, in order.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { newToken } from "../../src/server/credentials.js";
import { useLedgerServer } from "../support/server.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const README_SDK_IMPORT = '"./src/sdk/index.js"';
const SNIPPET_TIMEOUT_MS = 60_000;

function sdkSnippets(): string[] {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const start = readme.indexOf("\n## SDK\n");
  if (start < 0) {
    throw new Error('README.md has no "## SDK" section');
  }
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] ?? "");
}

/** The text after "// →" on each line, in order: what the snippet must print. */
function expectedOutput(snippet: string): string[] {
  return snippet
    .split("\n")
    .map((line) => /\/\/ → (.*)$/.exec(line)?.[1]?.trim())
    .filter((expected): expected is string => expected !== undefined);
}

const snippets = sdkSnippets();
// The snippets run with an admin token of each app, against a server that requires tokens;
// the expiring gift card's snippet waits for the server's expiry sweep: a short interval.
const CONTENT = newToken("content", "admin");
const LEARNING = newToken("learning", "admin");
const harness = useLedgerServer({
  EXPIRY_SWEEP_INTERVAL_MS: "200",
  LEDGER_TOKENS: `${CONTENT.line},${LEARNING.line}`,
});
const dir = mkdtempSync(join(tmpdir(), "ledger-readme-sdk-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("README SDK snippets", () => {
  it("has snippets that import the SDK and state their output", () => {
    expect(snippets.length).toBeGreaterThanOrEqual(2);
    for (const snippet of snippets) {
      expect(snippet).toContain(README_SDK_IMPORT);
      expect(expectedOutput(snippet).length).toBeGreaterThan(0);
    }
  });

  it.each(snippets.map((snippet, index) => [index + 1, snippet] as const))(
    "snippet %i runs against a real server and prints what its comments say",
    async (index, snippet) => {
      const sdk = JSON.stringify(pathToFileURL(join(root, "src", "sdk", "index.ts")).href);
      const file = join(dir, `snippet-${index}.mts`);
      writeFileSync(file, snippet.replaceAll(README_SDK_IMPORT, sdk));
      const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", file], {
        cwd: root,
        timeout: SNIPPET_TIMEOUT_MS,
        env: {
          ...process.env,
          LEDGER_URL: harness.server().url,
          CONTENT_TOKEN: CONTENT.token,
          LEARNING_TOKEN: LEARNING.token,
        },
      });
      const printed = stdout
        .trim()
        .split("\n")
        .map((line) => line.trim());
      expect(printed).toEqual(expectedOutput(snippet));
    },
    SNIPPET_TIMEOUT_MS,
  );
});
