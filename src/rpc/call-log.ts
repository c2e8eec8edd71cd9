import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { DescMethod } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  createContextKey,
  type HandlerContext,
  type Interceptor,
} from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import type { Logger } from "pino";
import { LedgerError } from "../domain/index.js";
import { reasonOf, toConnectError } from "./errors.js";
import { isMalformedRequestMessage } from "./malformed-requests.js";

export const REQUEST_ID_HEADER = "x-request-id";

/**
 * A W3C trace context (https://www.w3.org/TR/trace-context/): version 00,
 * a trace id and a parent span id, neither all zeros, and flags. Later
 * versions keep this prefix, so it is read from them too.
 */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-.*)?$/;

/** The trace and parent span of a valid traceparent header, else undefined. */
export function traceOf(
  header: string | null,
): { traceId: string; parentSpanId: string } | undefined {
  const match = header === null ? null : TRACEPARENT.exec(header.trim());
  const [, version = "", traceId = "", parentSpanId = "", rest] = match ?? [];
  const valid =
    match !== null &&
    version !== "ff" &&
    (version !== "00" || rest === undefined) &&
    !/^0+$/.test(traceId) &&
    !/^0+$/.test(parentSpanId);
  return valid ? { traceId, parentSpanId } : undefined;
}

/** A client's request id is echoed only when it is short and plain; else one is generated. */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** One call as metrics see it: gRPC's names for its service, method, type and final code. */
export interface CallReport {
  readonly service: string;
  readonly method: string;
  /** unary, server_stream, client_stream or bidi_stream. */
  readonly type: string;
}

export interface HandledCallReport extends CallReport {
  /** The gRPC name of the final code: OK, NOT_FOUND, ... */
  readonly code: string;
  /** The ErrorInfo reason of a failed call, when it has one. */
  readonly reason: string | undefined;
  readonly durationSeconds: number;
}

/** Told of every call when it starts and once when it is answered (src/server/metrics.ts). */
export interface CallObserver {
  callStarted(call: CallReport): void;
  callHandled(call: HandledCallReport): void;
}

/** What is known about one call; it is logged exactly once, when `logged` flips. */
interface CallRecord {
  readonly requestId: string;
  readonly method: string;
  readonly report: CallReport;
  readonly protocol: string;
  readonly startMs: number;
  /** Set when the call reaches the interceptors, which then own its log line. */
  entered: boolean;
  logged: boolean;
  ledgerId: string;
  transactionId: string;
  /** From the call's W3C traceparent header, when it carries a valid one. */
  readonly trace: { readonly traceId: string; readonly parentSpanId: string } | undefined;
  /** Who called, once authenticated: its app, role and token id. */
  caller:
    | { readonly app: string | undefined; readonly role: string; readonly tokenId: string }
    | undefined;
}

const callKey = createContextKey<CallRecord | undefined>(undefined, {
  description: "ledger.v1 call record",
});

const GRPC_TYPES: Readonly<Record<DescMethod["methodKind"], string>> = {
  unary: "unary",
  server_streaming: "server_stream",
  client_streaming: "client_stream",
  bidi_streaming: "bidi_stream",
};

function beginCall(
  method: DescMethod,
  header: Headers,
  protocol: string,
  observer: CallObserver | undefined,
): CallRecord {
  const offered = header.get(REQUEST_ID_HEADER);
  const report = {
    service: method.parent.typeName,
    method: method.name,
    type: GRPC_TYPES[method.methodKind],
  };
  observer?.callStarted(report);
  return {
    requestId: offered !== null && REQUEST_ID_PATTERN.test(offered) ? offered : randomUUID(),
    method: `${method.parent.typeName}/${method.name}`,
    report,
    protocol,
    startMs: performance.now(),
    entered: false,
    logged: false,
    ledgerId: "",
    transactionId: "",
    trace: traceOf(header.get("traceparent")),
    caller: undefined,
  };
}

/**
 * Runs for every call before its body is read: assigns the request id, echoes
 * it in the response header, and logs calls that never reach the
 * interceptors (an oversized or undecodable request, a bad timeout header).
 */
export function createCallLogGate(
  logger: Logger,
  observer?: CallObserver,
): (ctx: HandlerContext) => void {
  return (ctx) => {
    const call = beginCall(ctx.method, ctx.requestHeader, ctx.protocolName, observer);
    ctx.values.set(callKey, call);
    ctx.responseHeader.set(REQUEST_ID_HEADER, call.requestId);
    const onAbort = () => {
      if (!call.entered) {
        const error = asAnswered(ConnectError.from(ctx.signal.reason));
        finishCall(logger, observer, call, error);
      }
    };
    if (ctx.signal.aborted) {
      onAbort();
    } else {
      ctx.signal.addEventListener("abort", onAbort, { once: true });
    }
  };
}

/**
 * The code the client actually received: an undecodable body aborts the call
 * as INTERNAL inside connect-es, and malformed-requests.ts rewrites the answer
 * to INVALID_ARGUMENT on its way out; the log says what the client saw.
 */
function asAnswered(error: ConnectError): ConnectError {
  if (error.code === Code.Internal && isMalformedRequestMessage(error.rawMessage)) {
    return new ConnectError(error.rawMessage, Code.InvalidArgument);
  }
  return error;
}

/**
 * The outer interceptor: one log line per call with its final code, after
 * the inner error interceptor has mapped the failure.
 */
export function createCallLogInterceptor(logger: Logger, observer?: CallObserver): Interceptor {
  return (next) => async (req) => {
    let call = req.contextValues.get(callKey);
    if (call === undefined) {
      call = beginCall(req.method, req.header, "unknown", observer);
      req.contextValues.set(callKey, call);
    }
    call.entered = true;
    noteIds(call, req.message);
    try {
      const res = await next(req);
      if (res.stream) {
        // A stream's line is written when it ends, with the code it ended with.
        const log = (error: ConnectError | undefined) => writeCallLog(logger, call, error);
        return { ...res, message: loggedStream(res.message, req.signal, log) };
      }
      noteIds(call, res.message);
      finishCall(logger, observer, call, undefined);
      return res;
    } catch (e) {
      const error = ConnectError.from(e);
      finishCall(logger, observer, call, error);
      throw e;
    }
  };
}

async function* loggedStream<T>(
  messages: AsyncIterable<T>,
  signal: AbortSignal,
  log: (error: ConnectError | undefined) => void,
): AsyncIterable<T> {
  let failed = false;
  try {
    yield* messages;
  } catch (e) {
    failed = true;
    log(ConnectError.from(e));
    throw e;
  } finally {
    if (!failed) {
      log(signal.aborted ? ConnectError.from(signal.reason) : undefined);
    }
  }
}

/**
 * The inner interceptor: every failure leaves as a ConnectError (errors.ts).
 * When the call was already aborted (deadline, cancellation, shutdown), an
 * error that is not a domain outcome is reported as that abort.
 */
export function createErrorInterceptor(): Interceptor {
  return (next) => async (req) => {
    const mapped = (e: unknown) => {
      if (req.signal.aborted && !(e instanceof LedgerError) && !(e instanceof ConnectError)) {
        return ConnectError.from(req.signal.reason);
      }
      const requestId = req.contextValues.get(callKey)?.requestId ?? randomUUID();
      return toConnectError(e, requestId);
    };
    try {
      const res = await next(req);
      // A stream fails while it is read: its messages are mapped as they come.
      return res.stream ? { ...res, message: mappedStream(res.message, mapped) } : res;
    } catch (e) {
      throw mapped(e);
    }
  };
}

async function* mappedStream<T>(
  messages: AsyncIterable<T>,
  mapped: (e: unknown) => ConnectError,
): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (e) {
    throw mapped(e);
  }
}

/** Records the authenticated caller in the call's log line. */
export function noteCaller(values: ContextValues, caller: NonNullable<CallRecord["caller"]>): void {
  const call = values.get(callKey);
  if (call !== undefined) {
    call.caller = caller;
  }
}

/** The call's log line and its metrics, exactly once. */
function finishCall(
  logger: Logger,
  observer: CallObserver | undefined,
  call: CallRecord,
  error: ConnectError | undefined,
): void {
  if (call.logged) {
    return;
  }
  writeCallLog(logger, call, error);
  observer?.callHandled({
    ...call.report,
    code: error === undefined ? "OK" : grpcCodeName(error.code),
    reason: error === undefined ? undefined : reasonOf(error),
    durationSeconds: (performance.now() - call.startMs) / 1000,
  });
}

/** gRPC's canonical name of a code: NOT_FOUND; CANCELLED with gRPC's spelling. */
function grpcCodeName(code: Code): string {
  return code === Code.Canceled ? "CANCELLED" : codeToString(code).toUpperCase();
}

function writeCallLog(logger: Logger, call: CallRecord, error: ConnectError | undefined): void {
  call.logged = true;
  const line: Record<string, unknown> = {
    method: call.method,
    protocol: call.protocol,
    code: error === undefined ? "ok" : codeToString(error.code),
    duration_ms: Math.round((performance.now() - call.startMs) * 1000) / 1000,
    request_id: call.requestId,
  };
  if (call.trace !== undefined) {
    line.trace_id = call.trace.traceId;
    line.parent_span_id = call.trace.parentSpanId;
  }
  if (call.caller?.app !== undefined) {
    line.app = call.caller.app;
    line.role = call.caller.role;
    line.token_id = call.caller.tokenId;
  }
  if (call.ledgerId !== "") {
    line.ledger_id = call.ledgerId;
  }
  if (call.transactionId !== "") {
    line.transaction_id = call.transactionId;
  }
  if (error === undefined) {
    logger.info(line, "rpc");
    return;
  }
  const reason = reasonOf(error);
  if (reason !== undefined) {
    line.reason = reason;
  }
  if (isServerFault(error.code)) {
    // The client got a generic message; the cause is only ever logged.
    line.err = error.cause ?? error;
    logger.error(line, "rpc");
    return;
  }
  line.error_message = error.rawMessage;
  logger.info(line, "rpc");
}

function isServerFault(code: Code): boolean {
  return code === Code.Internal || code === Code.Unknown || code === Code.DataLoss;
}

/**
 * Picks the ledger and transaction ids out of a request or response, where
 * present: a transfer's ledger is its source; a write's transaction the one it
 * made, a reversal's the one it reverses.
 */
function noteIds(call: CallRecord, message: unknown): void {
  const m = message as {
    ledgerId?: unknown;
    fromLedgerId?: unknown;
    transactionId?: unknown;
    ledger?: { id?: unknown };
    entry?: { ledgerId?: unknown; transactionId?: unknown };
    transaction?: { id?: unknown; entries?: readonly { ledgerId?: unknown }[] };
  };
  call.ledgerId ||=
    firstText(
      m.ledgerId,
      m.fromLedgerId,
      m.ledger?.id,
      m.entry?.ledgerId,
      m.transaction?.entries?.[0]?.ledgerId,
    ) ?? "";
  call.transactionId ||=
    firstText(m.transactionId, m.entry?.transactionId, m.transaction?.id) ?? "";
}

function firstText(...values: unknown[]): string | undefined {
  for (const value of values) {
    if (typeof value === "string" && value !== "") {
      return value;
    }
  }
  return undefined;
}
