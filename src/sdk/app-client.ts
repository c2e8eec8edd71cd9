/**
 * The base of the generated per-app clients (gen/apps/<app>/v1/<app>_client.ts):
 * a LedgerClient narrowed to one app, whose `record`, `recordEntries`,
 * `transfer` and `createTransfers` admit exactly that app's operation names
 * (a union type generated from its proto enum).
 */
import type { AppSpec } from "../../gen/apps/registry.js";
import type { LedgerClient } from "./ledger-client.js";
import type {
  Balance,
  CallOptions,
  CreatedLedger,
  CreateLedgerInput,
  CreateTransfersItem,
  CreateTransfersOptions,
  EntryFields,
  LedgerPage,
  ListLedgersInput,
  RecordEntriesItem,
  RecordEntriesOptions,
  RecordedEntry,
  RecordedTransfer,
  TransferFields,
  TransferInput,
} from "./types.js";

export type { LedgerClient } from "./ledger-client.js";
export type {
  CreateTransfersItem,
  CreateTransfersOptions,
  RecordEntriesItem,
  RecordEntriesOptions,
  RecordedEntry,
  RecordedTransfer,
} from "./types.js";

/** An entry's fields and the call's options, in one object. */
export type AppRecordOptions = EntryFields & CallOptions;

/** One item of an app's recordEntries: a ledger, one of the app's operations, its fields. */
export type AppRecordItem<Operation extends string> = EntryFields & {
  readonly ledgerId: string;
  readonly operation: Operation;
};

/** A transfer's fields, its operation one of the app's, and the call's options, in one object. */
export type AppTransferOptions<Operation extends string> = TransferFields<Operation> & CallOptions;

/** One item of an app's createTransfers: two ledgers, an amount, optionally one of the app's operations. */
export type AppTransferItem<Operation extends string> = TransferInput<Operation>;

/** A client of one app. Generated subclasses add one method per operation. */
export class AppClient<Operation extends string> {
  /**
   * @param ledger the client that makes the calls
   * @param app the app's generated spec (e.g. CONTENT_APP from gen/apps/registry.ts)
   */
  constructor(
    readonly ledger: LedgerClient,
    readonly app: AppSpec<Operation>,
  ) {}

  /** Opens a ledger of this app. */
  createLedger(
    input: Omit<CreateLedgerInput, "app">,
    options?: CallOptions,
  ): Promise<CreatedLedger> {
    return this.ledger.createLedger({ ...input, app: this.app.app }, options);
  }

  /** This app's ledgers, oldest first. */
  listLedgers(
    input: Omit<ListLedgersInput, "app"> = {},
    options?: CallOptions,
  ): Promise<LedgerPage> {
    return this.ledger.listLedgers({ ...input, app: this.app.app }, options);
  }

  /** The balance of an owner's active ledger of this app in `unit`. */
  getBalance(ownerId: string, unit: string, options?: CallOptions): Promise<Balance> {
    return this.ledger.getBalance({ app: this.app.app, ownerId, unit }, options);
  }

  /** Records one of this app's operations on a ledger; the amount defaults to the operation's. */
  record(
    ledgerId: string,
    operation: Operation,
    options: AppRecordOptions = {},
  ): Promise<RecordedEntry> {
    const { timeoutMs, signal, ...fields } = options;
    return this.ledger.recordEntry({ ...fields, ledgerId, operation }, { timeoutMs, signal });
  }

  /**
   * Records several of this app's operations in one call (LedgerClient's
   * recordEntries): one result per item, in order; `atomic` says whether
   * they stand or fall together.
   */
  recordEntries(
    items: readonly AppRecordItem<Operation>[],
    options: RecordEntriesOptions,
  ): Promise<RecordEntriesItem[]> {
    return this.ledger.recordEntries(items, options);
  }

  /**
   * Moves `amountMinor` (positive) from one ledger of this app to another in
   * the same unit (LedgerClient's transfer); `options.operation`, one of the
   * app's, is recorded on both legs, else the built-in TRANSFER.
   */
  transfer(
    fromLedgerId: string,
    toLedgerId: string,
    amountMinor: bigint,
    options: AppTransferOptions<Operation> = {},
  ): Promise<RecordedTransfer> {
    const { timeoutMs, signal, ...fields } = options;
    return this.ledger.transfer(
      { ...fields, fromLedgerId, toLedgerId, amountMinor },
      { timeoutMs, signal },
    );
  }

  /**
   * Several transfers in one call (LedgerClient's createTransfers): one
   * result per item, in order; `atomic` says whether they stand or fall together.
   */
  createTransfers(
    items: readonly AppTransferItem<Operation>[],
    options: CreateTransfersOptions,
  ): Promise<CreateTransfersItem[]> {
    return this.ledger.createTransfers(items, options);
  }
}
