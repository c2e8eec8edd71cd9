import { LedgerError } from "./errors.js";
import { invariant } from "./invariant.js";

/** Which sign an operation's amount must have. */
export type Direction = "CREDIT" | "DEBIT" | "EITHER";

export interface OperationPolicy {
  readonly name: string;
  readonly direction: Direction;
  /** Used when a request leaves the amount out. Its sign matches `direction`. */
  readonly defaultAmountMinor: bigint;
}

/**
 * The built-in operation of compensating entries. No app can record it
 * directly: only ReverseTransaction writes it.
 */
export const REVERSAL_OPERATION = "REVERSAL";

/** The built-in operation of both legs of a transfer that names none. */
export const TRANSFER_OPERATION = "TRANSFER";

/** The built-in operation of the transfer that moves an expired ledger's remainder. */
export const EXPIRY_OPERATION = "EXPIRY";

/** The built-in operation of the transfer TerminateLedger's sweep_to_ledger_id makes. */
export const SWEEP_OPERATION = "SWEEP";

/** Written by the service itself: never an app's operation, never recorded by RecordEntry. */
export const BUILT_IN_OPERATIONS: ReadonlySet<string> = new Set([
  REVERSAL_OPERATION,
  TRANSFER_OPERATION,
  EXPIRY_OPERATION,
  SWEEP_OPERATION,
]);

/** The operations each app may record. */
export interface OperationRegistry {
  operationsFor(app: string): ReadonlyMap<string, OperationPolicy>;
}

/** One declared app and every operation it may record, the shared ones included. */
export interface AppOperations {
  readonly app: string;
  readonly operations: readonly OperationPolicy[];
}

/**
 * What the registry is built from: in production the proto declarations
 * (ledger.v1.SharedOperation and proto/apps/<app>), generated into
 * gen/apps/registry.ts and adapted by src/store/app-operations.ts.
 */
export interface OperationCatalog {
  /** The operations every app has. */
  readonly shared: readonly OperationPolicy[];
  readonly apps: readonly AppOperations[];
}

/**
 * A declared app may record exactly its operations; an app that is not
 * declared may record only the shared ones (so a new app works at once with
 * the common operations, and gains its own by declaring them in proto).
 *
 * The generator already refuses a bad declaration; the same rules are
 * asserted here because a registry built by hand (a test, a future source)
 * must not weaken them: a violation is a programming error.
 */
export function createOperationRegistry(catalog: OperationCatalog): OperationRegistry {
  const shared = policyMap("the shared operations", catalog.shared);
  const byApp = new Map<string, ReadonlyMap<string, OperationPolicy>>();
  for (const { app, operations } of catalog.apps) {
    invariant(!byApp.has(app), `app "${app}" is declared twice`);
    const own = policyMap(`app "${app}"`, operations);
    for (const policy of shared.values()) {
      const declared = own.get(policy.name);
      invariant(declared !== undefined, `app "${app}" lacks the shared operation ${policy.name}`);
      invariant(
        declared.direction === policy.direction &&
          declared.defaultAmountMinor === policy.defaultAmountMinor,
        `app "${app}" changes the policy of the shared operation ${policy.name}`,
      );
    }
    byApp.set(app, own);
  }
  return { operationsFor: (app) => byApp.get(app) ?? shared };
}

function policyMap(
  owner: string,
  operations: readonly OperationPolicy[],
): ReadonlyMap<string, OperationPolicy> {
  const map = new Map<string, OperationPolicy>();
  for (const policy of operations) {
    invariant(
      !BUILT_IN_OPERATIONS.has(policy.name),
      `${owner} declares the built-in ${policy.name}`,
    );
    invariant(!map.has(policy.name), `${owner} declares ${policy.name} twice`);
    invariant(
      matchesDirection(policy.direction, policy.defaultAmountMinor),
      `${owner}: ${policy.name}'s default amount ${policy.defaultAmountMinor} is not a ${policy.direction}`,
    );
    map.set(policy.name, {
      name: policy.name,
      direction: policy.direction,
      defaultAmountMinor: policy.defaultAmountMinor,
    });
  }
  return map;
}

/**
 * Resolves the signed amount of an entry: the operation must belong to the
 * app, and the amount (or the operation's default) must match its direction.
 */
export function resolveEntryAmount(
  registry: OperationRegistry,
  app: string,
  operation: string,
  amountMinor: bigint | undefined,
): bigint {
  const policy = operationPolicy(registry, app, operation);
  const resolved = amountMinor ?? policy.defaultAmountMinor;
  if (!matchesDirection(policy.direction, resolved)) {
    throw new LedgerError(
      "AMOUNT_DIRECTION_MISMATCH",
      `operation ${operation} is a ${policy.direction.toLowerCase()}: amount ${resolved} has the wrong sign`,
      { operation, direction: policy.direction, amount: resolved.toString() },
    );
  }
  return resolved;
}

/**
 * The operation both legs of a transfer record: the app's `operation`, any
 * direction (a transfer's legs have both signs), or the built-in TRANSFER
 * when it is empty or names TRANSFER itself.
 * UNKNOWN_OPERATION for one the app does not know.
 */
export function resolveTransferOperation(
  registry: OperationRegistry,
  app: string,
  operation: string,
): string {
  if (operation === "" || operation === TRANSFER_OPERATION) {
    return TRANSFER_OPERATION;
  }
  return operationPolicy(registry, app, operation).name;
}

/** The app's policy of `operation`; UNKNOWN_OPERATION when it has none. */
function operationPolicy(
  registry: OperationRegistry,
  app: string,
  operation: string,
): OperationPolicy {
  const policy = registry.operationsFor(app).get(operation);
  if (policy === undefined) {
    throw new LedgerError(
      "UNKNOWN_OPERATION",
      `operation "${operation}" is not defined for app "${app}"`,
      { operation, app },
    );
  }
  return policy;
}

/** Whether an amount's sign fits a direction: a credit is > 0, a debit < 0. */
export function matchesDirection(direction: Direction, amountMinor: bigint): boolean {
  switch (direction) {
    case "CREDIT":
      return amountMinor > 0n;
    case "DEBIT":
      return amountMinor < 0n;
    case "EITHER":
      return true;
  }
}
