/**
 * The hold sweep across replicas: two service processes (src/server/main.ts,
 * as `npm start` runs it) on one database sweep every 100 ms. Holds made
 * through one of them and left to pass their deadline are marked EXPIRED,
 * each by exactly one sweep of one process: the "holds expired" counts the
 * two processes log add up to the holds made, and the audit finds the
 * pending totals back at zero.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, expect, it } from "vitest";
import { TransactionState } from "../../gen/ledger/v1/ledger_pb.js";
import { verifyInvariants } from "../../src/store/index.js";
import { type ServiceProcess, startService } from "../faults/support/service-process.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { declaredApp, uniqueKey, uniqueOwner } from "../support/fixtures.js";
import { freePort } from "../support/ports.js";
import { connectClient, type LedgerClient } from "./harness.js";

const HOLDS = 30;
const SWEEP_ENV = { HOLD_SWEEP_INTERVAL_MS: "100", LOG_LEVEL: "info" };

let database: TestDatabase;
const services: ServiceProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  for (let i = 0; i < 2; i += 1) {
    services.push(
      await startService({ databaseUrl: database.url, port: await freePort(), env: SWEEP_ENV }),
    );
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(services.map((service) => service.stop()));
  await database?.drop();
});

function expiredBy(service: ServiceProcess): number {
  return service
    .events()
    .map((line) => JSON.parse(line) as { msg?: string; expired?: number })
    .filter((event) => event.msg === "holds expired")
    .reduce((sum, event) => sum + (event.expired ?? 0), 0);
}

async function makeHolds(client: LedgerClient, expiresAt: Date): Promise<string[]> {
  const app = declaredApp();
  const ids: string[] = [];
  for (let l = 0; l < 3; l += 1) {
    const { ledger } = await client.createLedger({
      app,
      ownerId: uniqueOwner(`owner-${l}`),
      unit: "CREDITS",
      idempotencyKey: uniqueKey(),
    });
    const ledgerId = ledger?.id ?? "";
    await client.recordEntry({
      ledgerId,
      operation: "CREDIT_ADD",
      amount: 100n,
      idempotencyKey: uniqueKey(),
    });
    for (let h = l; h < HOLDS; h += 3) {
      const { pendingTransaction } = await client.recordEntry({
        ledgerId,
        operation: "CREDIT_SPEND",
        amount: -2n,
        idempotencyKey: uniqueKey(),
        pending: true,
        pendingExpiresAt: timestampFromDate(expiresAt),
      });
      ids.push(pendingTransaction?.id ?? "");
    }
  }
  return ids;
}

it("expires each hold once, whichever replica's sweep gets to it", async () => {
  const [first, second] = services;
  if (first === undefined || second === undefined) throw new Error("services not started");
  const client = connectClient(`http://127.0.0.1:${first.port}`, "1.1");
  const ids = await makeHolds(client, new Date(Date.now() + 2000));
  const deadline = Date.now() + 20_000;
  while (expiredBy(first) + expiredBy(second) < HOLDS && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // A few more sweeps of each: nothing is expired twice.
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(expiredBy(first) + expiredBy(second)).toBe(HOLDS);
  const reader = connectClient(`http://127.0.0.1:${second.port}`, "1.1");
  for (const transactionId of ids) {
    const { transaction } = await reader.getTransaction({ transactionId });
    expect(transaction?.state).toBe(TransactionState.EXPIRED);
    expect(transaction?.history.map((event) => event.state)).toEqual([
      TransactionState.PENDING,
      TransactionState.EXPIRED,
    ]);
  }
  expect(await verifyInvariants(database.url)).toEqual([]);
}, 60_000);
