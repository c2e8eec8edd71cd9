/**
 * An in-memory LedgerStore for the RPC and server plumbing specs only: it
 * keeps ledgers and balances, records every call with its CallOptions, and
 * lets a spec delay or fail the next calls. The real rules live in the
 * PostgreSQL store and are specified by test/e2e.
 */
import { randomUUID } from "node:crypto";
import type {
  Balance,
  BalanceLookup,
  CallOptions,
  CreateLedgerInput,
  Entry,
  Ledger,
  LedgerStore,
  ListEntriesInput,
  ListLedgersInput,
  Page,
  RecordEntryInput,
  ReverseTransactionInput,
  Transaction,
  WriteResult,
} from "../../src/domain/index.js";
import { ledgerNotFound, transactionNotFound } from "../../src/domain/index.js";

export interface StoreCall {
  readonly method: string;
  readonly input: unknown;
  readonly options: CallOptions | undefined;
}

/** Runs before every store method; may wait, or throw to fail the call. */
export type StoreHook = (call: StoreCall) => void | Promise<void>;

export class FakeStore implements LedgerStore {
  readonly calls: StoreCall[] = [];
  readonly ledgers = new Map<string, Ledger>();
  readonly entries: Entry[] = [];
  hook: StoreHook | undefined;
  closed = false;

  async createLedger(
    input: CreateLedgerInput,
    options?: CallOptions,
  ): Promise<WriteResult<Ledger>> {
    await this.enter("createLedger", input, options);
    const ledger: Ledger = {
      id: randomUUID(),
      app: input.app,
      ownerId: input.ownerId,
      unit: input.unit,
      description: input.description,
      reference: input.reference,
      metadata: input.metadata,
      status: "ACTIVE",
      balanceMinor: 0n,
      minBalanceMinor: input.unbounded ? undefined : (input.minBalanceMinor ?? 0n),
      version: 0n,
      createdAt: new Date(),
      terminatedAt: undefined,
    };
    this.ledgers.set(ledger.id, ledger);
    return { value: ledger, replayed: false };
  }

  async getLedger(ledgerId: string, options?: CallOptions): Promise<Ledger> {
    await this.enter("getLedger", ledgerId, options);
    return this.ledger(ledgerId);
  }

  async listLedgers(input: ListLedgersInput, options?: CallOptions): Promise<Page<Ledger>> {
    await this.enter("listLedgers", input, options);
    const items = [...this.ledgers.values()].filter((l) => l.app === input.app);
    return { items: items.slice(0, input.pageSize), nextPageToken: "" };
  }

  async recordEntry(input: RecordEntryInput, options?: CallOptions): Promise<WriteResult<Entry>> {
    await this.enter("recordEntry", input, options);
    const ledger = this.ledger(input.ledgerId);
    const amountMinor = input.amountMinor ?? 1n;
    const now = new Date();
    const entry: Entry = {
      id: randomUUID(),
      transactionId: randomUUID(),
      ledgerId: ledger.id,
      sequence: ledger.version + 1n,
      operation: input.operation,
      amountMinor,
      balanceAfterMinor: ledger.balanceMinor + amountMinor,
      occurredAt: input.occurredAt ?? now,
      createdAt: now,
      description: input.description,
      reference: input.reference,
      metadata: input.metadata,
      externalTransactionId: input.externalTransactionId,
    };
    this.ledgers.set(ledger.id, {
      ...ledger,
      balanceMinor: entry.balanceAfterMinor,
      version: entry.sequence,
    });
    this.entries.push(entry);
    return { value: entry, replayed: false };
  }

  async reverseTransaction(
    input: ReverseTransactionInput,
    options?: CallOptions,
  ): Promise<WriteResult<Transaction>> {
    await this.enter("reverseTransaction", input, options);
    const original = this.entries.find((e) => e.transactionId === input.transactionId);
    if (original === undefined) {
      throw transactionNotFound(input.transactionId);
    }
    const amountMinor =
      input.amountMinor ??
      (original.amountMinor < 0n ? -original.amountMinor : original.amountMinor);
    const reversal = await this.recordEntry({
      ledgerId: original.ledgerId,
      operation: "REVERSAL",
      amountMinor: original.amountMinor > 0n ? -amountMinor : amountMinor,
      idempotencyKey: input.idempotencyKey,
      occurredAt: undefined,
      description: input.description,
      reference: "",
      metadata: input.metadata,
      externalTransactionId: "",
    });
    return {
      value: {
        id: reversal.value.transactionId,
        app: this.ledger(original.ledgerId).app,
        kind: "REVERSAL",
        amountMinor,
        reversedAmountMinor: 0n,
        reversesTransactionId: original.transactionId,
        createdAt: reversal.value.createdAt,
        entries: [reversal.value],
      },
      replayed: false,
    };
  }

  async getBalance(lookup: BalanceLookup, options?: CallOptions): Promise<Balance> {
    await this.enter("getBalance", lookup, options);
    const ledger =
      "ledgerId" in lookup
        ? this.ledger(lookup.ledgerId)
        : [...this.ledgers.values()].find(
            (l) => l.app === lookup.app && l.ownerId === lookup.ownerId && l.unit === lookup.unit,
          );
    if (ledger === undefined) {
      throw ledgerNotFound("(by owner)");
    }
    return {
      ledgerId: ledger.id,
      balanceMinor: ledger.balanceMinor,
      unit: ledger.unit,
      version: ledger.version,
    };
  }

  async listEntries(input: ListEntriesInput, options?: CallOptions): Promise<Page<Entry>> {
    await this.enter("listEntries", input, options);
    this.ledger(input.ledgerId);
    const items = this.entries.filter((e) => e.ledgerId === input.ledgerId).reverse();
    return { items: items.slice(0, input.pageSize), nextPageToken: "" };
  }

  async terminateLedger(ledgerId: string, options?: CallOptions): Promise<Ledger> {
    await this.enter("terminateLedger", ledgerId, options);
    const ledger = this.ledger(ledgerId);
    const terminated: Ledger = { ...ledger, status: "TERMINATED", terminatedAt: new Date() };
    this.ledgers.set(ledgerId, terminated);
    return terminated;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
  }

  /** The calls of one method, in order. */
  callsOf(method: string): StoreCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  private async enter(method: string, input: unknown, options: CallOptions | undefined) {
    const call = { method, input, options };
    this.calls.push(call);
    await this.hook?.(call);
  }

  private ledger(ledgerId: string): Ledger {
    const ledger = this.ledgers.get(ledgerId);
    if (ledger === undefined) {
      throw ledgerNotFound(ledgerId);
    }
    return ledger;
  }
}
