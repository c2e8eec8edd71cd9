import type { EntityManager } from "@mikro-orm/postgresql";
import { idempotencyKeyReused, invariant } from "../domain/index.js";
import { IdempotencyKeyEntity } from "./entities/index.js";

export interface IdempotencyClaim {
  /** The key's scope: the app of the resource written. */
  readonly app: string;
  readonly key: string;
  /** The RPC method, e.g. "RecordEntry". */
  readonly method: string;
  readonly requestHash: string;
  /** The id the write will give its result. */
  readonly resourceId: string;
  readonly now: Date;
}

export type ClaimOutcome =
  | { readonly kind: "claimed" }
  | { readonly kind: "replay"; readonly resourceId: string };

/**
 * Claims an idempotency key inside the write's transaction. A concurrent
 * claim of the same key waits on the primary key until the first commits
 * (then this one sees its row) or rolls back (then this one claims it). The
 * claim rolls back with a failed write, so a retry is evaluated afresh.
 *
 * IDEMPOTENCY_KEY_REUSED when the key was used for another method or request.
 */
export async function claimIdempotencyKey(
  em: EntityManager,
  claim: IdempotencyClaim,
): Promise<ClaimOutcome> {
  const inserted = await em.execute<{ app: string }[]>(
    `insert into idempotency_keys (app, key, method, request_hash, resource_id, created_at)
     values (?, ?, ?, ?, ?, ?)
     on conflict (app, key) do nothing
     returning app`,
    [claim.app, claim.key, claim.method, claim.requestHash, claim.resourceId, claim.now],
  );
  if (inserted.length === 1) {
    return { kind: "claimed" };
  }
  const stored = await em.findOne(IdempotencyKeyEntity, { app: claim.app, key: claim.key });
  invariant(stored !== null, `idempotency key ${claim.key} conflicted but cannot be read`);
  if (stored.method !== claim.method || stored.requestHash !== claim.requestHash) {
    throw idempotencyKeyReused(claim.key);
  }
  return { kind: "replay", resourceId: stored.resourceId };
}
