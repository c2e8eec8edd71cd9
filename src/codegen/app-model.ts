/** What the generator reads from the proto files, validated. */

/** Which sign an operation's amount must have (OperationDirection without its prefix). */
export type DirectionName = "CREDIT" | "DEBIT" | "EITHER";

export interface OperationModel {
  /** The wire name, e.g. CONTENT_CREATION. */
  readonly name: string;
  readonly direction: DirectionName;
  readonly defaultAmountMinor: bigint;
  /** Only the default amount is accepted (the policy's `fixed`). */
  readonly fixed: boolean;
  /** Inclusive bounds of |amount| (amount_min_abs, amount_max_abs); undefined: none. */
  readonly amountMinAbsMinor: bigint | undefined;
  readonly amountMaxAbsMinor: bigint | undefined;
  /** True for the operations of ledger.v1.SharedOperation. */
  readonly shared: boolean;
  /** The proto comment above the value that defines the policy. */
  readonly description: string;
}

export interface AppModel {
  /** The app as in Ledger.app, e.g. "content". */
  readonly name: string;
  /** The proto file that declares it, e.g. apps/content/v1/content.proto. */
  readonly protoFile: string;
  /** The enum, e.g. apps.content.v1.ContentOperation. */
  readonly enumTypeName: string;
  /** Shared and own operations, in the enum's order. */
  readonly operations: readonly OperationModel[];
}

export interface LedgerAppsModel {
  readonly shared: readonly OperationModel[];
  /** Sorted by name, so the output does not depend on file order. */
  readonly apps: readonly AppModel[];
}

/** A proto declaration the generator refuses: buf prints the message and fails. */
export class AppDeclarationError extends Error {
  override readonly name = "AppDeclarationError";
}
