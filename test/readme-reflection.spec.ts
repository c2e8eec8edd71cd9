/**
 * The README's reflection recipes are true: its buf curl block runs as
 * written against a real server and database and prints what each step
 * promises (services, methods, health, every ledger RPC, RecordEntries' item
 * error included), and runs just the same from an empty directory, where
 * nothing but server reflection can supply the schema.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { newToken } from "../src/server/credentials.js";
import { LEDGER_METHODS } from "./support/fixtures.js";
import { DEFAULT_URL_LINE, ROOT, readmeShBlock, runShScript } from "./support/readme.js";
import { useLedgerServer } from "./support/server.js";

const HEADING = "## Debugging with grpcurl and buf curl";
const BUF = `${ROOT}node_modules/.bin/buf`;
const SCRIPT_TIMEOUT_MS = 90_000;

function expectEveryStep(compact: string): void {
  for (const service of [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    "ledger.v1.LedgerService",
  ]) {
    expect(compact).toContain(service);
  }
  for (const method of LEDGER_METHODS) {
    expect(compact).toContain(`ledger.v1.LedgerService/${method}`);
  }
  expect(compact).toContain('{"status":"SERVING"}');
  expect(compact).toContain('"operation":"CREDIT_ADD","amount":"10","balanceAfter":"10"');
  expect(compact).toContain('"operation":"REVERSAL","amount":"-4","balanceAfter":"6"');
  expect(compact).toMatch(/"balance":"6","unit":"CREDITS","version":"2"/);
  // RecordEntries, not atomic: the reward recorded, the overspend refused as a google.rpc.Status
  // whose ErrorInfo buf curl decodes through reflection.
  expect(compact).toContain('"operation":"DAILY_REWARD","amount":"1","balanceAfter":"7"');
  expect(compact).toContain('{"error":{"code":9,');
  expect(compact).toContain(
    '"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"INSUFFICIENT_FUNDS"',
  );
  // The hold: pending with 3 held, listed, then posted for 2 (balance 7 - 2).
  expect(compact).toContain('"state":"TRANSACTION_STATE_PENDING","pendingExpiresAt"');
  expect(compact).toMatch(/"transactions":\[\{"id":"[^"]+","kind":"TRANSACTION_KIND_ENTRY"/);
  expect(compact).toContain('"operation":"CREDIT_SPEND","amount":"-2","balanceAfter":"5"');
  expect(compact).toContain('"state":"TRANSACTION_STATE_POSTED","pendingExpiresAt"');
  expect(compact).toContain('"status":"LEDGER_STATUS_TERMINATED"');
}

describe("README: Debugging with grpcurl and buf curl", () => {
  // The README's commands run with a content admin token, against a server that requires one.
  const admin = newToken("content", "admin");
  const harness = useLedgerServer({ LEDGER_TOKENS: admin.line });

  it("runs its buf curl block as written", async () => {
    const script = readmeShBlock(HEADING);
    expect(script).toContain(DEFAULT_URL_LINE);
    expect(script).not.toContain("--schema");
    const compact = await runShScript(
      script.replace(DEFAULT_URL_LINE, `LEDGER=${harness.server().url}`),
      ROOT,
      SCRIPT_TIMEOUT_MS,
      { LEDGER_TOKEN: admin.token },
    );
    expectEveryStep(compact);
  }, 120_000);

  it("runs it from an empty directory, on reflection alone", async () => {
    const empty = await mkdtemp(join(tmpdir(), "ledger-readme-reflection-"));
    try {
      const script = readmeShBlock(HEADING)
        .replace(DEFAULT_URL_LINE, `LEDGER=${harness.server().url}`)
        .replaceAll("npx buf", BUF)
        .replaceAll("user-7", "user-7-elsewhere");
      expectEveryStep(
        await runShScript(script, empty, SCRIPT_TIMEOUT_MS, { LEDGER_TOKEN: admin.token }),
      );
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  }, 120_000);
});
