/**
 * A broken invariant is a bug in this service, never a client's mistake: it
 * aborts the unit of work (rolling the transaction back) and surfaces as
 * INTERNAL with the details logged, not sent.
 */
export class InvariantViolation extends Error {
  override readonly name = "InvariantViolation";
}

export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) {
    throw new InvariantViolation(message);
  }
}
