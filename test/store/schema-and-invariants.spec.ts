/**
 * The committed schema and the invariant audit: migrating twice changes
 * nothing, the schema itself refuses rows that break the ledger's rules, and
 * verifyInvariants finds stored facts that contradict them.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate, verifyInvariants } from "../../src/store/index.js";
import { MIGRATIONS } from "../../src/store/migrations/index.js";
import {
  entryInput,
  openLedger,
  reversalInput,
  transferInput,
  useStore,
} from "./store-fixtures.js";

const harness = useStore();
let sql: pg.Client;

beforeAll(async () => {
  sql = new pg.Client({ connectionString: harness.databaseUrl() });
  await sql.connect();
});
afterAll(async () => {
  await sql?.end();
});

async function sqlState(statement: string, params: unknown[] = []): Promise<string | undefined> {
  try {
    await sql.query(statement, params);
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

describe("migrations", () => {
  it("are idempotent: a second run applies nothing and keeps the data", async () => {
    const ledger = await openLedger(harness.store(), 3n);
    await migrate(harness.databaseUrl());
    const { rows } = await sql.query("select name from mikro_orm_migrations");
    expect(rows.map((row) => row.name)).toEqual(MIGRATIONS.map((migration) => migration.name));
    expect((await harness.store().getLedger(ledger.id)).balanceMinor).toBe(3n);
  });

  it("create a schema that refuses a second active ledger, duplicate sequences and over-reversal", async () => {
    const ledger = await openLedger(harness.store(), 3n);
    const { rows } = await sql.query("select * from entries where ledger_id = $1", [ledger.id]);
    const entry = rows[0];
    expect(
      await sqlState(
        `insert into ledgers (id, app, owner_id, unit, status, created_at)
         values (gen_random_uuid(), $1, $2, $3, 'ACTIVE', now())`,
        [ledger.app, ledger.ownerId, ledger.unit],
      ),
    ).toBe("23505");
    expect(
      await sqlState(
        `insert into entries (id, transaction_id, ledger_id, sequence, operation, amount,
                              balance_after, occurred_at, created_at)
         values (gen_random_uuid(), $1, $2, 1, 'CREDIT_ADD', 1, 4, now(), now())`,
        [entry.transaction_id, ledger.id],
      ),
    ).toBe("23505");
    expect(
      await sqlState("update transactions set reversed_amount = amount + 1 where id = $1", [
        entry.transaction_id,
      ]),
    ).toBe("23514");
    expect(
      await sqlState("update ledgers set status = 'TERMINATED' where id = $1", [ledger.id]),
    ).toBe("23514");
    expect(await sqlState("update ledgers set min_balance = 1 where id = $1", [ledger.id])).toBe(
      "23514",
    );
  });
});

describe("verifyInvariants", () => {
  it("finds nothing wrong in what the store wrote, by store and by URL", async () => {
    const ledger = await openLedger(harness.store(), 10n);
    const { value } = await harness.store().recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -4n));
    await harness.store().reverseTransaction(reversalInput(value.transactionId, 1n));
    expect(await verifyInvariants(harness.store())).toEqual([]);
    expect(await verifyInvariants(harness.databaseUrl())).toEqual([]);
  });

  it("reports a balance, a chain, a sequence and a reversal total that were tampered with", async () => {
    const ledger = await openLedger(harness.store(), 10n);
    const { value: spend } = await harness
      .store()
      .recordEntry(entryInput(ledger.id, "CREDIT_SPEND", -4n));
    const { value: reversal } = await harness
      .store()
      .reverseTransaction(reversalInput(spend.transactionId, 2n));
    await sql.query("update ledgers set balance = balance + 1 where id = $1", [ledger.id]);
    await sql.query(
      "update entries set balance_after = balance_after + 5, sequence = 7 where id = $1",
      [spend.id],
    );
    await sql.query("update transactions set reversed_amount = 1 where id = $1", [
      spend.transactionId,
    ]);

    const breaches = await verifyInvariants(harness.databaseUrl());
    const found = breaches.map((breach) => `${breach.check} ${breach.subjectId}`);
    expect(found).toEqual(
      expect.arrayContaining([
        `BALANCE_IS_SUM_OF_ENTRIES ${ledger.id}`,
        `SEQUENCES_GAPLESS ${ledger.id}`,
        `BALANCE_AFTER_CHAINS ${ledger.id}`,
        `REVERSED_IS_SUM_OF_REVERSALS ${spend.transactionId}`,
      ]),
    );
    expect(reversal.reversesTransactionId).toBe(spend.transactionId);

    // Put it back, so the rest of the file sees a sound database.
    await sql.query("update ledgers set balance = balance - 1 where id = $1", [ledger.id]);
    await sql.query(
      "update entries set balance_after = balance_after - 5, sequence = 2 where id = $1",
      [spend.id],
    );
    await sql.query("update transactions set reversed_amount = 2 where id = $1", [
      spend.transactionId,
    ]);
    expect(await verifyInvariants(harness.store())).toEqual([]);
  });

  it("reports a transfer leg, a reversal link and money that were tampered with", async () => {
    const from = await openLedger(harness.store(), 10n);
    const to = await openLedger(harness.store(), 0n, { app: from.app });
    const { value: moved } = await harness.store().transfer(transferInput(from.id, to.id, 4n));
    const { value: reversal } = await harness
      .store()
      .reverseTransaction(reversalInput(moved.id, 1n));
    const credit = moved.entries[1]?.id;
    const tamper = async (sign: 1 | -1) => {
      await sql.query("update entries set amount = amount + $2 where id = $1", [credit, sign]);
      await sql.query(
        "update entries set balance_after = balance_after + $2 where ledger_id = $1",
        [to.id, sign],
      );
      await sql.query("update ledgers set balance = balance + $2 where id = $1", [to.id, sign]);
      await sql.query(
        `update entries set reverses_transaction_id = ${sign === 1 ? "null" : "$2"} where id = $1`,
        sign === 1 ? [reversal.entries[0]?.id] : [reversal.entries[0]?.id, moved.id],
      );
    };
    await tamper(1);
    const found = (await verifyInvariants(harness.databaseUrl())).map(
      (breach) => `${breach.check} ${breach.subjectId}`,
    );
    expect(found).toEqual(
      expect.arrayContaining([
        `TRANSFER_SUMS_TO_ZERO ${moved.id}`,
        `MONEY_CONSERVED ${from.app}/CREDITS`,
        `ENTRY_REVERSES_AS_TRANSACTION ${reversal.entries[0]?.id}`,
      ]),
    );
    expect(found.filter((breach) => breach.startsWith("BALANCE_"))).toEqual([]);
    await tamper(-1);
    expect(await verifyInvariants(harness.store())).toEqual([]);
  });

  it("reports pending totals, hold legs and a floor that were tampered with", async () => {
    const ledger = await openLedger(harness.store(), 10n);
    const { value: hold } = await harness
      .store()
      .holdEntry(entryInput(ledger.id, "CREDIT_SPEND", -6n, { hold: { expiresAt: undefined } }));
    const check = async () =>
      (await verifyInvariants(harness.databaseUrl())).map(
        (breach) => `${breach.check} ${breach.subjectId}`,
      );
    await sql.query("update ledgers set pending_debits = 5 where id = $1", [ledger.id]);
    expect(await check()).toEqual([`PENDING_IS_SUM_OF_OPEN_HOLDS ${ledger.id}`]);
    await sql.query("update ledgers set pending_debits = 6 where id = $1", [ledger.id]);
    await sql.query("update pending_entries set open = false where transaction_id = $1", [hold.id]);
    expect(await check()).toEqual(
      expect.arrayContaining([
        `HOLD_LEGS_MATCH_STATE ${hold.id}`,
        `PENDING_IS_SUM_OF_OPEN_HOLDS ${ledger.id}`,
      ]),
    );
    await sql.query("update pending_entries set open = true where transaction_id = $1", [hold.id]);
    // The balance spent behind the hold's back: available 3 - 6 is below the floor of 0.
    await sql.query("update ledgers set balance = 3 where id = $1", [ledger.id]);
    await sql.query("update entries set amount = 3, balance_after = 3 where ledger_id = $1", [
      ledger.id,
    ]);
    await sql.query(
      "update transactions set amount = 3 where id = (select transaction_id from entries where ledger_id = $1)",
      [ledger.id],
    );
    expect(await check()).toEqual(expect.arrayContaining([`AVAILABLE_WITHIN_FLOOR ${ledger.id}`]));
    await sql.query("update ledgers set balance = 10 where id = $1", [ledger.id]);
    await sql.query("update entries set amount = 10, balance_after = 10 where ledger_id = $1", [
      ledger.id,
    ]);
    await sql.query(
      "update transactions set amount = 10 where id = (select transaction_id from entries where ledger_id = $1)",
      [ledger.id],
    );
    expect(await verifyInvariants(harness.store())).toEqual([]);
  });

  it("chains balances in history order and reports a history instant and a window that were tampered with", async () => {
    const sink = await openLedger(harness.store(), 0n, { unbounded: true });
    const ledger = await openLedger(harness.store(), 0n, {
      app: sink.app,
      validUntil: new Date(Date.now() + 3_600_000),
      expireToLedgerId: sink.id,
    });
    const hourAgo = new Date(Date.now() - 3_600_000);
    await harness.store().recordEntry(entryInput(ledger.id, "CREDIT_ADD", 5n));
    await harness
      .store()
      .recordEntry(entryInput(ledger.id, "CREDIT_ADD", 2n, { createdAt: hourAgo }));
    expect(await verifyInvariants(harness.store())).toEqual([]);
    const check = async () =>
      (await verifyInvariants(harness.databaseUrl())).map(
        (breach) => `${breach.check} ${breach.subjectId}`,
      );
    // In sequence order the chain would break (5, then 2 with balance 2): history order holds.
    await sql.query(
      "update ledgers set history_at = history_at - interval '1 second' where id = $1",
      [ledger.id],
    );
    expect(await check()).toEqual([`HISTORY_AT_IS_LATEST ${ledger.id}`]);
    await sql.query(
      "update ledgers set history_at = history_at + interval '1 second' where id = $1",
      [ledger.id],
    );
    await sql.query("update ledgers set valid_from = now() where id = $1", [ledger.id]);
    // Both entries were created before the window now opens.
    expect(await check()).toEqual([
      `ENTRIES_WITHIN_WINDOW ${ledger.id}`,
      `ENTRIES_WITHIN_WINDOW ${ledger.id}`,
    ]);
    await sql.query("update ledgers set valid_from = null where id = $1", [ledger.id]);
    await sql.query(
      "update entries set balance_after = balance_after + 1 where ledger_id = $1 and sequence = 2",
      [ledger.id],
    );
    expect(await check()).toEqual(expect.arrayContaining([`BALANCE_AFTER_CHAINS ${ledger.id}`]));
    await sql.query(
      "update entries set balance_after = balance_after - 1 where ledger_id = $1 and sequence = 2",
      [ledger.id],
    );
    expect(await verifyInvariants(harness.store())).toEqual([]);
  });

  it("reports a ledger whose stream positions were tampered out of its sequence order", async () => {
    const ledger = await openLedger(harness.store(), 0n);
    for (const amountMinor of [1n, 2n]) {
      await harness.store().recordEntry(entryInput(ledger.id, "CREDIT_ADD", amountMinor));
    }
    expect(await verifyInvariants(harness.store())).toEqual([]);
    // The second entry moved before the first in the stream: a watcher would see 2, then 1.
    await sql.query(
      `update entries set stream_position = (select min(stream_position) - 1 from entries)
        where ledger_id = $1 and sequence = 2`,
      [ledger.id],
    );
    const breaches = await verifyInvariants(harness.databaseUrl());
    expect(breaches.map((b) => `${b.check} ${b.subjectId}`)).toEqual([
      `STREAM_FOLLOWS_SEQUENCE ${ledger.id}`,
    ]);
    await sql.query(
      `update entries set stream_position = nextval('ledger_stream_seq')
        where ledger_id = $1 and sequence = 2`,
      [ledger.id],
    );
    expect(await verifyInvariants(harness.store())).toEqual([]);
  });

  it("refuses something that is neither a URL nor a store from openStore()", async () => {
    const notOurs = { ...harness.store(), verifyInvariants: undefined };
    await expect(
      verifyInvariants(notOurs as unknown as Parameters<typeof verifyInvariants>[0]),
    ).rejects.toThrow(TypeError);
  });
});
