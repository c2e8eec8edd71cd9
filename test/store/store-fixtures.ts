/**
 * Shared setup of the store specs: a fresh migrated database per spec file,
 * a store on it, and inputs with sensible defaults. Every test works in its
 * own app, so idempotency scopes and ledger keys never collide.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect } from "vitest";
import type {
  CreateLedgerInput,
  ErrorReason,
  Ledger,
  RecordEntryInput,
  ReverseTransactionInput,
  TransferInput,
} from "../../src/domain/index.js";
import { LedgerError } from "../../src/domain/index.js";
import { openStore, type PostgresLedgerStore, type StoreConfig } from "../../src/store/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

export interface StoreHarness {
  store(): PostgresLedgerStore;
  databaseUrl(): string;
}

/** Opens a store on a fresh database before the file's tests; closes and drops it after. */
export function useStore(config: Omit<StoreConfig, "databaseUrl"> = {}): StoreHarness {
  let database: TestDatabase | undefined;
  let store: PostgresLedgerStore | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
    store = await openStore({ ...config, databaseUrl: database.url });
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });
  return {
    store: () => defined(store, "store"),
    databaseUrl: () => defined(database, "database").url,
  };
}

function defined<T>(value: T | undefined, name: string): T {
  if (value === undefined) {
    throw new Error(`${name} is not open yet`);
  }
  return value;
}

/** Two stores on one database (two service processes) on one clock the test moves. */
export interface ClockedStores extends StoreHarness {
  other(): PostgresLedgerStore;
  clock(): Date;
  /** Moves the shared clock by `ms` (negative: back). */
  moveClock(ms: number): void;
}

export function useClockedStores(): ClockedStores {
  let offsetMs = 0;
  const clock = () => new Date(Date.now() + offsetMs);
  const harness = useStore({ clock });
  let other: PostgresLedgerStore | undefined;
  beforeAll(async () => {
    other = await openStore({ databaseUrl: harness.databaseUrl(), clock });
  });
  afterAll(async () => {
    await other?.close();
  });
  return {
    ...harness,
    other: () => defined(other, "second store"),
    clock,
    moveClock(ms) {
      offsetMs += ms;
    },
  };
}

let counter = 0;

export function uniqueApp(): string {
  counter += 1;
  return `app-${process.pid.toString(36)}-${Date.now().toString(36)}-${counter}`;
}

export function uniqueKey(): string {
  return `key-${randomUUID()}`;
}

export function createInput(overrides: Partial<CreateLedgerInput> = {}): CreateLedgerInput {
  return {
    app: uniqueApp(),
    ownerId: `owner-${randomUUID()}`,
    unit: "CREDITS",
    description: "",
    reference: "",
    metadata: {},
    minBalanceMinor: undefined,
    unbounded: false,
    idempotencyKey: uniqueKey(),
    ...overrides,
  };
}

export function entryInput(
  ledgerId: string,
  operation: string,
  amountMinor?: bigint,
  overrides: Partial<RecordEntryInput> = {},
): RecordEntryInput {
  return {
    ledgerId,
    operation,
    amountMinor,
    idempotencyKey: uniqueKey(),
    occurredAt: undefined,
    description: "",
    reference: "",
    metadata: {},
    externalTransactionId: "",
    hold: undefined,
    ...overrides,
  };
}

export function reversalInput(
  transactionId: string,
  amountMinor?: bigint,
  overrides: Partial<ReverseTransactionInput> = {},
): ReverseTransactionInput {
  return {
    transactionId,
    amountMinor,
    idempotencyKey: uniqueKey(),
    description: "",
    metadata: {},
    ...overrides,
  };
}

export function transferInput(
  fromLedgerId: string,
  toLedgerId: string,
  amountMinor: bigint,
  overrides: Partial<TransferInput> = {},
): TransferInput {
  return {
    fromLedgerId,
    toLedgerId,
    amountMinor,
    idempotencyKey: uniqueKey(),
    operation: "",
    occurredAt: undefined,
    hold: undefined,
    description: "",
    reference: "",
    metadata: {},
    externalTransactionId: "",
    ...overrides,
  };
}

/** A new ledger (in a fresh app unless overridden), optionally funded by CREDIT_ADD. */
export async function openLedger(
  store: PostgresLedgerStore,
  fundsMinor = 0n,
  overrides: Partial<CreateLedgerInput> = {},
): Promise<Ledger> {
  const { value } = await store.createLedger(createInput(overrides));
  if (fundsMinor > 0n) {
    await store.recordEntry(entryInput(value.id, "CREDIT_ADD", fundsMinor));
  }
  return value;
}

/** The LedgerError a promise rejects with, checked against the expected reason. */
export async function rejection(
  promise: Promise<unknown>,
  reason: ErrorReason,
): Promise<LedgerError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(LedgerError);
  expect((error as LedgerError).reason).toBe(reason);
  return error as LedgerError;
}
