/** The range of a protobuf int64, which is also PostgreSQL's bigint. */
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

export function isInt64(value: bigint): boolean {
  return value >= INT64_MIN && value <= INT64_MAX;
}

/** Adds two int64 values; returns undefined instead of leaving the int64 range. */
export function addInt64(a: bigint, b: bigint): bigint | undefined {
  const sum = a + b;
  return isInt64(sum) ? sum : undefined;
}

export function absMinor(value: bigint): bigint {
  return value < 0n ? -value : value;
}
