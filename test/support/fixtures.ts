/**
 * Names and randomness for end-to-end specs. Every test works in its own app
 * (and so its own idempotency-key scope) so tests sharing one server and one
 * database never see each other's ledgers.
 */
import { randomUUID } from "node:crypto";

let counter = 0;

function suffix(): string {
  counter += 1;
  return `${process.pid.toString(36)}${Date.now().toString(36)}${counter.toString(36)}`;
}

/** A fresh app name matching the app pattern (lowercase, starts with a letter). */
export function uniqueApp(label = "app"): string {
  return `${label}-${suffix()}`;
}

export function uniqueOwner(label = "owner"): string {
  return `${label}-${suffix()}`;
}

export function uniqueKey(label = "key"): string {
  return `${label}-${randomUUID()}`;
}

/** A syntactically valid id that names nothing. */
export function absentId(): string {
  return randomUUID();
}

/** Every LedgerService RPC, in the proto's order. */
export const LEDGER_METHODS: readonly string[] = [
  "CreateLedger",
  "GetLedger",
  "ListLedgers",
  "RecordEntry",
  "RecordEntries",
  "Transfer",
  "CreateTransfers",
  "ReverseTransaction",
  "GetTransaction",
  "GetBalance",
  "ListEntries",
  "TerminateLedger",
];

export const INT64_MAX = 2n ** 63n - 1n;
export const INT64_MIN = -(2n ** 63n);

/** Runs `task` over `items` with at most `concurrency` in flight, keeping order. */
export async function mapBounded<T, R>(
  items: readonly T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let nextIndex = 0;
  const worker = async (): Promise<void> => {
    while (nextIndex < items.length) {
      const index = nextIndex;
      nextIndex += 1;
      results[index] = await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** An integer from the environment (a seed, a run count), or undefined when unset or empty. */
export function envInteger(name: string): number | undefined {
  const raw = process.env[name];
  return raw === undefined || raw === "" ? undefined : Number.parseInt(raw, 10);
}
