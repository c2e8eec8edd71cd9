import type { EntityManager } from "@mikro-orm/postgresql";
import type { RuleContext } from "../../domain/index.js";
import { applyUnit, type Command, type Outcome } from "./apply.js";
import { loadBatch } from "./load.js";
import { writeBatch } from "./write.js";

/** One caller's commands that succeed or fail together (atomic), or one command. */
export interface BatchUnit {
  readonly commands: readonly Command[];
  readonly atomic: boolean;
}

/** `now` is the batch's one reading of the clock: every row it writes carries it. */
export interface BatchContext extends RuleContext {
  /** Cancels the statement in flight; only a batch of one caller has one. */
  readonly signal: AbortSignal | undefined;
  /** Told how long the ledgers' lock statement took (for metrics). */
  readonly onLocked?: ((seconds: number) => void) | undefined;
}

/**
 * One batch in the caller's transaction: lock and read (load.ts), apply
 * every unit in arrival order to the in-memory state (apply.ts), write
 * (write.ts). Returns each unit's outcomes; a command refused by its rule
 * fails alone and claims nothing, while any error thrown here is the whole
 * batch's (the group committer retries or splits it).
 */
export async function runBatch(
  em: EntityManager,
  units: readonly BatchUnit[],
  context: BatchContext,
): Promise<Outcome[][]> {
  const loaded = await loadBatch(
    em,
    units.flatMap((unit) => unit.commands),
    context.now,
    context.signal,
    context.onLocked,
  );
  const applying = { ...context, storedKey: loaded.storedKey };
  const outcomes = units.map((unit) =>
    applyUnit(loaded.state, unit.commands, unit.atomic, applying),
  );
  await writeBatch(em, loaded.state.writes(), context.signal);
  return outcomes;
}
