import { LedgerError } from "./errors.js";
import { invariant } from "./invariant.js";
import { absMinor } from "./money.js";

/** Which sign an operation's amount must have. */
export type Direction = "CREDIT" | "DEBIT" | "EITHER";

/**
 * Which amounts an operation records (ledger.v1.OperationPolicy): the
 * direction first (AMOUNT_DIRECTION_MISMATCH), then `fixed` or the bounds
 * (AMOUNT_NOT_ALLOWED). `policyProblems` lists what makes one incoherent.
 */
export interface OperationPolicy {
  readonly name: string;
  readonly direction: Direction;
  /** Used when a request leaves the amount out. Its sign matches `direction`. */
  readonly defaultAmountMinor: bigint;
  /** Only `defaultAmountMinor` is accepted (absent: false). Excludes the bounds. */
  readonly fixed?: boolean | undefined;
  /** Inclusive lower bound of |amount| (absent: none). */
  readonly amountMinAbsMinor?: bigint | undefined;
  /** Inclusive upper bound of |amount| (absent: none). */
  readonly amountMaxAbsMinor?: bigint | undefined;
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
        samePolicy(declared, policy),
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
    const problems = policyProblems(policy);
    invariant(problems.length === 0, `${owner}: ${policy.name}: ${problems.join("; ")}`);
    map.set(policy.name, {
      name: policy.name,
      direction: policy.direction,
      defaultAmountMinor: policy.defaultAmountMinor,
      fixed: policy.fixed === true,
      amountMinAbsMinor: policy.amountMinAbsMinor,
      amountMaxAbsMinor: policy.amountMaxAbsMinor,
    });
  }
  return map;
}

/** Whether two policies accept the same amounts the same way (the name aside). */
export function samePolicy(a: OperationPolicy, b: OperationPolicy): boolean {
  return (
    a.direction === b.direction &&
    a.defaultAmountMinor === b.defaultAmountMinor &&
    (a.fixed === true) === (b.fixed === true) &&
    a.amountMinAbsMinor === b.amountMinAbsMinor &&
    a.amountMaxAbsMinor === b.amountMaxAbsMinor
  );
}

/**
 * What makes a policy contradict itself, in the proto's field names (the
 * generator prints them; createOperationRegistry asserts there are none):
 * `fixed` with a bound, a negative bound, amount_min_abs above
 * amount_max_abs, bounds no amount of the direction meets (amount_max_abs 0
 * for a CREDIT or a DEBIT, never 0), a default_amount outside the bounds.
 * The default's sign against the direction is checked apart.
 */
export function policyProblems(
  policy: Pick<
    OperationPolicy,
    "direction" | "defaultAmountMinor" | "fixed" | "amountMinAbsMinor" | "amountMaxAbsMinor"
  >,
): string[] {
  const { direction, defaultAmountMinor, amountMinAbsMinor: min, amountMaxAbsMinor: max } = policy;
  const problems: string[] = [];
  if (policy.fixed === true && (min !== undefined || max !== undefined)) {
    problems.push(
      "fixed excludes amount_min_abs and amount_max_abs: a fixed operation accepts default_amount only",
    );
  }
  for (const [field, bound] of [
    ["amount_min_abs", min],
    ["amount_max_abs", max],
  ] as const) {
    if (bound !== undefined && bound < 0n) {
      problems.push(`${field} ${bound} is negative: it bounds the magnitude |amount|`);
    }
  }
  if (problems.length === 0 && min !== undefined && max !== undefined && min > max) {
    problems.push(`amount_min_abs ${min} is above amount_max_abs ${max}: no amount fits`);
  }
  if (max === 0n && direction !== "EITHER") {
    problems.push(
      `amount_max_abs 0 admits no ${direction} amount (a ${direction.toLowerCase()} is never 0)`,
    );
  }
  if (problems.length === 0 && !withinBounds(policy, absMinor(defaultAmountMinor))) {
    problems.push(`default_amount ${defaultAmountMinor} is outside ${describeBounds(policy)}`);
  }
  return problems;
}

/**
 * Resolves the signed amount of an entry (held or not): the operation must
 * belong to the app (UNKNOWN_OPERATION), the amount (or the operation's
 * default) must match its direction (AMOUNT_DIRECTION_MISMATCH), then its
 * fixed amount or bounds (AMOUNT_NOT_ALLOWED).
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
  assertAmountAllowed(policy, resolved, "entry");
  return resolved;
}

/**
 * The operation both legs of a transfer of `amountMinor` (a positive
 * magnitude) record: the app's `operation`, or the built-in TRANSFER when it
 * is empty or names TRANSFER itself. UNKNOWN_OPERATION for one the app does
 * not know. The direction does not apply (a transfer's legs have both
 * signs); the policy's fixed amount and bounds apply to the magnitude
 * (AMOUNT_NOT_ALLOWED): a fixed operation moves exactly |default|.
 */
export function resolveTransferOperation(
  registry: OperationRegistry,
  app: string,
  operation: string,
  amountMinor: bigint,
): string {
  if (operation === "" || operation === TRANSFER_OPERATION) {
    return TRANSFER_OPERATION;
  }
  const policy = operationPolicy(registry, app, operation);
  assertAmountAllowed(policy, amountMinor, "transfer");
  return policy.name;
}

/**
 * A partial post of a hold: the magnitude posted must fit the fixed amount
 * or bounds of the operation it was held under, as the hold itself had to
 * (AMOUNT_NOT_ALLOWED). A transfer hold under TRANSFER has no policy.
 */
export function assertPostAllowed(
  registry: OperationRegistry,
  app: string,
  operation: string,
  magnitudeMinor: bigint,
): void {
  if (operation !== TRANSFER_OPERATION) {
    assertAmountAllowed(operationPolicy(registry, app, operation), magnitudeMinor, "post");
  }
}

/**
 * AMOUNT_NOT_ALLOWED unless the amount fits the policy's fixed amount or
 * bounds: an entry's signed amount must equal a fixed default; a transfer's
 * magnitude must equal |default|; the bounds are on the magnitude either way.
 * The one place the server enforces them.
 */
function assertAmountAllowed(
  policy: OperationPolicy,
  amountMinor: bigint,
  kind: "entry" | "transfer" | "post",
): void {
  const operation = policy.name;
  const magnitude = absMinor(amountMinor);
  if (policy.fixed === true) {
    const allowed =
      kind === "entry"
        ? amountMinor === policy.defaultAmountMinor
        : magnitude === absMinor(policy.defaultAmountMinor);
    if (!allowed) {
      const fixedAt = signed(policy.defaultAmountMinor);
      throw new LedgerError(
        "AMOUNT_NOT_ALLOWED",
        fixedMessage(kind, operation, fixedAt, amountMinor, absMinor(policy.defaultAmountMinor)),
        {
          operation,
          amount: amountMinor.toString(),
          fixed_amount: policy.defaultAmountMinor.toString(),
        },
      );
    }
    return;
  }
  if (!withinBounds(policy, magnitude)) {
    throw new LedgerError(
      "AMOUNT_NOT_ALLOWED",
      `operation ${operation} allows ${describeBounds(policy)}: ${BOUNDED_AMOUNT[kind]} ${amountMinor} is not allowed`,
      {
        operation,
        amount: amountMinor.toString(),
        ...(policy.amountMinAbsMinor === undefined
          ? {}
          : { amount_min_abs: policy.amountMinAbsMinor.toString() }),
        ...(policy.amountMaxAbsMinor === undefined
          ? {}
          : { amount_max_abs: policy.amountMaxAbsMinor.toString() }),
      },
    );
  }
}

const BOUNDED_AMOUNT = { entry: "amount", transfer: "a transfer of", post: "a post of" } as const;

function fixedMessage(
  kind: "entry" | "transfer" | "post",
  operation: string,
  fixedAt: string,
  amountMinor: bigint,
  magnitudeMinor: bigint,
): string {
  switch (kind) {
    case "entry":
      return `operation ${operation} is fixed at ${fixedAt}: amount ${amountMinor} is not allowed (leave the amount out)`;
    case "transfer":
      return `operation ${operation} is fixed at ${fixedAt}: a transfer under it moves exactly ${magnitudeMinor}, not ${amountMinor}`;
    case "post":
      return `operation ${operation} is fixed at ${fixedAt}: a hold under it is posted whole (${magnitudeMinor}), not ${amountMinor}`;
  }
}

/** Whether a magnitude lies within the policy's bounds (inclusive; an absent one bounds nothing). */
function withinBounds(
  policy: Pick<OperationPolicy, "amountMinAbsMinor" | "amountMaxAbsMinor">,
  magnitude: bigint,
): boolean {
  return (
    (policy.amountMinAbsMinor === undefined || magnitude >= policy.amountMinAbsMinor) &&
    (policy.amountMaxAbsMinor === undefined || magnitude <= policy.amountMaxAbsMinor)
  );
}

/** "|amount| from 1 to 100", "|amount| >= 1", "|amount| <= 100". */
export function describeBounds(
  policy: Pick<OperationPolicy, "amountMinAbsMinor" | "amountMaxAbsMinor">,
): string {
  const { amountMinAbsMinor: min, amountMaxAbsMinor: max } = policy;
  if (min !== undefined && max !== undefined) {
    return `|amount| from ${min} to ${max}`;
  }
  if (min !== undefined) {
    return `|amount| >= ${min}`;
  }
  return max === undefined ? "any |amount|" : `|amount| <= ${max}`;
}

function signed(amountMinor: bigint): string {
  return amountMinor > 0n ? `+${amountMinor}` : amountMinor.toString();
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
