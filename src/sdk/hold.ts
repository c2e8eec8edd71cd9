/**
 * Hold: what an app client's operation or transfer returns with `pending:
 * true`. The hold as created (a PENDING transaction), and the two ways to
 * resolve it before it expires: post (all of it, or part) or void.
 */
import type { LedgerClient } from "./ledger-client.js";
import type {
  CallOptions,
  PostedTransaction,
  RecordedHold,
  Transaction,
  VoidedTransaction,
  WriteInput,
} from "./types.js";

/** A post's or a void's idempotency key and the call's options, in one object. */
export type HoldResolveOptions = WriteInput & CallOptions;

/** A hold made through an app client, with the calls that resolve it. */
export class Hold implements RecordedHold {
  /** The hold as created (or as first created, when `replayed`): state PENDING, no entries. */
  readonly transaction: Transaction;
  readonly replayed: boolean;
  /** The key of the write that made the hold. */
  readonly idempotencyKey: string;

  constructor(
    private readonly ledger: LedgerClient,
    made: RecordedHold,
  ) {
    this.transaction = made.transaction;
    this.replayed = made.replayed;
    this.idempotencyKey = made.idempotencyKey;
  }

  /** The hold's transaction id. */
  get transactionId(): string {
    return this.transaction.id;
  }

  /**
   * Posts `amountMinor` (positive, at most the amount held; absent: all of
   * it) and releases the rest: the transaction becomes POSTED with its
   * entries (LedgerClient.postPendingTransaction).
   */
  post(amountMinor?: bigint, options: HoldResolveOptions = {}): Promise<PostedTransaction> {
    const { idempotencyKey, ...callOptions } = options;
    return this.ledger.postPendingTransaction(
      this.transaction.id,
      { amountMinor, idempotencyKey },
      callOptions,
    );
  }

  /** Releases the hold: the transaction becomes VOIDED (LedgerClient.voidPendingTransaction). */
  void(options: HoldResolveOptions = {}): Promise<VoidedTransaction> {
    const { idempotencyKey, ...callOptions } = options;
    return this.ledger.voidPendingTransaction(this.transaction.id, { idempotencyKey }, callOptions);
  }
}
