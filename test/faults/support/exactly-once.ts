/**
 * What the fault specs conclude from, read straight from the database: the
 * stored entries of the scenario's ledgers are exactly the acknowledged ones
 * (none lost, none twice, no transfer with one leg only), each of those
 * ledgers' balance is what the acknowledged writes add up to, and `npm run verify` finds no breach
 * anywhere.
 */
import pg from "pg";
import { expect } from "vitest";
import { runVerifyCli } from "../../support/store-cli.js";
import { type Ack, legsOf } from "./write-load.js";

export async function expectExactlyTheAcknowledgedWrites(
  databaseUrl: string,
  ledgerIds: readonly string[],
  acks: readonly Ack[],
): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const entries = await client.query<{ id: string; ledger_id: string; amount: string }>(
      "select id, ledger_id, amount::text from entries where ledger_id = any($1::uuid[])",
      [ledgerIds],
    );
    const stored = new Map(entries.rows.map((row) => [row.id, row]));
    const acknowledged = new Set(acks.flatMap((a) => a.entryIds));
    const legs = acks.reduce((sum, a) => sum + legsOf(a.write).length, 0);
    expect(acknowledged.size, "each leg of each logical write has an entry of its own").toBe(legs);
    const missing = acks
      .filter((a) => a.entryIds.some((id) => !stored.has(id)))
      .map((a) => a.write.key);
    expect(missing, "acknowledged writes missing from the database, wholly or a leg").toEqual([]);
    const extra = entries.rows.filter((row) => !acknowledged.has(row.id)).map((row) => row.id);
    expect(extra, "entries no logical write accounts for (applied twice?)").toEqual([]);

    const expected = new Map<string, bigint>();
    for (const [ledgerId, signed] of acks.flatMap((a) => legsOf(a.write))) {
      expected.set(ledgerId, (expected.get(ledgerId) ?? 0n) + signed);
    }
    const ledgers = await client.query<{ id: string; balance: string }>(
      "select id, balance::text from ledgers where id = any($1::uuid[])",
      [ledgerIds],
    );
    const balances = Object.fromEntries(ledgers.rows.map((row) => [row.id, BigInt(row.balance)]));
    const wanted = Object.fromEntries(
      ledgers.rows.map((row) => [row.id, expected.get(row.id) ?? 0n]),
    );
    expect(balances).toEqual(wanted);
  } finally {
    await client.end();
  }
  const verify = await runVerifyCli(databaseUrl);
  expect(verify, "npm run verify").toEqual({ code: 0, stdout: "every invariant holds\n" });
}
