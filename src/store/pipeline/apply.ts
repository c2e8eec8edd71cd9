import { v7 as uuidv7 } from "uuid";
import {
  type BulkList,
  type CreateLedgerInput,
  createLedgerRule,
  type Entry,
  type Hold,
  idempotencyKeyReused,
  invariant,
  type Ledger,
  LedgerError,
  ledgerNotFound,
  openHold,
  type PostPendingInput,
  postAmount,
  type RecordEntryInput,
  type ReverseTransactionInput,
  type RuleContext,
  recordEntryRule,
  requestFingerprint,
  reversalRule,
  stateAt,
  type Transaction,
  type TransferInput,
  terminateLedgerRule,
  transactionNotFound,
  transferRule,
  type VoidPendingInput,
  type WriteResult,
} from "../../domain/index.js";
import { RetryableConflict } from "../db-errors.js";
import type { BatchState, CommandResult } from "./state.js";

/** One write, as the pipeline queues, batches and applies it. */
export type Command =
  | { readonly kind: "create"; readonly input: CreateLedgerInput }
  | { readonly kind: "record"; readonly input: RecordEntryInput }
  | { readonly kind: "transfer"; readonly input: TransferInput }
  | { readonly kind: "reverse"; readonly input: ReverseTransactionInput }
  | { readonly kind: "post"; readonly input: PostPendingInput }
  | { readonly kind: "void"; readonly input: VoidPendingInput }
  | { readonly kind: "terminate"; readonly ledgerId: string; readonly voidPending: boolean }
  /** The sweep's: marks a hold past its deadline EXPIRED (no key; a no-op once it is not pending). */
  | { readonly kind: "expire"; readonly transactionId: string };

/** The transaction a command names: reversed, posted, voided or expired. */
export function namedTransactionId(command: Command): string | undefined {
  switch (command.kind) {
    case "reverse":
    case "post":
    case "void":
      return command.input.transactionId;
    case "expire":
      return command.transactionId;
    default:
      return undefined;
  }
}

/**
 * The ledgers a command names directly (those of a transaction it names
 * are known once the transaction is read).
 */
export function namedLedgerIds(command: Command): readonly string[] {
  switch (command.kind) {
    case "record":
      return [command.input.ledgerId];
    case "transfer":
      return [command.input.fromLedgerId, command.input.toLedgerId];
    case "terminate":
      return [command.ledgerId];
    default:
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

export interface ApplyContext extends RuleContext {
  storedKey(app: string, key: string): StoredKey | undefined;
}

/** The RPC method a command's idempotency key is claimed for. */
export const METHODS = {
  create: "CreateLedger",
  record: "RecordEntry",
  transfer: "Transfer",
  reverse: "ReverseTransaction",
  post: "PostPendingTransaction",
  void: "VoidPendingTransaction",
} as const satisfies Record<KeyedCommand["kind"], string>;

/** The commands that take an idempotency key. */
export type KeyedCommand = Exclude<Command, { kind: "terminate" | "expire" }>;

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
      return once(state, context, command, ledger.app, (id) => {
        const written = state.post(recordEntryRule(ledger, command.input, id, context));
        return written.hold === undefined ? firstEntry(written) : written;
      });
    }
    case "transfer": {
      const from = lockedLedger(state, command.input.fromLedgerId);
      const to = lockedLedger(state, command.input.toLedgerId);
      return once(state, context, command, from.app, (id) =>
        state.post(transferRule(from, to, command.input, id, context)),
      );
    }
    case "reverse": {
      const original = lockedTransaction(state, command.input.transactionId);
      return once(state, context, command, original.app, (id) => {
        const reversal = state.post(reversalRule(original, command.input, id, context.now));
        state.addReversed(original.id, reversal.amountMinor);
        return reversal;
      });
    }
    case "post":
      return resolveHold(state, context, command, (held, hold) =>
        state.postHold(held.id, postAmount(held, hold, command.input), context.now),
      );
    case "void":
      return resolveHold(state, context, command, (held) => state.voidHold(held.id, context.now));
    case "expire": {
      const held = lockedTransaction(state, command.transactionId);
      const expired = state.expireHold(held.id, context.now);
      return { value: lockedTransaction(state, held.id), replayed: !expired };
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
      if (command.voidPending) {
        voidOpenHolds(state, command.ledgerId, context.now);
      }
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
  command: KeyedCommand,
  app: string,
  perform: (id: string) => CommandResult,
  /** What the key is stored for: a new id, or the hold a post or void resolves. */
  resourceId: string = uuidv7(),
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

/**
 * A post or void: the hold must be open (openHold), and its key is stored
 * for the hold itself, so a replay answers the transaction it resolved.
 */
function resolveHold(
  state: BatchState,
  context: ApplyContext,
  command: Extract<Command, { kind: "post" | "void" }>,
  resolve: (held: Transaction, hold: Hold) => Transaction,
): WriteResult<CommandResult> {
  const held = lockedTransaction(state, command.input.transactionId);
  return once(
    state,
    context,
    command,
    held.app,
    () => resolve(held, openHold(held, context.now)),
    held.id,
  );
}

function lockedTransaction(state: BatchState, transactionId: string): Transaction {
  const transaction = state.transaction(transactionId);
  if (transaction === undefined) {
    throw transactionNotFound(transactionId);
  }
  return transaction;
}

/**
 * Voids every open hold on a ledger before it is terminated: the loader read
 * them (state.openHoldIds) and locked them and all their ledgers. A hold
 * created after that read and before the lock leaves the ledger holding
 * something, and the batch runs again.
 */
function voidOpenHolds(state: BatchState, ledgerId: string, now: Date): void {
  for (const holdId of state.openHoldIds(ledgerId)) {
    const held = lockedTransaction(state, holdId);
    if (stateAt(held, now) === "PENDING") {
      state.voidHold(holdId, now);
    }
  }
  const ledger = lockedLedger(state, ledgerId);
  if (
    ledger.status === "ACTIVE" &&
    (ledger.pendingDebitsMinor > 0n || ledger.pendingCreditsMinor > 0n)
  ) {
    throw new RetryableConflict(`a hold on ledger ${ledgerId} was created concurrently`);
  }
}

function firstEntry(transaction: Transaction): Entry {
  const [entry] = transaction.entries;
  invariant(entry !== undefined, `transaction ${transaction.id} recorded no entry`);
  return entry;
}
