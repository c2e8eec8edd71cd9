import type { EntityManager } from "@mikro-orm/postgresql";
import { BACKDATE_ENTRIES_MAX, type HistoryTail } from "../../domain/index.js";
import { sqlRows } from "../pipeline/sql.js";

/**
 * A ledger's history is ordered by (created_at, sequence): the index
 * entries_ledger_id_created_at_sequence_idx serves every query here.
 */

interface StepRow {
  readonly id: string;
  readonly created_at: Date;
  readonly sequence: string;
  readonly balance_after: string;
}

/** The last entry created at or before `at` in history order: its balance and sequence. */
export async function balanceAt(
  em: EntityManager,
  ledgerId: string,
  at: Date,
  signal: AbortSignal | undefined,
): Promise<{ readonly balanceMinor: bigint; readonly sequence: bigint } | undefined> {
  const [row] = await sqlRows<StepRow>(
    em,
    `select id, created_at, sequence::text as sequence, balance_after::text as balance_after
       from entries where ledger_id = $1 and created_at <= $2
      order by entries.created_at desc, entries.sequence desc limit 1`,
    [ledgerId, at],
    signal,
  );
  return row === undefined
    ? undefined
    : { balanceMinor: BigInt(row.balance_after), sequence: BigInt(row.sequence) };
}

/**
 * What a backdate to `since` or later can reach on each locked ledger, in
 * one statement: the entries created after `since`, only the newest
 * BACKDATE_ENTRIES_MAX + 1 (more is refused anyway), oldest first; and the
 * balance at `since` (the `base` row).
 */
export async function readHistoryTails(
  em: EntityManager,
  since: ReadonlyMap<string, Date>,
  signal: AbortSignal | undefined,
): Promise<Map<string, HistoryTail>> {
  const tails = new Map<string, HistoryTail>();
  if (since.size === 0) {
    return tails;
  }
  const rows = await sqlRows<StepRow & { readonly ledger_id: string; readonly base: boolean }>(
    em,
    `with s (ledger_id, since) as (select * from unnest($1::uuid[], $2::timestamptz[]))
     select s.ledger_id, false as base, t.id, t.created_at, t.sequence::text as sequence,
            t.balance_after::text as balance_after
       from s cross join lateral (
         select id, created_at, sequence, balance_after from entries
          where ledger_id = s.ledger_id and created_at > s.since
          order by created_at desc, sequence desc limit $3) t
     union all
     select s.ledger_id, true, b.id, b.created_at, b.sequence::text, b.balance_after::text
       from s cross join lateral (
         select id, created_at, sequence, balance_after from entries
          where ledger_id = s.ledger_id and created_at <= s.since
          order by created_at desc, sequence desc limit 1) b`,
    [[...since.keys()], [...since.values()], BACKDATE_ENTRIES_MAX + 1],
    signal,
  );
  const byLedger = new Map<string, typeof rows>();
  for (const row of rows) {
    const mine = byLedger.get(row.ledger_id);
    if (mine === undefined) byLedger.set(row.ledger_id, [row]);
    else mine.push(row);
  }
  for (const [ledgerId, at] of since) {
    const mine = byLedger.get(ledgerId) ?? [];
    const steps = mine.filter((row) => !row.base);
    const base = mine.find((row) => row.base);
    tails.set(ledgerId, {
      since: at,
      truncated: steps.length > BACKDATE_ENTRIES_MAX,
      baseBalanceMinor: base === undefined ? 0n : BigInt(base.balance_after),
      // Oldest first in history order; a union's rows come in no promised order.
      steps: steps
        .map((row) => ({
          entryId: row.id,
          createdAt: new Date(row.created_at),
          sequence: BigInt(row.sequence),
          balanceAfterMinor: BigInt(row.balance_after),
        }))
        .sort(
          (a, b) =>
            a.createdAt.getTime() - b.createdAt.getTime() ||
            (a.sequence < b.sequence ? -1 : a.sequence > b.sequence ? 1 : 0),
        ),
    });
  }
  return tails;
}

/** What the holds open at `at` reserved on a ledger and would have credited. */
export async function pendingAt(
  em: EntityManager,
  ledgerId: string,
  at: Date,
  signal: AbortSignal | undefined,
): Promise<{ readonly debitsMinor: bigint; readonly creditsMinor: bigint }> {
  const [row] = await sqlRows<{ debits: string; credits: string }>(
    em,
    `select coalesce(sum(-p.amount) filter (where p.amount < 0), 0)::text as debits,
            coalesce(sum(p.amount) filter (where p.amount > 0), 0)::text as credits
       from pending_entries p join transactions t on t.id = p.transaction_id
      where p.ledger_id = $1 and t.created_at <= $2 and p.expires_at > $2
        and (t.resolved_at is null or t.resolved_at > $2)`,
    [ledgerId, at],
    signal,
  );
  return { debitsMinor: BigInt(row?.debits ?? "0"), creditsMinor: BigInt(row?.credits ?? "0") };
}
