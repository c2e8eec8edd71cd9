/**
 * The unit of work's snapshot read (GetTransaction's): every statement of it
 * sees the database as its first one did, while a plain read sees writes
 * committed between its statements.
 */
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveStoreConfig } from "../../src/store/config.js";
import { LedgerEntity } from "../../src/store/entities/index.js";
import { initOrm } from "../../src/store/orm.js";
import { createUnitOfWork, type UnitOfWork } from "../../src/store/unit-of-work.js";
import { openLedger, uniqueApp, useStore } from "./store-fixtures.js";

const harness = useStore();
let orm: MikroORM;
let unit: UnitOfWork;

beforeAll(async () => {
  orm = await initOrm(harness.databaseUrl(), { poolSizeMax: 2, connectTimeoutMs: 2000 });
  unit = createUnitOfWork(orm, resolveStoreConfig({ databaseUrl: harness.databaseUrl() }));
});
afterAll(async () => {
  await orm?.close(true);
});

/** How many ledgers `app` has before and after another connection opens one. */
async function countAround(em: EntityManager, app: string): Promise<[number, number]> {
  const before = await em.count(LedgerEntity, { app });
  await openLedger(harness.store(), 0n, { app });
  return [before, await em.count(LedgerEntity, { app })];
}

describe("the unit of work", () => {
  it("reads in one snapshot: a write committed meanwhile is not seen", async () => {
    const app = uniqueApp();
    expect(await unit.snapshot(undefined, (em) => countAround(em, app))).toEqual([0, 0]);
  });

  it("reads without one otherwise: the write committed meanwhile is seen", async () => {
    const app = uniqueApp();
    expect(await unit.read(undefined, (em) => countAround(em, app))).toEqual([0, 1]);
  });
});
