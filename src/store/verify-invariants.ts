import type { EntityManager } from "@mikro-orm/postgresql";

/** A stored fact that contradicts the ledger's rules: always a bug. */
export interface InvariantBreach {
  readonly check: InvariantCheck;
  /** The ledger or transaction concerned. */
  readonly subjectId: string;
  readonly detail: string;
}

export type InvariantCheck =
  | "BALANCE_IS_SUM_OF_ENTRIES"
  | "SEQUENCES_GAPLESS"
  | "BALANCE_AFTER_CHAINS"
  | "ENTRY_MATCHES_TRANSACTION_AMOUNT"
  | "TRANSACTION_HAS_ENTRIES"
  | "REVERSED_WITHIN_AMOUNT"
  | "REVERSED_IS_SUM_OF_REVERSALS"
  | "TRANSACTION_SHAPE"
  | "TRANSFER_SUMS_TO_ZERO"
  | "MONEY_CONSERVED"
  | "ENTRY_REVERSES_AS_TRANSACTION"
  | "HOLD_LEGS_MATCH_STATE"
  | "PENDING_IS_SUM_OF_OPEN_HOLDS"
  | "AVAILABLE_WITHIN_FLOOR"
  | "HISTORY_AT_IS_LATEST"
  | "ENTRIES_WITHIN_WINDOW"
  | "STREAM_FOLLOWS_SEQUENCE";

/** Each check reports at most this many breaches: a report stays readable and bounded. */
const BREACHES_PER_CHECK_MAX = 100;

const CHECKS: readonly { readonly check: InvariantCheck; readonly sql: string }[] = [
  {
    check: "BALANCE_IS_SUM_OF_ENTRIES",
    sql: `select l.id as subject_id,
                 'balance ' || l.balance || ' but entries sum to ' || coalesce(sum(e.amount), 0) as detail
            from ledgers l left join entries e on e.ledger_id = l.id
           group by l.id
          having l.balance <> coalesce(sum(e.amount), 0)`,
  },
  {
    check: "SEQUENCES_GAPLESS",
    sql: `select l.id as subject_id,
                 'version ' || l.version || ' but ' || count(e.id) || ' entries up to sequence '
                   || coalesce(max(e.sequence), 0) as detail
            from ledgers l left join entries e on e.ledger_id = l.id
           group by l.id
          having count(e.id) <> l.version or coalesce(max(e.sequence), 0) <> l.version`,
  },
  {
    // WatchEntries streams by position: a ledger's must grow with its sequence.
    check: "STREAM_FOLLOWS_SEQUENCE",
    sql: `select ledger_id as subject_id,
                 'entry ' || sequence || ' has stream position ' || stream_position
                   || ' but entry ' || (sequence - 1) || ' has ' || previous as detail
            from (select e.ledger_id, e.sequence, e.stream_position,
                         lag(e.stream_position) over (partition by e.ledger_id order by e.sequence) as previous
                    from entries e) streamed
           where stream_position <= previous`,
  },
  {
    // In history order: by created_at, then sequence (a backdate recomputes).
    check: "BALANCE_AFTER_CHAINS",
    sql: `select ledger_id as subject_id,
                 'entry ' || sequence || ' has balance_after ' || balance_after || ' but follows '
                   || previous || ' with amount ' || amount as detail
            from (select e.*, lag(e.balance_after, 1, 0::bigint)
                               over (partition by e.ledger_id order by e.created_at, e.sequence) as previous
                    from entries e) chained
           where balance_after <> previous + amount`,
  },
  {
    // No write lands before it unless backdated: it is the latest created_at.
    check: "HISTORY_AT_IS_LATEST",
    sql: `select l.id as subject_id,
                 'history_at ' || coalesce(l.history_at::text, 'null') || ' but the latest entry is of '
                   || coalesce(max(e.created_at)::text, 'none') as detail
            from ledgers l left join entries e on e.ledger_id = l.id
           group by l.id
          having l.history_at is distinct from max(e.created_at)`,
  },
  {
    // Within [valid_from, valid_until), but for the transfer that closes an expired ledger.
    check: "ENTRIES_WITHIN_WINDOW",
    sql: `select e.ledger_id as subject_id,
                 'entry ' || e.sequence || ' of ' || e.created_at || ' outside ['
                   || coalesce(l.valid_from::text, '') || ', ' || coalesce(l.valid_until::text, '') || ')' as detail
            from entries e join ledgers l on l.id = e.ledger_id
           where e.created_at < l.valid_from
              or (e.created_at >= l.valid_until and e.operation not in ('EXPIRY', 'SWEEP'))`,
  },
  {
    check: "ENTRY_MATCHES_TRANSACTION_AMOUNT",
    sql: `select t.id as subject_id,
                 'entry ' || e.id || ' has amount ' || e.amount || ' but the transaction ' || t.amount as detail
            from transactions t join entries e on e.transaction_id = t.id
           where abs(e.amount) <> t.amount`,
  },
  {
    // A posted transaction has entries; a hold has none until it is posted.
    check: "TRANSACTION_HAS_ENTRIES",
    sql: `select t.id as subject_id,
                 t.state || (case when t.state = 'POSTED' then ' with no entries' else ' with entries' end) as detail
            from transactions t
           where (t.state = 'POSTED') <> exists (select 1 from entries e where e.transaction_id = t.id)`,
  },
  {
    check: "REVERSED_WITHIN_AMOUNT",
    sql: `select t.id as subject_id,
                 'reversed ' || t.reversed_amount || ' of ' || t.amount as detail
            from transactions t
           where t.reversed_amount < 0 or t.reversed_amount > t.amount
              or (t.kind = 'REVERSAL' and t.reversed_amount <> 0)`,
  },
  {
    check: "REVERSED_IS_SUM_OF_REVERSALS",
    sql: `select t.id as subject_id,
                 'reversed_amount ' || t.reversed_amount || ' but reversals sum to '
                   || coalesce(sum(r.amount), 0) as detail
            from transactions t left join transactions r on r.reverses_transaction_id = t.id
           group by t.id
          having t.reversed_amount <> coalesce(sum(r.amount), 0)
              or bool_or(r.kind is not null and r.kind <> 'REVERSAL')
              or (t.kind = 'REVERSAL' and count(r.id) > 0)`,
  },
  {
    // An entry has one leg; a transfer two, on two ledgers of its app and one
    // unit; a reversal one per leg of what it reverses, on the same ledgers.
    check: "TRANSACTION_SHAPE",
    sql: `select t.id as subject_id,
                 t.kind || ' with ' || count(e.id) || ' entries on ' || count(distinct e.ledger_id)
                   || ' ledgers of ' || count(distinct l.app || '/' || l.unit) || ' app/unit pairs' as detail
            from transactions t
            join entries e on e.transaction_id = t.id
            join ledgers l on l.id = e.ledger_id
            left join transactions o on o.id = t.reverses_transaction_id
           group by t.id, t.kind, o.kind
          having count(distinct l.app || '/' || l.unit) <> 1
              or bool_or(l.app <> t.app)
              or count(e.id) <> count(distinct e.ledger_id)
              or count(e.id) <> case coalesce(o.kind, t.kind) when 'TRANSFER' then 2 else 1 end`,
  },
  {
    check: "TRANSFER_SUMS_TO_ZERO",
    sql: `select t.id as subject_id, 'entries sum to ' || sum(e.amount) as detail
            from transactions t
            join entries e on e.transaction_id = t.id
            left join transactions o on o.id = t.reverses_transaction_id
           where t.kind = 'TRANSFER' or o.kind = 'TRANSFER'
           group by t.id
          having sum(e.amount) <> 0`,
  },
  {
    // Only single-sided writes (entries and their reversals) bring money in
    // or take it out: per app and unit, the balances add up to them.
    check: "MONEY_CONSERVED",
    sql: `select b.app || '/' || b.unit as subject_id,
                 'balances sum to ' || b.total || ' but single-sided entries to '
                   || coalesce(s.total, 0) as detail
            from (select app, unit, sum(balance) as total from ledgers group by app, unit) b
            left join (select l.app, l.unit, sum(e.amount) as total
                         from entries e
                         join ledgers l on l.id = e.ledger_id
                         join transactions t on t.id = e.transaction_id
                         left join transactions o on o.id = t.reverses_transaction_id
                        where coalesce(o.kind, t.kind) = 'ENTRY'
                        group by l.app, l.unit) s on s.app = b.app and s.unit = b.unit
           where b.total <> coalesce(s.total, 0)`,
  },
  {
    check: "ENTRY_REVERSES_AS_TRANSACTION",
    sql: `select e.id as subject_id,
                 'reverses ' || coalesce(e.reverses_transaction_id::text, 'nothing')
                   || ' but its transaction ' || coalesce(t.reverses_transaction_id::text, 'nothing') as detail
            from entries e join transactions t on t.id = e.transaction_id
           where e.reverses_transaction_id is distinct from t.reverses_transaction_id`,
  },
  {
    // A hold has one leg per entry its post writes (one, or two for a
    // transfer), each for the amount held; they are open exactly while the
    // hold is PENDING, and an ordinary write has none.
    check: "HOLD_LEGS_MATCH_STATE",
    sql: `select t.id as subject_id,
                 t.state || ' hold of ' || coalesce(t.held_amount::text, 'nothing') || ' with '
                   || count(p.position) || ' legs, ' || count(p.position) filter (where p.open) || ' open' as detail
            from transactions t left join pending_entries p on p.transaction_id = t.id
           group by t.id
          having (t.held_amount is null) <> (count(p.position) = 0)
              or count(p.position) <> case t.kind when 'TRANSFER' then 2 when 'ENTRY' then 1 else 0 end
                 and t.held_amount is not null
              or bool_or(abs(p.amount) <> t.held_amount)
              or bool_or(p.open <> (t.state = 'PENDING'))`,
  },
  {
    check: "PENDING_IS_SUM_OF_OPEN_HOLDS",
    sql: `select l.id as subject_id,
                 'pending debits ' || l.pending_debits || ' and credits ' || l.pending_credits
                   || ' but open holds ' || coalesce(sum(-p.amount) filter (where p.amount < 0), 0)
                   || ' and ' || coalesce(sum(p.amount) filter (where p.amount > 0), 0) as detail
            from ledgers l left join pending_entries p on p.ledger_id = l.id and p.open
           group by l.id
          having l.pending_debits <> coalesce(sum(-p.amount) filter (where p.amount < 0), 0)
              or l.pending_credits <> coalesce(sum(p.amount) filter (where p.amount > 0), 0)`,
  },
  {
    // What open holds (not yet past their deadline) reserve never takes a
    // ledger below its floor.
    check: "AVAILABLE_WITHIN_FLOOR",
    sql: `select l.id as subject_id,
                 'balance ' || l.balance || ' less held ' || coalesce(sum(-p.amount), 0)
                   || ' is below the floor ' || l.min_balance as detail
            from ledgers l
            left join pending_entries p
              on p.ledger_id = l.id and p.open and p.amount < 0 and p.expires_at > now()
           where l.min_balance is not null
           group by l.id
          having l.balance - coalesce(sum(-p.amount), 0) < l.min_balance`,
  },
];

/**
 * Checks every ledger and transaction against the rules the write path
 * asserts one row at a time, on one consistent snapshot. Empty: all hold.
 */
export async function findInvariantBreaches(
  em: EntityManager,
): Promise<readonly InvariantBreach[]> {
  return em.transactional(
    async (tem) => {
      // A full scan by design: an audit, not a request on the hot path.
      await tem.execute("select set_config('statement_timeout', '0', true)");
      const breaches: InvariantBreach[] = [];
      for (const { check, sql } of CHECKS) {
        const rows = await tem.execute<{ subject_id: string; detail: string }[]>(
          `${sql} limit ${BREACHES_PER_CHECK_MAX}`,
        );
        breaches.push(
          ...rows.map((row) => ({ check, subjectId: row.subject_id, detail: row.detail })),
        );
      }
      return breaches;
    },
    { isolationLevel: "repeatable read", readOnly: true },
  );
}
