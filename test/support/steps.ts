/**
 * Steps shared by the end-to-end specs, written against the normalized
 * LedgerApi so they run through any of the three clients.
 */
import { expect } from "vitest";
import {
  type CodeName,
  type CreateLedgerParams,
  type Entry,
  ERROR_DOMAIN,
  failureOf,
  type Ledger,
  type LedgerApi,
  type RpcFailure,
} from "./clients.js";
import { declaredApp, uniqueKey, uniqueOwner } from "./fixtures.js";

/** Opens a ledger in a declared app (content) for a fresh owner unless the params say otherwise. */
export async function openLedger(
  api: LedgerApi,
  params: Partial<CreateLedgerParams> = {},
): Promise<Ledger> {
  const { value } = await api.createLedger({
    app: declaredApp(),
    ownerId: uniqueOwner(),
    unit: "CREDITS",
    idempotencyKey: uniqueKey("create"),
    ...params,
  });
  return value;
}

/** Records one operation with a fresh idempotency key. */
/** ReverseTransaction of all (`amount` absent) or part of a transaction, under a fresh key. */
export function reverse(api: LedgerApi, transactionId: string, amount?: bigint) {
  return api.reverseTransaction({
    transactionId,
    idempotencyKey: uniqueKey("reverse"),
    ...(amount === undefined ? {} : { amount }),
  });
}

export async function post(
  api: LedgerApi,
  ledgerId: string,
  operation: string,
  amount?: bigint,
): Promise<Entry> {
  const { value } = await api.recordEntry({
    ledgerId,
    operation,
    idempotencyKey: uniqueKey(operation.toLowerCase()),
    ...(amount === undefined ? {} : { amount }),
  });
  return value;
}

/** More pages than any spec writes; a runaway page token fails instead of looping. */
const LIST_PAGES_MAX = 100;

/** Every entry of a ledger, newest first, read page by page. */
export async function allEntries(api: LedgerApi, ledgerId: string): Promise<Entry[]> {
  const entries: Entry[] = [];
  let pageToken = "";
  for (let page = 0; page < LIST_PAGES_MAX; page += 1) {
    const result = await api.listEntries({ ledgerId, pageSize: 500, pageToken });
    entries.push(...result.items);
    if (result.nextPageToken === "") {
      return entries;
    }
    pageToken = result.nextPageToken;
  }
  throw new Error(`ListEntries of ${ledgerId} did not end within ${LIST_PAGES_MAX} pages`);
}

export interface LedgerSnapshot {
  readonly balance: bigint;
  readonly version: bigint;
  readonly entryCount: number;
}

/** What a refused write must leave untouched (works on terminated ledgers too). */
export async function snapshot(api: LedgerApi, ledgerId: string): Promise<LedgerSnapshot> {
  const ledger = await api.getLedger(ledgerId);
  const entries = await allEntries(api, ledgerId);
  return { balance: ledger.balance, version: ledger.version, entryCount: entries.length };
}

/**
 * The ledger's history as the API shows it is one consistent chain: newest
 * first, sequences exactly n..1, each balance_after the previous one plus the
 * amount, the last equal to the ledger's balance and version.
 */
export async function expectConsistentHistory(api: LedgerApi, ledgerId: string): Promise<Entry[]> {
  const ledger = await api.getLedger(ledgerId);
  const newestFirst = await allEntries(api, ledgerId);
  const oldestFirst = [...newestFirst].reverse();
  expect(oldestFirst.map((e) => e.sequence)).toEqual(oldestFirst.map((_, i) => BigInt(i + 1)));
  let running = 0n;
  for (const entry of oldestFirst) {
    running += entry.amount;
    expect(entry.ledgerId).toBe(ledgerId);
    expect(entry.balanceAfter, `balance_after of sequence ${entry.sequence}`).toBe(running);
  }
  expect(ledger.balance).toBe(running);
  expect(ledger.version).toBe(BigInt(oldestFirst.length));
  return newestFirst;
}

/** A failed call's code, reason and domain, and at least `metadata` in its ErrorInfo. */
export function expectRefusal(
  failure: RpcFailure,
  code: CodeName,
  reason: string,
  metadata: Record<string, string> = {},
): void {
  expect(
    { code: failure.code, reason: failure.reason, domain: failure.domain },
    failure.message,
  ).toEqual({ code, reason, domain: ERROR_DOMAIN });
  expect(failure.metadata, failure.message).toMatchObject(metadata);
}

/** The failure a stream ends with (drained until then). */
export function streamFailure(stream: AsyncIterable<unknown>): Promise<RpcFailure> {
  return failureOf(
    (async () => {
      for await (const _ of stream) {
        // drained
      }
    })(),
  );
}
