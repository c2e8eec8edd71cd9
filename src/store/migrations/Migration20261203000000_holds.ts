import { Migration } from "@mikro-orm/migrations";

/**
 * Holds: a transaction gains a state (POSTED, or PENDING then POSTED, VOIDED
 * or EXPIRED for a hold), the amount it held, its deadline and when it was
 * resolved; its legs while held live in pending_entries (kept once
 * resolved, `open` no longer); a ledger counts what open holds reserve
 * (pending_debits) and will credit (pending_credits).
 */
export class Migration20261203000000_holds extends Migration {
  override name = "Migration20261203000000_holds";

  override up(): void {
    this.addSql(`
      alter table ledgers
        add column pending_debits bigint not null default 0 check (pending_debits >= 0),
        add column pending_credits bigint not null default 0 check (pending_credits >= 0)`);
    this.addSql(`
      alter table transactions
        add column state text not null default 'POSTED'
          check (state in ('POSTED', 'PENDING', 'VOIDED', 'EXPIRED')),
        add column held_amount bigint,
        add column pending_expires_at timestamptz,
        add column resolved_at timestamptz`);
    this.addSql(`
      alter table transactions add constraint transactions_hold_check check (
        (held_amount is null) = (pending_expires_at is null)
        and (held_amount is not null or (state = 'POSTED' and resolved_at is null))
        and (held_amount is null or (held_amount > 0 and amount <= held_amount and kind <> 'REVERSAL'))
        and (held_amount is null or (state = 'PENDING') = (resolved_at is null))
        and (state = 'POSTED' or reversed_amount = 0)
      )`);
    this.addSql(`
      create index transactions_pending_expires_at_idx
        on transactions (pending_expires_at) where state = 'PENDING'`);
    this.addSql(`
      create table pending_entries (
        transaction_id uuid not null references transactions (id),
        position int not null check (position >= 0),
        ledger_id uuid not null references ledgers (id),
        operation text not null,
        amount bigint not null check (amount <> 0),
        occurred_at timestamptz not null,
        description text not null default '',
        reference text not null default '',
        metadata jsonb not null default '{}' check (jsonb_typeof(metadata) = 'object'),
        expires_at timestamptz not null,
        open boolean not null default true,
        primary key (transaction_id, position)
      )`);
    this.addSql(`
      create index pending_entries_open_ledger_id_idx
        on pending_entries (ledger_id, transaction_id) where open`);
  }

  override down(): void {
    this.addSql("drop table pending_entries");
    this.addSql("drop index transactions_pending_expires_at_idx");
    this.addSql("alter table transactions drop constraint transactions_hold_check");
    this.addSql(`
      alter table transactions drop column state, drop column held_amount,
        drop column pending_expires_at, drop column resolved_at`);
    this.addSql("alter table ledgers drop column pending_debits, drop column pending_credits");
  }
}
