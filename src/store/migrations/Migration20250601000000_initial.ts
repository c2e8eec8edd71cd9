import { Migration } from "@mikro-orm/migrations";

/**
 * The double-entry-ready schema: a transaction owns one or more entries, each
 * entry posts to one ledger. Amounts are bigint minor units.
 */
export class Migration20250601000000_initial extends Migration {
  override name = "Migration20250601000000_initial";

  override up(): void {
    this.addSql(`
      create table ledgers (
        id uuid primary key,
        app text not null check (app ~ '^[a-z][a-z0-9_-]*$' and length(app) <= 64),
        owner_id text not null check (length(owner_id) between 1 and 256),
        unit text not null check (unit ~ '^[A-Z][A-Z0-9_]*$' and length(unit) <= 32),
        description text not null default '',
        reference text not null default '',
        metadata jsonb not null default '{}' check (jsonb_typeof(metadata) = 'object'),
        status text not null check (status in ('ACTIVE', 'TERMINATED')),
        balance bigint not null default 0,
        min_balance bigint check (min_balance <= 0),
        version bigint not null default 0 check (version >= 0),
        created_at timestamptz not null,
        terminated_at timestamptz,
        constraint ledgers_terminated_at_check check ((status = 'TERMINATED') = (terminated_at is not null))
      )`);
    this.addSql(`
      create unique index ledgers_active_app_owner_id_unit_key
        on ledgers (app, owner_id, unit) where status = 'ACTIVE'`);
    this.addSql("create index ledgers_app_id_idx on ledgers (app, id)");
    this.addSql("create index ledgers_app_owner_id_id_idx on ledgers (app, owner_id, id)");

    this.addSql(`
      create table transactions (
        id uuid primary key,
        app text not null,
        kind text not null check (kind in ('ENTRY', 'REVERSAL')),
        amount bigint not null check (amount >= 0),
        reversed_amount bigint not null default 0,
        reverses_transaction_id uuid references transactions (id),
        created_at timestamptz not null,
        constraint transactions_reversed_amount_check
          check (reversed_amount >= 0 and reversed_amount <= amount),
        constraint transactions_reversal_check check (
          (kind = 'REVERSAL') = (reverses_transaction_id is not null)
          and (kind = 'ENTRY' or reversed_amount = 0)
        )
      )`);
    this.addSql(`
      create index transactions_reverses_transaction_id_idx
        on transactions (reverses_transaction_id) where reverses_transaction_id is not null`);

    this.addSql(`
      create table entries (
        id uuid primary key,
        transaction_id uuid not null references transactions (id),
        ledger_id uuid not null references ledgers (id),
        sequence bigint not null check (sequence >= 1),
        operation text not null,
        amount bigint not null,
        balance_after bigint not null,
        occurred_at timestamptz not null,
        created_at timestamptz not null,
        description text not null default '',
        reference text not null default '',
        metadata jsonb not null default '{}' check (jsonb_typeof(metadata) = 'object'),
        external_transaction_id text not null default '',
        constraint entries_ledger_id_sequence_key unique (ledger_id, sequence)
      )`);
    this.addSql("create index entries_transaction_id_idx on entries (transaction_id)");

    this.addSql(`
      create table idempotency_keys (
        app text not null,
        key text not null,
        method text not null,
        request_hash text not null,
        resource_id uuid not null,
        created_at timestamptz not null,
        primary key (app, key)
      )`);
  }

  override down(): void {
    this.addSql("drop table idempotency_keys");
    this.addSql("drop table entries");
    this.addSql("drop table transactions");
    this.addSql("drop table ledgers");
  }
}
