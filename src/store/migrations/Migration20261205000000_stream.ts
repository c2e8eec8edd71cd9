import { Migration } from "@mikro-orm/migrations";

/**
 * The stream (WatchEntries): every entry, and every step of a hold (created,
 * then posted, voided or expired), gets a position from one sequence, drawn
 * under its ledgers' locks by the statement that writes it. Positions grow
 * with each ledger's sequence, and which of them are final is decided from
 * transaction snapshots (queries/stream.ts). The sequence caches no values
 * (CACHE 1): a cache per connection would hand out positions out of order.
 *
 * Existing entries are numbered ledger by ledger in sequence order, and
 * existing holds after them: their relative order across ledgers is unknown.
 */
export class Migration20261205000000_stream extends Migration {
  override name = "Migration20261205000000_stream";

  override up(): void {
    this.addSql("create sequence ledger_stream_seq as bigint cache 1");
    this.addSql("alter table entries add column stream_position bigint");
    this.addSql(`
      update entries e set stream_position = n.position
        from (select id, row_number() over (order by ledger_id, sequence) as position from entries) n
       where n.id = e.id`);
    this.addSql(`
      alter table transactions
        add column created_position bigint,
        add column resolved_position bigint`);
    this.addSql(`
      update transactions t
         set created_position = n.base + 2 * n.rank - 1,
             resolved_position = case when t.resolved_at is not null then n.base + 2 * n.rank end
        from (select id, (select count(*) from entries) as base,
                     row_number() over (order by created_at, id) as rank
                from transactions where held_amount is not null) n
       where n.id = t.id`);
    this.addSql(`
      select setval('ledger_stream_seq',
        greatest(1, (select count(*) from entries) + 2 * (select count(*) from transactions
                                                          where held_amount is not null)))`);
    this.addSql(`
      alter table entries
        alter column stream_position set default nextval('ledger_stream_seq'),
        alter column stream_position set not null`);
    this.addSql("create unique index entries_stream_position_key on entries (stream_position)");
    this.addSql(
      "create index entries_ledger_id_stream_position_idx on entries (ledger_id, stream_position)",
    );
    this.addSql(`
      create unique index transactions_created_position_key
        on transactions (created_position) where created_position is not null`);
    this.addSql(`
      create unique index transactions_resolved_position_key
        on transactions (resolved_position) where resolved_position is not null`);
    this.addSql(`
      alter table transactions add constraint transactions_stream_position_check check (
        (held_amount is null) = (created_position is null)
        and (held_amount is null or (resolved_at is null) = (resolved_position is null))
        and (resolved_position is null or created_position < resolved_position)
      )`);
  }

  override down(): void {
    this.addSql("alter table transactions drop constraint transactions_stream_position_check");
    this.addSql("drop index transactions_resolved_position_key");
    this.addSql("drop index transactions_created_position_key");
    this.addSql(
      "alter table transactions drop column created_position, drop column resolved_position",
    );
    this.addSql("drop index entries_ledger_id_stream_position_idx");
    this.addSql("drop index entries_stream_position_key");
    this.addSql("alter table entries drop column stream_position");
    this.addSql("drop sequence ledger_stream_seq");
  }
}
