/**
 * `npm run verify` audits a whole database: it exits 0 saying every
 * invariant holds on a consistent ledger history, exits 1 naming each breach
 * (a balance that is not the sum of its entries, a sequence gap, a broken
 * balance_after chain, a reversed amount the reversals do not add up to) once rows are
 * corrupted behind the service's back, and exits 2 when it cannot reach the
 * database at all.
 */
import pg from "pg";
import { describe, expect, it } from "vitest";
import { unreachableDatabaseUrl } from "../support/ports.js";
import { useLedgerServer } from "../support/server.js";
import { openLedger, post } from "../support/steps.js";
import { runVerifyCli } from "../support/store-cli.js";

const harness = useLedgerServer();

describe("npm run verify", () => {
  it("passes a consistent database, then names every breach once rows are corrupted", async () => {
    const api = harness.client("connect");
    const ledgers = [];
    for (let i = 0; i < 4; i += 1) {
      const ledger = await openLedger(api);
      const first = await post(api, ledger.id, "CREDIT_ADD", 10n);
      await post(api, ledger.id, "CREDIT_ADD", 5n);
      await post(api, ledger.id, "CREDIT_SPEND", -3n);
      await api.reverseTransaction({
        transactionId: first.transactionId,
        idempotencyKey: `reverse-${ledger.id}`,
        amount: 4n,
      });
      ledgers.push({ id: ledger.id, firstTransactionId: first.transactionId });
    }
    const databaseUrl = harness.server().databaseUrl;
    expect(await runVerifyCli(databaseUrl)).toEqual({
      code: 0,
      stdout: "every invariant holds\n",
    });

    const [balance, gap, chain, reversal] = ledgers;
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      await db.query("update ledgers set balance = balance + 1 where id = $1", [balance?.id]);
      await db.query("delete from entries where ledger_id = $1 and sequence = 2", [gap?.id]);
      await db.query(
        "update entries set balance_after = balance_after + 100 where ledger_id = $1 and sequence = 2",
        [chain?.id],
      );
      await db.query("update transactions set reversed_amount = 2 where id = $1", [
        reversal?.firstTransactionId,
      ]);
    } finally {
      await db.end();
    }

    const audit = await runVerifyCli(databaseUrl);
    expect(audit.code).toBe(1);
    expect(audit.stdout).toContain(
      `BALANCE_IS_SUM_OF_ENTRIES ${balance?.id}: balance 9 but entries sum to 8`,
    );
    expect(audit.stdout).toContain(`SEQUENCES_GAPLESS ${gap?.id}`);
    expect(audit.stdout).toContain(`BALANCE_AFTER_CHAINS ${chain?.id}`);
    expect(audit.stdout).toContain(
      `REVERSED_IS_SUM_OF_REVERSALS ${reversal?.firstTransactionId}: reversed_amount 2 but reversals sum to 4`,
    );
    expect(audit.stdout).toMatch(/\d+ invariant breach\(es\) found\n$/);
  });

  it("exits 2 when the database cannot be reached", async () => {
    const audit = await runVerifyCli(await unreachableDatabaseUrl("postgres"));
    expect(audit).toEqual({ code: 2, stdout: "" });
  });
});
