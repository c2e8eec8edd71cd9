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

export const INT64_MAX = 2n ** 63n - 1n;
export const INT64_MIN = -(2n ** 63n);

/**
 * A small seeded PRNG (mulberry32). The seed comes from LEDGER_TEST_SEED when
 * set, so a failing randomized run can be replayed exactly.
 */
export interface Random {
  readonly seed: number;
  /** In [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(probability: number): boolean;
}

export function seededRandom(seed = seedFromEnv()): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => {
      if (items.length === 0) {
        throw new Error("pick from an empty list");
      }
      return items[Math.floor(next() * items.length)] as (typeof items)[number];
    },
    chance: (probability) => next() < probability,
  };
}

function seedFromEnv(): number {
  const fromEnv = process.env.LEDGER_TEST_SEED;
  if (fromEnv !== undefined && fromEnv !== "") {
    return Number.parseInt(fromEnv, 10) >>> 0;
  }
  return (Math.random() * 2 ** 32) >>> 0;
}

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
