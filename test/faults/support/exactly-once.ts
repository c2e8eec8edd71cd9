/**
 * What the fault specs conclude from, read straight from the database: the
 * stored entries of the scenario's ledgers are exactly the acknowledged ones
 * (none lost, none twice), each of those ledgers' balance is what the
 * acknowledged writes add up to, and `npm run verify` finds no breach
 * anywhere.
 */
import pg from "pg";
import { expect } from "vitest";
import { runVerifyCli } from "../../support/store-cli.js";
import type { Ack } from "./write-load.js";

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
    const acknowledged = new Set(acks.map((a) => a.entryId));
    expect(acknowledged.size, "each logical write has an entry of its own").toBe(acks.length);
    const missing = acks.filter((a) => !stored.has(a.entryId)).map((a) => a.write.key);
    expect(missing, "acknowledged writes missing from the database").toEqual([]);
    const extra = entries.rows.filter((row) => !acknowledged.has(row.id)).map((row) => row.id);
    expect(extra, "entries no logical write accounts for (applied twice?)").toEqual([]);

    const expected = new Map<string, bigint>();
    for (const a of acks) {
      const signed = a.write.kind === "record" ? a.write.amount : -a.write.amount;
      expected.set(a.write.ledgerId, (expected.get(a.write.ledgerId) ?? 0n) + signed);
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
