/**
 * Runs `buf curl` (the npm buf binary) from an empty temporary directory, so
 * no .proto file or buf.yaml is within reach: whatever it knows of the
 * schema, it learnt from the server.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const BUF = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));
const BUF_CURL_TIMEOUT_MS = 30_000;

export interface BufCurlResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function bufCurl(args: readonly string[]): Promise<BufCurlResult> {
  const cwd = await mkdtemp(join(tmpdir(), "ledger-buf-curl-"));
  try {
    const { stdout, stderr } = await promisify(execFile)(BUF, ["curl", ...args], {
      cwd,
      timeout: BUF_CURL_TIMEOUT_MS,
    });
    return { exitCode: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== "number") {
      throw error;
    }
    return { exitCode: failed.code, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
}
