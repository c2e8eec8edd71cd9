import { InvariantViolation, LedgerError } from "../domain/index.js";
import { isQueryReadTimeout } from "./pool-guard.js";

/** SQLSTATEs after which the same transaction may simply be run again. */
const RETRYABLE_SQLSTATES = new Set(["40P01", "40001"]);

const LOCK_NOT_AVAILABLE = "55P03";

/** query_canceled: here, a statement outlasted statement_timeout. */
const QUERY_CANCELED = "57014";

/** Server states meaning "the database is not there right now". */
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300"]);

const UNAVAILABLE_ERRNOS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "EAI_AGAIN",
]);

/** Messages of pg and pg-pool for broken or unobtainable connections; they carry no code. */
const UNAVAILABLE_MESSAGES = [
  "timeout exceeded when trying to connect",
  "connection terminated",
  "connection timeout",
  "client has encountered a connection error",
  "client was closed and is not queryable",
  "cannot use a pool after calling end",
];

/** A transient conflict the store detected itself; the unit of work retries it. */
export class RetryableConflict extends Error {
  override readonly name = "RetryableConflict";
}

export function isRetryable(error: unknown): boolean {
  if (error instanceof RetryableConflict) {
    return true;
  }
  const state = codeOf(error);
  return state !== undefined && RETRYABLE_SQLSTATES.has(state);
}

/** A unique violation, of the index `constraint` when given. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  return (
    codeOf(error) === "23505" &&
    (constraint === undefined || (error as { constraint?: unknown }).constraint === constraint)
  );
}

/**
 * Maps a failure to what the LedgerStore contract promises: domain errors and
 * invariant violations unchanged, contention to CONCURRENCY_CONFLICT, an
 * unreachable database to STORE_UNAVAILABLE, anything else unchanged.
 */
export function translateError(error: unknown): unknown {
  if (error instanceof LedgerError || error instanceof InvariantViolation) {
    return error;
  }
  if (isRetryable(error) || codeOf(error) === LOCK_NOT_AVAILABLE) {
    return concurrencyConflict(error);
  }
  if (causeChain(error).some(isQueryReadTimeout)) {
    return new LedgerError(
      "STORE_UNAVAILABLE",
      "the ledger database stopped answering; retry with the same idempotency key",
      {},
    );
  }
  if (isUnavailable(error)) {
    return new LedgerError("STORE_UNAVAILABLE", "the ledger database cannot be reached", {});
  }
  if (codeOf(error) === QUERY_CANCELED) {
    return new LedgerError(
      "STORE_UNAVAILABLE",
      "the ledger database did not answer within the statement timeout; retry with the same idempotency key",
      {},
    );
  }
  return error;
}

export function concurrencyConflict(cause: unknown): LedgerError {
  const error = new LedgerError(
    "CONCURRENCY_CONFLICT",
    "the ledger is busy with concurrent writes; retry with the same idempotency key",
    {},
  );
  (error as { cause?: unknown }).cause = cause;
  return error;
}

export function isUnavailable(error: unknown): boolean {
  for (const candidate of causeChain(error)) {
    const code = codeOf(candidate);
    if (code !== undefined && (code.startsWith("08") || UNAVAILABLE_SQLSTATES.has(code))) {
      return true;
    }
    if (code !== undefined && UNAVAILABLE_ERRNOS.has(code)) {
      return true;
    }
    const message = candidate instanceof Error ? candidate.message.toLowerCase() : "";
    if (UNAVAILABLE_MESSAGES.some((fragment) => message.includes(fragment))) {
      return true;
    }
    if (candidate instanceof AggregateError && candidate.errors.some(isUnavailable)) {
      return true;
    }
  }
  return false;
}

function codeOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) {
    return undefined;
  }
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/** The error and its causes, bounded so a cyclic chain cannot loop. */
function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = error;
  while (current !== undefined && current !== null && chain.length < 8) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}
