import { LedgerError } from "./errors.js";

/** Which sign an operation's amount must have. */
export type Direction = "CREDIT" | "DEBIT" | "EITHER";

export interface OperationPolicy {
  readonly name: string;
  readonly direction: Direction;
  /** Used when a request leaves the amount out. Its sign matches `direction`. */
  readonly defaultAmountMinor: bigint;
}

/** Every app supports these. */
export const SHARED_OPERATIONS: readonly OperationPolicy[] = [
  { name: "DAILY_REWARD", direction: "CREDIT", defaultAmountMinor: 1n },
  { name: "SIGNUP_CREDIT", direction: "CREDIT", defaultAmountMinor: 3n },
  { name: "CREDIT_SPEND", direction: "DEBIT", defaultAmountMinor: -1n },
  { name: "CREDIT_ADD", direction: "CREDIT", defaultAmountMinor: 10n },
];

/**
 * The built-in operation of compensating entries. No app can record it
 * directly: only ReverseTransaction writes it.
 */
export const REVERSAL_OPERATION = "REVERSAL";

/** The operations each app may record. */
export interface OperationRegistry {
  operationsFor(app: string): ReadonlyMap<string, OperationPolicy>;
}

/** v1: every app has exactly the shared operations. */
export function sharedOperationRegistry(): OperationRegistry {
  const shared = new Map(SHARED_OPERATIONS.map((op) => [op.name, op]));
  return { operationsFor: () => shared };
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
  const policy = registry.operationsFor(app).get(operation);
  if (policy === undefined) {
    throw new LedgerError(
      "UNKNOWN_OPERATION",
      `operation "${operation}" is not defined for app "${app}"`,
      { operation, app },
    );
  }
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

function matchesDirection(direction: Direction, amountMinor: bigint): boolean {
  switch (direction) {
    case "CREDIT":
      return amountMinor > 0n;
    case "DEBIT":
      return amountMinor < 0n;
    case "EITHER":
      return true;
  }
}
