/**
 * `npm run expire` (src/store/expire-cli.ts), the cron job of a deployment
 * whose servers do not sweep (EXPIRY_SWEEP_INTERVAL_MS=0, as here): one
 * sweep closes every ledger past its valid_until (open holds voided, the
 * positive remainder moved to its expire-to ledger, or left on it when that
 * one was closed since; a negative one stays), prints one line per ledger and the count, and exits
 * 0; run again it finds nothing; it exits 2 when the database cannot be
 * reached.
 */
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { verifyInvariants } from "../../src/store/index.js";
import { declaredApp, uniqueKey } from "../support/fixtures.js";
import { unreachableDatabaseUrl } from "../support/ports.js";
import { useLedgerServer } from "../support/server.js";
import { openLedger, post } from "../support/steps.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

const harness = useLedgerServer({ EXPIRY_SWEEP_INTERVAL_MS: "0" });

/** `npm run expire` on `databaseUrl`: its exit code and stdout. */
async function runExpireCli(databaseUrl: string): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(`${ROOT}node_modules/.bin/tsx`, ["src/store/expire-cli.ts"], {
    cwd: ROOT,
    env: {
      PATH: `${ROOT}node_modules/.bin:${process.env.PATH ?? ""}`,
      DATABASE_URL: databaseUrl,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  child.stderr?.resume();
  // "close", not "exit": once stdout is read to its end.
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  return { code, stdout };
}

describe("npm run expire", () => {
  it("closes each due ledger, prints it and exits 0; a second run finds nothing", async () => {
    const api = harness.client("connect");
    const app = declaredApp();
    const expired = await openLedger(api, { app, unbounded: true });
    const closedTarget = await openLedger(api, { app, unbounded: true });
    const at = Date.now() + 2_000;
    const card = await openLedger(api, {
      app,
      validUntil: new Date(at),
      expireToLedgerId: expired.id,
    });
    await post(api, card.id, "CREDIT_ADD", 7n);
    const { value: hold } = await api.recordEntry({
      ledgerId: card.id,
      operation: "CREDIT_SPEND",
      amount: -2n,
      idempotencyKey: uniqueKey("hold"),
      pending: true,
    });
    const stranded = await openLedger(api, {
      app,
      validUntil: new Date(at + 100),
      expireToLedgerId: closedTarget.id,
    });
    await post(api, stranded.id, "CREDIT_ADD", 5n);
    await api.terminateLedger(closedTarget.id);
    const empty = await openLedger(api, {
      app,
      validUntil: new Date(at + 200),
      expireToLedgerId: expired.id,
    });
    const owing = await openLedger(api, {
      app,
      minBalance: -10n,
      validUntil: new Date(at + 300),
      expireToLedgerId: expired.id,
    });
    await post(api, owing.id, "CREDIT_SPEND", -4n);
    const later = await openLedger(api, {
      app,
      validUntil: new Date(Date.now() + 3_600_000),
      expireToLedgerId: expired.id,
    });
    await post(api, later.id, "CREDIT_ADD", 3n);
    expect(Date.now(), "set up before the first card expires").toBeLessThan(at);
    await sleep(at + 300 - Date.now() + 50);

    const databaseUrl = harness.server().databaseUrl;
    // The soonest due first.
    expect(await runExpireCli(databaseUrl)).toEqual({
      code: 0,
      stdout:
        `${card.id} ${app} CREDITS: expired, moved 7 to ${expired.id}, 0 left\n` +
        `${stranded.id} ${app} CREDITS: expired, nothing moved to ${closedTarget.id}, 5 left\n` +
        `${empty.id} ${app} CREDITS: expired, nothing moved to ${expired.id}, 0 left\n` +
        `${owing.id} ${app} CREDITS: expired, nothing moved to ${expired.id}, -4 left\n` +
        "4 ledger(s) expired\n",
    });
    expect(await api.getLedger(card.id)).toMatchObject({
      status: "TERMINATED",
      balance: 0n,
      pendingDebits: 0n,
    });
    expect((await api.getTransaction({ transactionId: hold.id })).state).toBe("VOIDED");
    const [sweep] = (await api.listEntries({ ledgerId: expired.id })).items;
    expect(sweep).toMatchObject({ operation: "EXPIRY", amount: 7n, balanceAfter: 7n });
    expect(await api.getLedger(stranded.id)).toMatchObject({ status: "TERMINATED", balance: 5n });
    expect(await api.getLedger(empty.id)).toMatchObject({ status: "TERMINATED", version: 0n });
    expect(await api.getLedger(owing.id)).toMatchObject({ status: "TERMINATED", balance: -4n });
    expect(await api.getLedger(later.id)).toMatchObject({ status: "ACTIVE", balance: 3n });

    expect(await runExpireCli(databaseUrl)).toEqual({ code: 0, stdout: "0 ledger(s) expired\n" });
    expect(await api.getLedger(expired.id)).toMatchObject({ balance: 7n, version: 1n });
    expect(await verifyInvariants(databaseUrl)).toEqual([]);
  }, 60_000);

  it("exits 2 when the database cannot be reached", async () => {
    const run = await runExpireCli(await unreachableDatabaseUrl("postgres"));
    expect(run).toEqual({ code: 2, stdout: "" });
  }, 60_000);
});
