import { APPS, type OperationSpec, SHARED_OPERATIONS } from "@shared-ledger/client";

export type { OperationSpec };

/**
 * The operations a ledger's app may record, from the registry generated out
 * of proto/apps (the same one the server enforces): an app without a proto
 * file of its own has the shared operations only.
 */
export function operationsFor(app: string): readonly OperationSpec[] {
  return APPS.find((spec) => spec.app === app)?.operations ?? SHARED_OPERATIONS;
}

/**
 * The signed amount to send for what the user typed: a bare number for a
 * debit means that much taken away, so "2" spends 2; anything with a sign,
 * or any amount for an operation that goes either way, is sent as typed,
 * and the server judges it.
 */
export function signedForOperation(typed: bigint, text: string, spec: OperationSpec): bigint {
  const explicitSign = /^\s*[+-]/.test(text);
  return spec.direction === "DEBIT" && !explicitSign ? -typed : typed;
}
