/**
 * The base of the generated per-app clients (gen/apps/<app>/v1/<app>_client.ts):
 * a LedgerClient narrowed to one app, whose `record`, `recordEntries`,
 * `transfer` and `createTransfers` admit exactly that app's operation names
 * (a union type generated from its proto enum). With `pending: true`,
 * `record` (and each operation's method) and `transfer` hold instead and
 * return a Hold to post or void.
 */
import type { AppSpec } from "../../gen/apps/registry.js";
import { Hold } from "./hold.js";
import type { LedgerClient } from "./ledger-client.js";
import type {
  Balance,
  BalanceAsOf,
  CallOptions,
  CreatedLedger,
  CreateLedgerInput,
  CreateTransfersItem,
  CreateTransfersOptions,
  EntryFields,
  HoldEntriesItem,
  HoldEntryFields,
  LedgerPage,
  ListLedgersInput,
  RecordEntriesItem,
  RecordEntriesOptions,
  RecordedEntry,
  RecordedTransfer,
  TransferFields,
  TransferInput,
} from "./types.js";

export { Hold, type HoldResolveOptions } from "./hold.js";
export type { LedgerClient } from "./ledger-client.js";
export type {
  CreateTransfersItem,
  CreateTransfersOptions,
  HoldEntriesItem,
  RecordEntriesItem,
  RecordEntriesOptions,
  RecordedEntry,
  RecordedTransfer,
} from "./types.js";

/** An entry's fields and the call's options, in one object. */
export type AppRecordOptions = EntryFields & CallOptions;

/** A held entry's fields (`pending: true`, `pendingExpiresAt`) and the call's options, in one object. */
export type AppHoldOptions = HoldEntryFields & CallOptions;

/**
 * A fixed operation's options (its policy's `fixed`): AppRecordOptions
 * without the amount, always the operation's default; passing one does not
 * compile (the server would refuse any other: AmountNotAllowedError).
 */
export type AppFixedRecordOptions = Omit<AppRecordOptions, "amountMinor"> & {
  readonly amountMinor?: undefined;
};

/** A fixed operation held (`pending: true`): AppHoldOptions without the amount. */
export type AppFixedHoldOptions = Omit<AppHoldOptions, "amountMinor"> & {
  readonly amountMinor?: undefined;
};

/** One item of an app's recordEntries: a ledger, one of the app's operations, its fields. */
export type AppRecordItem<Operation extends string> = EntryFields & {
  readonly ledgerId: string;
  readonly operation: Operation;
};

/** One held item of an app's recordEntries (`pending: true`). */
export type AppHoldItem<Operation extends string> = HoldEntryFields & {
  readonly ledgerId: string;
  readonly operation: Operation;
};

/** A transfer's fields, its operation one of the app's, and the call's options, in one object. */
export type AppTransferOptions<Operation extends string> = TransferFields<Operation> & CallOptions;

/** A held transfer's options (`pending: true`): it returns a Hold. */
export type AppTransferHoldOptions<Operation extends string> = AppTransferOptions<Operation> & {
  readonly pending: true;
};

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

  /**
   * The balance of an owner's active ledger of this app in `unit`; with
   * `asOf`, at that past instant of its history.
   */
  getBalance(
    ownerId: string,
    unit: string,
    options: BalanceAsOf & CallOptions = {},
  ): Promise<Balance> {
    const { asOf, ...callOptions } = options;
    return this.ledger.getBalance({ app: this.app.app, ownerId, unit, asOf }, callOptions);
  }

  /**
   * Records one of this app's operations on a ledger; the amount defaults to
   * the operation's (a fixed operation accepts no other, a bounded one only
   * a magnitude within its bounds: AmountNotAllowedError). With
   * `pending: true`, holds it instead: a Hold.
   */
  record(ledgerId: string, operation: Operation, options: AppHoldOptions): Promise<Hold>;
  record(
    ledgerId: string,
    operation: Operation,
    options?: AppRecordOptions,
  ): Promise<RecordedEntry>;
  record(
    ledgerId: string,
    operation: Operation,
    options?: AppRecordOptions | AppHoldOptions,
  ): Promise<RecordedEntry | Hold> {
    return this.recordOrHold(ledgerId, operation, options);
  }

  /**
   * What `record` and the generated operation methods do: record, or hold
   * (`pending: true`). A fixed operation's method sends no amount (its
   * options have none), so the server records the operation's default.
   */
  protected async recordOrHold(
    ledgerId: string,
    operation: Operation,
    options: AppRecordOptions | AppHoldOptions = {},
  ): Promise<RecordedEntry | Hold> {
    const { timeoutMs, signal, ...fields } = options;
    const callOptions = { timeoutMs, signal };
    if (fields.pending === true) {
      const held = await this.ledger.recordEntry({ ...fields, ledgerId, operation }, callOptions);
      return new Hold(this.ledger, held);
    }
    return this.ledger.recordEntry({ ...fields, ledgerId, operation }, callOptions);
  }

  /**
   * Records several of this app's operations in one call (LedgerClient's
   * recordEntries): one result per item, in order; `atomic` says whether
   * they stand or fall together. Items all held (`pending: true`) return
   * their holds' transactions (post or void them through `ledger`); to mix
   * held and recorded items, use `ledger.recordEntries`.
   */
  recordEntries(
    items: readonly AppHoldItem<Operation>[],
    options: RecordEntriesOptions,
  ): Promise<HoldEntriesItem[]>;
  recordEntries(
    items: readonly AppRecordItem<Operation>[],
    options: RecordEntriesOptions,
  ): Promise<RecordEntriesItem[]>;
  recordEntries(
    items: readonly (AppRecordItem<Operation> | AppHoldItem<Operation>)[],
    options: RecordEntriesOptions,
  ): Promise<(RecordEntriesItem | HoldEntriesItem)[]> {
    return this.ledger.recordEntries(items, options);
  }

  /**
   * Moves `amountMinor` (positive) from one ledger of this app to another in
   * the same unit (LedgerClient's transfer); `options.operation`, one of the
   * app's, is recorded on both legs, else the built-in TRANSFER. With
   * `pending: true`, holds it instead: a Hold.
   */
  transfer(
    fromLedgerId: string,
    toLedgerId: string,
    amountMinor: bigint,
    options: AppTransferHoldOptions<Operation>,
  ): Promise<Hold>;
  transfer(
    fromLedgerId: string,
    toLedgerId: string,
    amountMinor: bigint,
    options?: AppTransferOptions<Operation>,
  ): Promise<RecordedTransfer>;
  async transfer(
    fromLedgerId: string,
    toLedgerId: string,
    amountMinor: bigint,
    options: AppTransferOptions<Operation> = {},
  ): Promise<RecordedTransfer | Hold> {
    const { timeoutMs, signal, ...fields } = options;
    const made = await this.ledger.transfer(
      { ...fields, fromLedgerId, toLedgerId, amountMinor },
      { timeoutMs, signal },
    );
    return fields.pending === true ? new Hold(this.ledger, made) : made;
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
