import { Migration } from "@mikro-orm/migrations";

/**
 * Time: a ledger's history is ordered by (created_at, sequence), so entries
 * gain that index and a ledger remembers the created_at of its latest entry
 * (history_at, backfilled), which no later write goes before unless
 * backdated. A ledger may have a validity window, and then names the ledger
 * its remainder goes to when it expires; the sweep finds the due ones
 * through a partial index.
 */
export class Migration20261204000000_time extends Migration {
  override name = "Migration20261204000000_time";

  override up(): void {
    this.addSql(`
      alter table ledgers
        add column history_at timestamptz,
        add column valid_from timestamptz,
        add column valid_until timestamptz,
        add column expire_to_ledger_id uuid references ledgers (id),
        add constraint ledgers_window_check check (
          (valid_until is null) = (expire_to_ledger_id is null)
          and (valid_from is null or valid_until is null or valid_from < valid_until)
          and expire_to_ledger_id is distinct from id
        )`);
    this.addSql(`
      update ledgers l set history_at = e.created_at
        from (select ledger_id, max(created_at) as created_at from entries group by ledger_id) e
       where e.ledger_id = l.id`);
    this.addSql(
      "create index entries_ledger_id_created_at_sequence_idx on entries (ledger_id, created_at, sequence)",
    );
    this.addSql("create index pending_entries_ledger_id_idx on pending_entries (ledger_id)");
    this.addSql(`
      create index ledgers_valid_until_idx
        on ledgers (valid_until) where status = 'ACTIVE' and valid_until is not null`);
  }

  override down(): void {
    this.addSql("drop index ledgers_valid_until_idx");
    this.addSql("drop index pending_entries_ledger_id_idx");
    this.addSql("drop index entries_ledger_id_created_at_sequence_idx");
    this.addSql(`
      alter table ledgers drop constraint ledgers_window_check, drop column expire_to_ledger_id,
        drop column valid_until, drop column valid_from, drop column history_at`);
  }
}
