/**
 * The README as its specs read it: the text, the first sh block under a
 * heading, and such a block run by bash as a reader would paste it.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/** The repository root, ending in a slash. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const README = readFileSync(`${ROOT}README.md`, "utf8");
/** How the README's sh blocks name the server; specs swap in a test server's URL. */
export const DEFAULT_URL_LINE = "LEDGER=http://localhost:8080";

/** The first ```sh block after `heading`, e.g. "## Try it". */
export function readmeShBlock(heading: string): string {
  const section = README.slice(README.indexOf(heading));
  const match = /```sh\n([\s\S]*?)```/.exec(section);
  if (match?.[1] === undefined) {
    throw new Error(`README has no sh block under '${heading}'`);
  }
  return match[1];
}

/** Runs `script` under `bash -euo pipefail` in `cwd`: its stdout with all whitespace removed. */
export async function runShScript(
  script: string,
  cwd: string,
  timeoutMs: number,
  env: Record<string, string> = {},
): Promise<string> {
  const { stdout } = await promisify(execFile)("bash", ["-euo", "pipefail", "-c", script], {
    cwd,
    timeout: timeoutMs,
    env: { ...process.env, ...env },
  });
  return stdout.replace(/\s+/g, "");
}
