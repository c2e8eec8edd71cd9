import { v7 as uuidv7 } from "uuid";
import {
  assertNoOpenHolds,
  type BulkList,
  type CreateLedgerInput,
  createLedgerRule,
  type Entry,
  EXPIRY_OPERATION,
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
  SWEEP_OPERATION,
  stateAt,
  sweepRule,
  type TerminateLedgerInput,
  type Termination,
  type Transaction,
  type TransferInput,
  terminateLedgerRule,
  transactionNotFound,
  transferRule,
  type VoidPendingInput,
  type WriteResult,
  withinWindow,
} from "../../domain/index.js";
import { RetryableConflict } from "../db-errors.js";
import { assertActsFor, type Scope } from "../scope.js";
import type { BatchState, CommandResult } from "./state.js";

/**
 * One write, as the pipeline queues, batches and applies it, with the scope
 * of its caller: a batch carries commands of several callers, so each
 * command sees only what its own caller may (scope.ts).
 */
export type Command = CommandBody & { readonly scope: Scope };

/** A command without its scope: what a store method asks for. */
export type CommandBody =
  | { readonly kind: "create"; readonly input: CreateLedgerInput }
  | { readonly kind: "record"; readonly input: RecordEntryInput }
  | { readonly kind: "transfer"; readonly input: TransferInput }
  | { readonly kind: "reverse"; readonly input: ReverseTransactionInput }
  | { readonly kind: "post"; readonly input: PostPendingInput }
  | { readonly kind: "void"; readonly input: VoidPendingInput }
  | {
      readonly kind: "terminate";
      readonly ledgerId: string;
      readonly voidPending: boolean;
      readonly sweepToLedgerId?: string | undefined;
    }
  /** The sweep's: marks a hold past its deadline EXPIRED (no key; a no-op once it is not pending). */
  | { readonly kind: "expire"; readonly transactionId: string }
  /**
   * The expiry sweep's: closes a ledger past its valid_until, its remainder
   * moved to expireToLedgerId (no key; a no-op once it is terminated).
   */
  | {
      readonly kind: "expire-ledger";
      readonly ledgerId: string;
      readonly expireToLedgerId: string;
    };

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
    case "create":
      return command.input.expireToLedgerId === undefined ? [] : [command.input.expireToLedgerId];
    case "terminate":
      return command.sweepToLedgerId === undefined
        ? [command.ledgerId]
        : [command.ledgerId, command.sweepToLedgerId];
    case "expire-ledger":
      return [command.ledgerId, command.expireToLedgerId];
    default:
      return [];
  }
}

/** A command's answer: its result, or the LedgerError (or bug) that refused it. */
export type Outcome =
  | {
      readonly ok: true;
      readonly value: CommandResult;
      readonly replayed: boolean;
      readonly recomputedEntries?: number | undefined;
    }
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
export type KeyedCommand = Exclude<Command, { kind: "terminate" | "expire" | "expire-ledger" }>;

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
      const ledger = lockedLedger(state, command.input.ledgerId, command.scope);
      const result = once(state, context, command, ledger.app, (id) => {
        const written = state.post(recordEntryRule(ledger, command.input, id, context));
        return written.hold === undefined ? firstEntry(written) : written;
      });
      return command.input.createdAt !== undefined && "transactionId" in result.value
        ? { ...result, recomputedEntries: state.recomputedBy(result.value.transactionId) }
        : result;
    }
    case "transfer": {
      const from = lockedLedger(state, command.input.fromLedgerId, command.scope);
      const to = lockedLedger(state, command.input.toLedgerId, command.scope);
      return once(state, context, command, from.app, (id) =>
        state.post(transferRule(from, to, command.input, id, context)),
      );
    }
    case "reverse": {
      const original = lockedTransaction(state, command.input.transactionId, command.scope);
      return once(state, context, command, original.app, (id) => {
        const reversal = state.post(reversalRule(original, command.input, id, context.now));
        state.addReversed(original.id, reversal.amountMinor);
        return reversal;
      });
    }
    case "post":
      return resolveHold(state, context, command, (held, hold) =>
        state.postHold(
          held.id,
          postAmount(held, hold, command.input, context.operations),
          context.now,
        ),
      );
    case "void":
      return resolveHold(state, context, command, (held) => state.voidHold(held.id, context.now));
    case "expire": {
      const held = lockedTransaction(state, command.transactionId, command.scope);
      const expired = state.expireHold(held.id, context.now);
      return { value: lockedTransaction(state, held.id, command.scope), replayed: !expired };
    }
    case "create": {
      const { input } = command;
      assertActsFor(input.app, command.scope);
      return once(state, context, command, input.app, (id) => {
        const active = state.activeLedgerId(input.app, input.ownerId, input.unit);
        const expireTo =
          input.expireToLedgerId === undefined
            ? undefined
            : state.ledger(input.expireToLedgerId, command.scope);
        const ledger = createLedgerRule(input, active, expireTo, id, context.now);
        state.create(ledger);
        return ledger;
      });
    }
    case "terminate":
      return {
        value: closeLedger(state, command, command.scope, SWEEP_OPERATION, context.now),
        replayed: false,
      };
    case "expire-ledger":
      return expireLedger(state, command, context.now);
  }
}

/**
 * Closes a ledger: its open holds voided first when asked (else
 * LEDGER_HAS_PENDING_TRANSACTIONS), its remainder moved by a transfer under
 * `operation` when it names where to, then TERMINATED. A terminated ledger
 * stays as it is. Windows do not apply: closing is allowed at any time.
 */
function closeLedger(
  state: BatchState,
  command: TerminateLedgerInput,
  scope: Scope,
  operation: string,
  now: Date,
): Termination {
  const locked = lockedLedger(state, command.ledgerId, scope);
  if (locked.status === "TERMINATED") {
    return { ledger: locked, remainingMinor: locked.balanceMinor, sweep: undefined };
  }
  if (command.voidPending) {
    voidOpenHolds(state, command.ledgerId, scope, now);
  }
  assertNoOpenHolds(lockedLedger(state, command.ledgerId, scope));
  const sweep =
    command.sweepToLedgerId === undefined
      ? undefined
      : sweepRule(
          lockedLedger(state, command.ledgerId, scope),
          lockedLedger(state, command.sweepToLedgerId, scope),
          operation,
          uuidv7(),
          now,
        );
  const swept = sweep === undefined ? undefined : state.post(sweep, false);
  const terminated = terminateLedgerRule(lockedLedger(state, command.ledgerId, scope), now);
  state.terminate(terminated);
  return { ledger: terminated, remainingMinor: terminated.balanceMinor, sweep: swept };
}

/**
 * The expiry sweep of one ledger, exactly once: under its lock, a ledger
 * still active and past its valid_until has its holds voided, its positive
 * balance moved to the ledger named at creation (EXPIRY), and is
 * terminated. Anything else (already closed, not yet due) is a no-op,
 * answered as replayed. A target closed since, or not yet valid (or past
 * its own window), keeps nothing: the remainder stays on the expired
 * ledger, and the answer says how much.
 */
function expireLedger(
  state: BatchState,
  command: Extract<Command, { kind: "expire-ledger" }>,
  now: Date,
): WriteResult<CommandResult> {
  const ledger = lockedLedger(state, command.ledgerId, command.scope);
  const due =
    ledger.status === "ACTIVE" &&
    ledger.validUntil !== undefined &&
    ledger.validUntil.getTime() <= now.getTime();
  if (!due) {
    return {
      value: { ledger, remainingMinor: ledger.balanceMinor, sweep: undefined },
      replayed: true,
    };
  }
  const target = state.ledger(command.expireToLedgerId, command.scope);
  const movable =
    ledger.balanceMinor > 0n && target?.status === "ACTIVE" && withinWindow(target, now);
  const closing = {
    ledgerId: ledger.id,
    voidPending: true,
    sweepToLedgerId: movable ? command.expireToLedgerId : undefined,
  };
  return {
    value: closeLedger(state, closing, command.scope, EXPIRY_OPERATION, now),
    replayed: false,
  };
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

/** The ledger as the batch left it; LEDGER_NOT_FOUND when it does not exist for the scope. */
function lockedLedger(state: BatchState, ledgerId: string, scope: Scope): Ledger {
  const ledger = state.ledger(ledgerId, scope);
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
  const held = lockedTransaction(state, command.input.transactionId, command.scope);
  return once(
    state,
    context,
    command,
    held.app,
    () => resolve(held, openHold(held, context.now)),
    held.id,
  );
}

function lockedTransaction(state: BatchState, transactionId: string, scope: Scope): Transaction {
  const transaction = state.transaction(transactionId, scope);
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
function voidOpenHolds(state: BatchState, ledgerId: string, scope: Scope, now: Date): void {
  for (const holdId of state.openHoldIds(ledgerId)) {
    const held = lockedTransaction(state, holdId, scope);
    if (stateAt(held, now) === "PENDING") {
      state.voidHold(holdId, now);
    }
  }
  const ledger = lockedLedger(state, ledgerId, scope);
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
