import { Migration } from "@mikro-orm/migrations";

/**
 * Transfers and external references: a TRANSFER kind of transaction (any
 * kind but a reversal is reversible), the caller's external_transaction_id
 * on the transaction, unique per app, and on every entry of a reversal the
 * transaction it compensates.
 *
 * Before this migration the same external id could be written twice; the
 * oldest transaction keeps it (its entries keep theirs, as recorded), and
 * later ones carry none on the transaction row.
 */
export class Migration20261202000000_transfers extends Migration {
  override name = "Migration20261202000000_transfers";

  override up(): void {
    this.addSql("alter table transactions drop constraint transactions_kind_check");
    this.addSql(`
      alter table transactions add constraint transactions_kind_check
        check (kind in ('ENTRY', 'TRANSFER', 'REVERSAL'))`);
    this.addSql("alter table transactions drop constraint transactions_reversal_check");
    this.addSql(`
      alter table transactions add constraint transactions_reversal_check check (
        (kind = 'REVERSAL') = (reverses_transaction_id is not null)
        and (kind <> 'REVERSAL' or reversed_amount = 0)
      )`);
    this.addSql(
      "alter table transactions add column external_transaction_id text not null default ''",
    );
    this.addSql(`
      update transactions as t set external_transaction_id = first.external_transaction_id
        from (select distinct on (tx.app, e.external_transaction_id) tx.id, e.external_transaction_id
                from transactions tx join entries e on e.transaction_id = tx.id
               where e.external_transaction_id <> ''
               order by tx.app, e.external_transaction_id, tx.id) as first
       where t.id = first.id`);
    this.addSql(`
      create unique index transactions_app_external_transaction_id_key
        on transactions (app, external_transaction_id) where external_transaction_id <> ''`);
    this.addSql(
      "alter table entries add column reverses_transaction_id uuid references transactions (id)",
    );
    this.addSql(`
      update entries as e set reverses_transaction_id = t.reverses_transaction_id
        from transactions t
       where t.id = e.transaction_id and t.reverses_transaction_id is not null`);
    this.addSql(`
      create index entries_ledger_id_reference_idx
        on entries (ledger_id, reference, sequence) where reference <> ''`);
    this.addSql(`
      create index entries_ledger_id_external_transaction_id_idx
        on entries (ledger_id, external_transaction_id, sequence) where external_transaction_id <> ''`);
  }

  override down(): void {
    this.addSql("drop index entries_ledger_id_external_transaction_id_idx");
    this.addSql("drop index entries_ledger_id_reference_idx");
    this.addSql("alter table entries drop column reverses_transaction_id");
    this.addSql("drop index transactions_app_external_transaction_id_key");
    this.addSql("alter table transactions drop column external_transaction_id");
    this.addSql("alter table transactions drop constraint transactions_reversal_check");
    this.addSql(`
      alter table transactions add constraint transactions_reversal_check check (
        (kind = 'REVERSAL') = (reverses_transaction_id is not null)
        and (kind = 'ENTRY' or reversed_amount = 0)
      )`);
    this.addSql("alter table transactions drop constraint transactions_kind_check");
    this.addSql(`
      alter table transactions add constraint transactions_kind_check
        check (kind in ('ENTRY', 'REVERSAL'))`);
  }
}
