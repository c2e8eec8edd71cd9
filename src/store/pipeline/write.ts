import type { EntityManager } from "@mikro-orm/postgresql";
import { invariant } from "../../domain/index.js";
import { isUniqueViolation, RetryableConflict } from "../db-errors.js";
import { sqlRows } from "./sql.js";
import type { BatchWrites } from "./state.js";

/**
 * The batch's postings, holds, changed transactions (reversed, posted,
 * voided, expired), idempotency claims and ledger balances in one statement; every row set is a parameter array expanded by
 * unnest, so the text is the same for a batch of one or of a thousand. The
 * ledgers are locked, so their version in the WHERE clause is an assertion.
 * The updates also match their ids with `= any(...)`: the planner cannot
 * size an unnest, and without it joins it by scanning the whole table.
 * Entries and hold steps draw their stream positions (ledger_stream_seq) here,
 * after the batch locked its ledgers: the transaction holds an id by then,
 * which queries/stream.ts relies on to tell when a position is final; and
 * entries are listed in posting order, so a ledger's positions grow with its
 * sequence.
 * A claim that finds its key taken (a writer elsewhere claimed it after this
 * batch read the keys) makes the batch run again, and then replay; so does
 * an external id another writer gave its transaction meanwhile (the unique
 * index refuses the statement), and then the write is refused.
 */
const WRITE_POSTINGS = `
with new_transactions as (
  insert into transactions (id, app, kind, amount, reversed_amount, reverses_transaction_id,
                            external_transaction_id, created_at, state, held_amount, pending_expires_at,
                            created_position, resolved_position)
  select t.id, t.app, t.kind, t.amount, 0, t.reverses, t.external_id, t.created_at, t.state,
         t.held, t.expires_at, p.created,
         case when t.held is not null and t.state <> 'PENDING' then nextval('ledger_stream_seq') end
    from unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::uuid[], $6::text[],
                $7::timestamptz[], $37::text[], $38::bigint[], $39::timestamptz[])
      as t (id, app, kind, amount, reverses, external_id, created_at, state, held, expires_at),
         lateral (select case when t.held is not null then nextval('ledger_stream_seq') end as created) p
), new_legs as (
  insert into pending_entries (transaction_id, position, ledger_id, operation, amount, occurred_at,
                               description, reference, metadata, expires_at)
  select * from unnest($40::uuid[], $41::int[], $42::uuid[], $43::text[], $44::bigint[],
                       $45::timestamptz[], $46::text[], $47::text[], $48::jsonb[], $49::timestamptz[])
), closed_legs as (
  update pending_entries set open = false
   where transaction_id = any($50::uuid[]) and open
), new_entries as (
  insert into entries (id, transaction_id, ledger_id, sequence, operation, amount, balance_after,
                       occurred_at, created_at, description, reference, metadata, external_transaction_id,
                       reverses_transaction_id)
  select * from unnest($8::uuid[], $9::uuid[], $10::uuid[], $11::bigint[], $12::text[], $13::bigint[],
                       $14::bigint[], $15::timestamptz[], $16::timestamptz[], $17::text[], $18::text[],
                       $19::jsonb[], $20::text[], $21::uuid[])
), recomputed as (
  update entries as e set balance_after = v.balance_after
    from unnest($57::uuid[], $58::bigint[]) as v (id, balance_after)
   where e.id = any($57::uuid[]) and e.id = v.id
  returning e.id
), changed as (
  update transactions as t
     set reversed_amount = v.reversed, state = v.state, amount = v.amount, resolved_at = v.resolved_at,
         resolved_position = case when v.state <> v.previous_state then nextval('ledger_stream_seq')
                                  else t.resolved_position end
    from unnest($22::uuid[], $23::bigint[], $24::bigint[], $51::text[], $52::text[], $53::bigint[],
                $54::timestamptz[])
      as v (id, reversed, previous, state, previous_state, amount, resolved_at)
   where t.id = any($22::uuid[]) and t.id = v.id and t.reversed_amount = v.previous
     and t.state = v.previous_state
  returning t.id
), claimed as (
  insert into idempotency_keys (app, key, method, request_hash, resource_id, created_at)
  select * from unnest($25::text[], $26::text[], $27::text[], $28::text[], $29::uuid[], $30::timestamptz[])
      as c (app, key, method, request_hash, resource_id, created_at)
   order by c.app, c.key
  on conflict (app, key) do nothing
  returning app
), balances as (
  update ledgers as l
     set balance = v.balance, version = v.version, status = v.status, terminated_at = v.terminated_at,
         pending_debits = v.pending_debits, pending_credits = v.pending_credits,
         history_at = v.history_at
    from unnest($31::uuid[], $32::bigint[], $33::bigint[], $34::bigint[], $35::text[], $36::timestamptz[],
                $55::bigint[], $56::bigint[], $59::timestamptz[])
      as v (id, balance, version, previous_version, status, terminated_at, pending_debits, pending_credits,
            history_at)
   where l.id = any($31::uuid[]) and l.id = v.id and l.version = v.previous_version
  returning l.id
)
select (select count(*) from changed)::int as reversed,
       (select count(*) from recomputed)::int as recomputed,
       (select count(*) from claimed)::int as claimed,
       (select count(*) from balances)::int as balances`;

/**
 * New ledgers, after the balances statement: a ledger terminated in the
 * same batch has given up its (app, owner, unit) by then. One that finds an
 * active ledger created elsewhere since the batch looked makes it run again.
 */
const INSERT_LEDGERS = `
insert into ledgers (id, app, owner_id, unit, description, reference, metadata, status,
                     balance, min_balance, version, created_at, terminated_at,
                     valid_from, valid_until, expire_to_ledger_id)
select l.id, l.app, l.owner_id, l.unit, l.description, l.reference, l.metadata, 'ACTIVE',
       0, l.min_balance, 0, l.created_at, null, l.valid_from, l.valid_until, l.expire_to
  from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[],
              $8::bigint[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::uuid[])
    as l (id, app, owner_id, unit, description, reference, metadata, min_balance, created_at,
          valid_from, valid_until, expire_to)
on conflict (app, owner_id, unit) where status = 'ACTIVE' do nothing
returning id`;

/** The unique index of external ids: another process wrote one this batch found free. */
const EXTERNAL_ID_INDEX = "transactions_app_external_transaction_id_key";

/** At most two statements: postings with claims and balances, then new ledgers. */
export async function writeBatch(
  em: EntityManager,
  writes: BatchWrites,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (writes.transactions.length + writes.claims.length + writes.changedLedgers.length > 0) {
    const [counts] = await sqlRows<{
      reversed: number;
      recomputed: number;
      claimed: number;
      balances: number;
    }>(em, WRITE_POSTINGS, postingParams(writes), signal).catch((error: unknown) => {
      throw isUniqueViolation(error, EXTERNAL_ID_INDEX)
        ? new RetryableConflict("an external transaction id was used concurrently")
        : error;
    });
    invariant(counts !== undefined, "the write statement returned no counts");
    invariant(counts.balances === writes.changedLedgers.length, "a locked ledger changed");
    invariant(
      counts.reversed === writes.changedTransactions.length,
      "a locked transaction changed",
    );
    invariant(
      counts.recomputed === writes.recomputedEntries.length,
      "an entry a backdate recomputed is missing",
    );
    if (counts.claimed !== writes.claims.length) {
      throw new RetryableConflict("an idempotency key was claimed concurrently");
    }
  }
  if (writes.createdLedgers.length > 0) {
    const inserted = await sqlRows(em, INSERT_LEDGERS, ledgerParams(writes), signal);
    if (inserted.length !== writes.createdLedgers.length) {
      throw new RetryableConflict("an active ledger was created concurrently");
    }
  }
}

function postingParams(writes: BatchWrites): unknown[] {
  const { transactions, entries, changedTransactions, claims, changedLedgers } = writes;
  return [
    ...columns(transactions, [
      (t) => t.id,
      (t) => t.app,
      (t) => t.kind,
      (t) => t.amountMinor,
      (t) => t.reversesTransactionId ?? null,
      (t) => t.externalTransactionId,
      (t) => t.createdAt,
    ]),
    ...columns(entries, [
      (e) => e.id,
      (e) => e.transactionId,
      (e) => e.ledgerId,
      (e) => e.sequence,
      (e) => e.operation,
      (e) => e.amountMinor,
      (e) => e.balanceAfterMinor,
      (e) => e.occurredAt,
      (e) => e.createdAt,
      (e) => e.description,
      (e) => e.reference,
      (e) => JSON.stringify(e.metadata),
      (e) => e.externalTransactionId,
      (e) => e.reversesTransactionId ?? null,
    ]),
    ...columns(changedTransactions, [
      ([after]) => after.id,
      ([after]) => after.reversedAmountMinor,
      ([, before]) => before.reversedAmountMinor,
    ]),
    ...columns(claims, [
      (c) => c.app,
      (c) => c.key,
      (c) => c.method,
      (c) => c.requestHash,
      (c) => c.resourceId,
      (c) => c.createdAt,
    ]),
    ...columns(changedLedgers, [
      ([after]) => after.id,
      ([after]) => after.balanceMinor,
      ([after]) => after.version,
      ([, before]) => before.version,
      ([after]) => after.status,
      ([after]) => after.terminatedAt ?? null,
    ]),
    ...holdParams(writes),
  ];
}

/** $37 on: the holds' columns of new transactions, their legs, and what changed transactions became. */
function holdParams(writes: BatchWrites): unknown[] {
  const { transactions, changedTransactions, changedLedgers } = writes;
  const legs = transactions.flatMap((t) =>
    (t.hold?.entries ?? []).map((leg, position) => ({ t, leg, position })),
  );
  const resolved = changedTransactions.flatMap(([after, before]) =>
    before.state === "PENDING" && after.state !== "PENDING" ? [after.id] : [],
  );
  return [
    ...columns(transactions, [
      (t) => t.state,
      (t) => t.hold?.heldAmountMinor ?? null,
      (t) => t.hold?.expiresAt ?? null,
    ]),
    ...columns(legs, [
      ({ t }) => t.id,
      ({ position }) => position,
      ({ leg }) => leg.ledgerId,
      ({ leg }) => leg.operation,
      ({ leg }) => leg.amountMinor,
      ({ leg }) => leg.occurredAt,
      ({ leg }) => leg.description,
      ({ leg }) => leg.reference,
      ({ leg }) => JSON.stringify(leg.metadata),
      ({ t }) => t.hold?.expiresAt,
    ]),
    resolved,
    ...columns(changedTransactions, [
      ([after]) => after.state,
      ([, before]) => before.state,
      ([after]) => after.amountMinor,
      ([after]) => after.hold?.resolvedAt ?? null,
    ]),
    ...columns(changedLedgers, [
      ([after]) => after.pendingDebitsMinor + after.lapsedDebitsMinor,
      ([after]) => after.pendingCreditsMinor + after.lapsedCreditsMinor,
    ]),
    ...columns(writes.recomputedEntries, [(s) => s.entryId, (s) => s.balanceAfterMinor]),
    columns(changedLedgers, [([after]) => after.historyAt ?? null])[0],
  ];
}

function ledgerParams(writes: BatchWrites): unknown[] {
  return columns(writes.createdLedgers, [
    (l) => l.id,
    (l) => l.app,
    (l) => l.ownerId,
    (l) => l.unit,
    (l) => l.description,
    (l) => l.reference,
    (l) => JSON.stringify(l.metadata),
    (l) => l.minBalanceMinor ?? null,
    (l) => l.createdAt,
    (l) => l.validFrom ?? null,
    (l) => l.validUntil ?? null,
    (l) => l.expireToLedgerId ?? null,
  ]);
}

/** Column-major parameter arrays for unnest: one array per column. */
function columns<T>(rows: readonly T[], pick: ReadonlyArray<(row: T) => unknown>): unknown[][] {
  return pick.map((column) => rows.map(column));
}
