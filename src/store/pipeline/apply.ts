import { v7 as uuidv7 } from "uuid";
import {
  type BulkList,
  type CreateLedgerInput,
  createLedgerRule,
  type Entry,
  idempotencyKeyReused,
  invariant,
  type Ledger,
  LedgerError,
  ledgerNotFound,
  type OperationRegistry,
  type RecordEntryInput,
  type ReverseTransactionInput,
  recordEntryRule,
  requestFingerprint,
  reversalRule,
  type Transaction,
  type TransferInput,
  terminateLedgerRule,
  transactionNotFound,
  transferRule,
  type WriteResult,
} from "../../domain/index.js";
import type { BatchState, CommandResult } from "./state.js";

/** One write, as the pipeline queues, batches and applies it. */
export type Command =
  | { readonly kind: "create"; readonly input: CreateLedgerInput }
  | { readonly kind: "record"; readonly input: RecordEntryInput }
  | { readonly kind: "transfer"; readonly input: TransferInput }
  | { readonly kind: "reverse"; readonly input: ReverseTransactionInput }
  | { readonly kind: "terminate"; readonly ledgerId: string };

/** The ledgers a command names directly (a reversal's are its original's, known once read). */
export function namedLedgerIds(command: Command): readonly string[] {
  switch (command.kind) {
    case "record":
      return [command.input.ledgerId];
    case "transfer":
      return [command.input.fromLedgerId, command.input.toLedgerId];
    case "terminate":
      return [command.ledgerId];
    case "create":
    case "reverse":
      return [];
  }
}

/** A command's answer: its result, or the LedgerError (or bug) that refused it. */
export type Outcome =
  | { readonly ok: true; readonly value: CommandResult; readonly replayed: boolean }
  | { readonly ok: false; readonly error: unknown };

/** An idempotency key stored by an earlier batch, with the answer a replay returns. */
export interface StoredKey {
  readonly method: string;
  readonly requestHash: string;
  /** undefined when the key was stored for another method or request (no replay). */
  readonly result: CommandResult | undefined;
}

export interface ApplyContext {
  readonly now: Date;
  readonly operations: OperationRegistry;
  storedKey(app: string, key: string): StoredKey | undefined;
}

/** The RPC method a command's idempotency key is claimed for. */
export const METHODS = {
  create: "CreateLedger",
  record: "RecordEntry",
  transfer: "Transfer",
  reverse: "ReverseTransaction",
  terminate: "TerminateLedger",
} as const satisfies Record<Command["kind"], string>;

/**
 * Applies one caller's commands in order. Not atomic: each succeeds or fails
 * alone. Atomic: on a scratch fork, kept only when all succeed; otherwise
 * every command fails with the first failure, which names its index.
 */
export function applyUnit(
  state: BatchState,
  commands: readonly Command[],
  atomic: boolean,
  context: ApplyContext,
): Outcome[] {
  if (!atomic) {
    return commands.map((command) => outcomeOf(() => applyCommand(state, command, context)));
  }
  const scratch = state.fork();
  const results: Outcome[] = [];
  for (const [index, command] of commands.entries()) {
    const outcome = outcomeOf(() => applyCommand(scratch, command, context));
    if (!outcome.ok) {
      const error = itemError(
        outcome.error,
        command.kind === "transfer" ? "transfers" : "entries",
        index,
      );
      return commands.map(() => ({ ok: false, error }));
    }
    results.push(outcome);
  }
  scratch.merge();
  return results;
}

function outcomeOf(apply: () => WriteResult<CommandResult>): Outcome {
  try {
    return { ok: true, ...apply() };
  } catch (error) {
    if (error instanceof LedgerError) {
      return { ok: false, error };
    }
    throw error;
  }
}

/** The failure of item `index` of a bulk call, as the whole call reports it. */
export function itemError(error: unknown, list: BulkList, index: number): unknown {
  if (!(error instanceof LedgerError)) {
    return error;
  }
  return new LedgerError(error.reason, `${list}[${index}]: ${error.message}`, {
    ...error.metadata,
    index: String(index),
  });
}

/**
 * Applies one command to the batch's state: the existence checks, then the
 * idempotency key (so a replay succeeds whatever the state now), then the
 * command's rule. Throws the LedgerError that refuses it, changing nothing.
 */
export function applyCommand(
  state: BatchState,
  command: Command,
  context: ApplyContext,
): WriteResult<CommandResult> {
  switch (command.kind) {
    case "record": {
      const ledger = lockedLedger(state, command.input.ledgerId);
      return once(state, context, command, ledger.app, (id) =>
        firstEntry(
          state.post(recordEntryRule(ledger, command.input, context.operations, id, context.now)),
        ),
      );
    }
    case "transfer": {
      const from = lockedLedger(state, command.input.fromLedgerId);
      const to = lockedLedger(state, command.input.toLedgerId);
      return once(state, context, command, from.app, (id) =>
        state.post(transferRule(from, to, command.input, context.operations, id, context.now)),
      );
    }
    case "reverse": {
      const original = state.transaction(command.input.transactionId);
      if (original === undefined) {
        throw transactionNotFound(command.input.transactionId);
      }
      return once(state, context, command, original.app, (id) => {
        const reversal = state.post(reversalRule(original, command.input, id, context.now));
        state.addReversed(original.id, reversal.amountMinor);
        return reversal;
      });
    }
    case "create": {
      const { input } = command;
      return once(state, context, command, input.app, (id) => {
        const active = state.activeLedgerId(input.app, input.ownerId, input.unit);
        const ledger = createLedgerRule(input, active, id, context.now);
        state.create(ledger);
        return ledger;
      });
    }
    case "terminate": {
      const ledger = lockedLedger(state, command.ledgerId);
      const terminated = terminateLedgerRule(ledger, context.now);
      if (terminated !== ledger) {
        state.terminate(terminated);
      }
      return { value: terminated, replayed: false };
    }
  }
}

/**
 * The one idempotent-write protocol: a key claimed earlier in this batch or
 * stored by an earlier one replays its answer when method and request match,
 * and is IDEMPOTENCY_KEY_REUSED otherwise; a free key is claimed for the
 * write `perform` makes under a new id. A command that throws claims nothing.
 */
function once(
  state: BatchState,
  context: ApplyContext,
  command: Exclude<Command, { kind: "terminate" }>,
  app: string,
  perform: (id: string) => CommandResult,
): WriteResult<CommandResult> {
  const method = METHODS[command.kind];
  const { idempotencyKey: key } = command.input;
  const requestHash = requestFingerprint(method, command.input);
  const earlier = state.claim(app, key) ?? context.storedKey(app, key);
  if (earlier !== undefined) {
    if (earlier.method !== method || earlier.requestHash !== requestHash) {
      throw idempotencyKeyReused(key);
    }
    invariant(earlier.result !== undefined, `the answer to key ${key} was not read`);
    return { value: earlier.result, replayed: true };
  }
  const resourceId = uuidv7();
  const result = perform(resourceId);
  state.addClaim({ app, key, method, requestHash, resourceId, createdAt: context.now, result });
  return { value: result, replayed: false };
}

function lockedLedger(state: BatchState, ledgerId: string): Ledger {
  const ledger = state.ledger(ledgerId);
  if (ledger === undefined) {
    throw ledgerNotFound(ledgerId);
  }
  return ledger;
}

function firstEntry(transaction: Transaction): Entry {
  const [entry] = transaction.entries;
  invariant(entry !== undefined, `transaction ${transaction.id} recorded no entry`);
  return entry;
}
