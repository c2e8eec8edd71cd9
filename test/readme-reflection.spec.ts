/**
 * The README's reflection recipes are true: its buf curl block runs as
 * written against a real server and database and prints what each step
 * promises (services, methods, health, every ledger RPC), and runs just the
 * same from an empty directory, where nothing but server reflection can
 * supply the schema.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/server.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const readme = readFileSync(`${root}README.md`, "utf8");
const DEFAULT_URL_LINE = "LEDGER=http://localhost:8080";
const BUF = `${root}node_modules/.bin/buf`;

function reflectionScript(): string {
  const section = readme.slice(readme.indexOf("## Debugging with grpcurl and buf curl"));
  const match = /```sh\n([\s\S]*?)```/.exec(section);
  if (match?.[1] === undefined) {
    throw new Error("README has no sh block under '## Debugging with grpcurl and buf curl'");
  }
  return match[1];
}

async function run(script: string, cwd: string): Promise<string> {
  const { stdout } = await promisify(execFile)("bash", ["-euo", "pipefail", "-c", script], {
    cwd,
    timeout: 90_000,
  });
  return stdout.replace(/\s+/g, "");
}

function expectEveryStep(compact: string): void {
  for (const service of [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    "ledger.v1.LedgerService",
  ]) {
    expect(compact).toContain(service);
  }
  for (const method of [
    "CreateLedger",
    "GetLedger",
    "ListLedgers",
    "RecordEntry",
    "ReverseTransaction",
    "GetBalance",
    "ListEntries",
    "TerminateLedger",
  ]) {
    expect(compact).toContain(`ledger.v1.LedgerService/${method}`);
  }
  expect(compact).toContain('{"status":"SERVING"}');
  expect(compact).toContain('"operation":"CREDIT_ADD","amount":"10","balanceAfter":"10"');
  expect(compact).toContain('"operation":"REVERSAL","amount":"-4","balanceAfter":"6"');
  expect(compact).toMatch(/"balance":"6","unit":"CREDITS","version":"2"/);
  expect(compact).toContain('"status":"LEDGER_STATUS_TERMINATED"');
}

describe("README: Debugging with grpcurl and buf curl", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it("runs its buf curl block as written", async () => {
    const script = reflectionScript();
    expect(script).toContain(DEFAULT_URL_LINE);
    expect(script).not.toContain("--schema");
    const compact = await run(script.replace(DEFAULT_URL_LINE, `LEDGER=${server.url}`), root);
    expectEveryStep(compact);
  }, 120_000);

  it("runs it from an empty directory, on reflection alone", async () => {
    const empty = await mkdtemp(join(tmpdir(), "ledger-readme-reflection-"));
    try {
      const script = reflectionScript()
        .replace(DEFAULT_URL_LINE, `LEDGER=${server.url}`)
        .replaceAll("npx buf", BUF)
        .replaceAll("user-7", "user-7-elsewhere");
      expectEveryStep(await run(script, empty));
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  }, 120_000);
});
