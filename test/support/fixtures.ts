/**
 * Names and randomness for the specs. The server accepts only the apps
 * declared under proto/apps/ (gen/apps/registry.ts), so specs that go through
 * it share those apps; a test isolates itself by its own owner ids
 * (uniqueOwner), idempotency keys (uniqueKey) and external transaction ids
 * (uniqueExternalId, since those are unique per app), never by inventing an
 * app. Only store-level specs, which the store lets name any app, use
 * uniqueApp().
 */
import { randomUUID } from "node:crypto";
import { CONTENT_APP, LEARNING_APP } from "../../gen/apps/registry.js";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";

let counter = 0;

function suffix(): string {
  counter += 1;
  return `${process.pid.toString(36)}${Date.now().toString(36)}${counter.toString(36)}`;
}

/** App "content" (apps/content/v1/content.proto): the shared operations and CONTENT_CREATION, CONTENT_ACCESS. */
export const CONTENT: string = CONTENT_APP.app;

/** App "learning" (apps/learning/v1/learning.proto): the second declared app, for cross-app cases. */
export const LEARNING: string = LEARNING_APP.app;

/**
 * The app of a test that only needs some declared app (shared operations
 * only): isolation comes from unique owners, keys and external ids, never
 * from the app, so ListLedgers of it may hold other tests' ledgers.
 */
export function declaredApp(): string {
  return CONTENT;
}

/**
 * A fresh app name matching the app pattern (lowercase, starts with a
 * letter). For store-level specs only: the server refuses undeclared apps
 * (UNKNOWN_APP), so anything sent to it uses declaredApp(), CONTENT or LEARNING.
 */
export function uniqueApp(label = "app"): string {
  return `${label}-${suffix()}`;
}

export function uniqueOwner(label = "owner"): string {
  return `${label}-${suffix()}`;
}

export function uniqueKey(label = "key"): string {
  return `${label}-${randomUUID()}`;
}

/** A fresh external transaction id: those are unique per app, and tests share the declared apps. */
export function uniqueExternalId(label = "ext"): string {
  return `${label}-${randomUUID()}`;
}

/** A syntactically valid id that names nothing. */
export function absentId(): string {
  return randomUUID();
}

/** Every LedgerService RPC, in the proto's order (from the generated descriptor). */
export const LEDGER_METHODS: readonly string[] = LedgerService.methods.map((method) => method.name);

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
