import type { EntityManager } from "@mikro-orm/postgresql";
import { v7 as uuidv7 } from "uuid";
import {
  idempotencyKeyReused,
  invariant,
  requestFingerprint,
  type WriteResult,
} from "../domain/index.js";
import { IdempotencyKeyEntity } from "./entities/index.js";

/**
 * A write made at most once per idempotency key: every write command goes
 * through writeOnce, which alone gives the result its id, fingerprints the
 * request, claims the key, and turns a repeated request into a replay.
 */
export interface IdempotentWrite<T> {
  /** The RPC method, e.g. "RecordEntry": a key used for another method is refused. */
  readonly method: string;
  /** The key's scope: the app of the resource written. */
  readonly app: string;
  /** The request; its fingerprint (idempotency key excluded) tells a replay from a reuse. */
  readonly input: { readonly idempotencyKey: string };
  readonly now: Date;
  /** The result stored by the earlier write that claimed the key for `resourceId`. */
  replay(resourceId: string): Promise<T>;
  /** The write itself, once the key is claimed; its result gets the id `resourceId`. */
  perform(resourceId: string): Promise<T>;
}

/**
 * Claims the key inside the caller's transaction, then performs the write or
 * replays the stored result. IDEMPOTENCY_KEY_REUSED when the key was used for
 * another method or request; whatever `perform` throws rolls the claim back.
 */
export async function writeOnce<T>(
  em: EntityManager,
  write: IdempotentWrite<T>,
): Promise<WriteResult<T>> {
  const resourceId = uuidv7();
  const claim = await claimIdempotencyKey(em, {
    app: write.app,
    key: write.input.idempotencyKey,
    method: write.method,
    requestHash: requestFingerprint(write.method, write.input),
    resourceId,
    now: write.now,
  });
  if (claim.kind === "replay") {
    return { value: await write.replay(claim.resourceId), replayed: true };
  }
  return { value: await write.perform(resourceId), replayed: false };
}

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
async function claimIdempotencyKey(
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
