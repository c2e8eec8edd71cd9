/**
 * Three independent clients of one running LedgerService, behind one shape so
 * a behavioural spec can run through each of them:
 *
 * - "grpc-js":  @grpc/grpc-js + @grpc/proto-loader reading the .proto at run
 *   time (no generated code); error details decoded from the
 *   grpc-status-details-bin trailer with protobufjs.
 * - "connect":  the Connect protocol (JSON) over HTTP/1.1, generated code.
 * - "grpc-web": gRPC-Web over fetch (binary), as a browser would call it.
 *
 * Responses are normalized to plain records with bigint amounts and Date
 * timestamps; failures to RpcFailure { code, reason, domain, metadata }, the
 * google.rpc.Status of a RecordEntries or CreateTransfers item included.
 */
import { fileURLToPath } from "node:url";
import { createRegistry, type MessageInitShape } from "@bufbuild/protobuf";
import {
  anyUnpack,
  type Timestamp,
  timestampDate,
  timestampFromDate,
} from "@bufbuild/protobuf/wkt";
import {
  type Client as ConnectClient,
  ConnectError,
  createClient,
  type Interceptor,
} from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";
import { ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import type { Status } from "../../gen/google/rpc/status_pb.js";
import * as pb from "../../gen/ledger/v1/ledger_pb.js";

// ---------------------------------------------------------------------------
// The normalized contract
// ---------------------------------------------------------------------------

/** gRPC status code names, indexed by their number (Connect uses the same numbers). */
export const CODE_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
] as const;

export type CodeName = (typeof CODE_NAMES)[number];

export function codeName(code: number): CodeName {
  return CODE_NAMES[code] ?? "UNKNOWN";
}

/** The error domain every ledger ErrorInfo carries. */
export const ERROR_DOMAIN = "ledger.v1";

/** A failed call, the same whichever client made it. */
export class RpcFailure extends Error {
  override readonly name = "RpcFailure";

  constructor(
    readonly client: ClientName,
    readonly code: CodeName,
    readonly rawMessage: string,
    /** From google.rpc.ErrorInfo; undefined when the server sent none. */
    readonly reason: string | undefined,
    readonly domain: string | undefined,
    readonly metadata: Readonly<Record<string, string>>,
  ) {
    super(`[${client}] ${code} ${reason ?? "(no ErrorInfo)"}: ${rawMessage}`);
  }
}

/** An ErrorInfo as any of the decoders gives it. */
interface ErrorInfoFields {
  readonly reason: string;
  readonly domain: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** The failure a status code, its message and its ErrorInfo (when sent) describe. */
function rpcFailure(
  client: ClientName,
  code: number,
  message: string,
  info: ErrorInfoFields | undefined,
): RpcFailure {
  return new RpcFailure(
    client,
    codeName(code),
    message,
    info?.reason,
    info?.domain,
    info === undefined ? {} : { ...info.metadata },
  );
}

export type LedgerStatus = "UNSPECIFIED" | "ACTIVE" | "TERMINATED";
export type TransactionKind = "UNSPECIFIED" | "ENTRY" | "TRANSFER" | "REVERSAL";
/** POSTED for ordinary writes; a hold is PENDING, then POSTED, VOIDED or EXPIRED. */
export type TransactionState = "UNSPECIFIED" | "POSTED" | "PENDING" | "VOIDED" | "EXPIRED";

export interface Ledger {
  readonly id: string;
  readonly app: string;
  readonly ownerId: string;
  readonly unit: string;
  readonly description: string;
  readonly reference: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly status: LedgerStatus;
  readonly balance: bigint;
  readonly minBalance: bigint | undefined;
  readonly version: bigint;
  readonly createdAt: Date | undefined;
  readonly terminatedAt: Date | undefined;
  readonly unbounded: boolean;
  /** What open holds reserve (the magnitude of their debits). */
  readonly pendingDebits: bigint;
  /** What open holds will credit once posted. */
  readonly pendingCredits: bigint;
  /** balance - pendingDebits. */
  readonly available: bigint;
  /*
   * The validity window. The clients here always set all three (the dates
   * undefined and the id "" when absent); they are optional only so a Ledger
   * built by hand (the serial checker's tests) need not name them.
   */
  /** Writes before it fail LEDGER_NOT_YET_VALID. */
  readonly validFrom?: Date | undefined;
  /** Writes at or after it fail LEDGER_EXPIRED; the expiry sweep closes the ledger then. */
  readonly validUntil?: Date | undefined;
  /** Where the remainder goes at validUntil ("" without a window end). */
  readonly expireToLedgerId?: string;
}

export interface Entry {
  readonly id: string;
  readonly transactionId: string;
  readonly ledgerId: string;
  readonly sequence: bigint;
  readonly operation: string;
  readonly amount: bigint;
  readonly balanceAfter: bigint;
  readonly occurredAt: Date | undefined;
  readonly createdAt: Date | undefined;
  readonly description: string;
  readonly reference: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly externalTransactionId: string;
  /** For an entry of a reversal: the transaction it compensates; otherwise empty. */
  readonly reversesTransactionId: string;
}

export interface Transaction {
  readonly id: string;
  readonly kind: TransactionKind;
  readonly entries: readonly Entry[];
  readonly reversesTransactionId: string;
  readonly amount: bigint;
  readonly reversedAmount: bigint;
  readonly createdAt: Date | undefined;
  /** Oldest first; only GetTransaction fills it. */
  readonly reversalIds: readonly string[];
  readonly externalTransactionId: string;
  readonly state: TransactionState;
  /** A hold's deadline; undefined for an ordinary write. */
  readonly pendingExpiresAt: Date | undefined;
  /** For a hold: the amount it reserved when created (0 otherwise). */
  readonly heldAmount: bigint;
  /** For a hold: its legs as held, in posting order. */
  readonly pendingEntries: readonly PendingEntry[];
  /** For a hold: created, then posted, voided or expired, oldest first. */
  readonly history: readonly HoldEvent[];
}

/** One leg of a hold: the signed amount it holds on one ledger. */
export interface PendingEntry {
  readonly ledgerId: string;
  readonly operation: string;
  readonly amount: bigint;
  readonly occurredAt: Date | undefined;
  readonly description: string;
  readonly reference: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** One step in a hold's life. */
export interface HoldEvent {
  readonly state: TransactionState;
  readonly at: Date | undefined;
  readonly amount: bigint;
}

export interface Balance {
  readonly ledgerId: string;
  readonly balance: bigint;
  readonly unit: string;
  readonly version: bigint;
  readonly pendingDebits: bigint;
  readonly pendingCredits: bigint;
  readonly available: bigint;
}

export interface CreateLedgerParams {
  readonly app: string;
  readonly ownerId: string;
  readonly unit: string;
  readonly idempotencyKey: string;
  readonly description?: string;
  readonly reference?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly minBalance?: bigint;
  readonly unbounded?: boolean;
  readonly validFrom?: Date;
  /** Requires expireToLedgerId. */
  readonly validUntil?: Date;
  readonly expireToLedgerId?: string;
}

/** What RecordEntry and Transfer both carry onto the entries they write. */
export interface PostingAnnotations {
  readonly occurredAt?: Date;
  readonly description?: string;
  readonly reference?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly externalTransactionId?: string;
}

/** What makes a RecordEntry or Transfer a hold. */
export interface HoldParams {
  /** Hold the write (a PENDING transaction) instead of recording it. */
  readonly pending?: boolean;
  /** With `pending`: the hold's deadline (absent: the server's default). */
  readonly pendingExpiresAt?: Date;
}

export interface RecordEntryParams extends PostingAnnotations, HoldParams {
  readonly ledgerId: string;
  readonly operation: string;
  readonly idempotencyKey: string;
  readonly amount?: bigint;
  /** Backdate: the entry's place in history (absent: now). */
  readonly createdAt?: Date;
}

export interface TransferParams extends PostingAnnotations, HoldParams {
  readonly fromLedgerId: string;
  readonly toLedgerId: string;
  readonly amount: bigint;
  readonly idempotencyKey: string;
  /** Empty or absent: the built-in TRANSFER. */
  readonly operation?: string;
}

export interface CreateTransfersParams {
  readonly transfers: readonly TransferParams[];
  readonly atomic: boolean;
}

/** By `transactionId`, or by `app` and `externalTransactionId` (both or neither, for refusals). */
export interface GetTransactionParams {
  readonly transactionId?: string;
  readonly app?: string;
  readonly externalTransactionId?: string;
}

export interface ReverseTransactionParams {
  readonly transactionId: string;
  readonly idempotencyKey: string;
  readonly amount?: bigint;
  readonly description?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface PostPendingTransactionParams {
  readonly transactionId: string;
  readonly idempotencyKey: string;
  /** Absent: all that is held. */
  readonly amount?: bigint;
}

export interface VoidPendingTransactionParams {
  readonly transactionId: string;
  readonly idempotencyKey: string;
}

export interface ListPendingTransactionsParams {
  readonly ledgerId: string;
  readonly pageSize?: number;
  readonly pageToken?: string;
}

export interface TerminateLedgerOptions {
  /** Void the ledger's open holds first (else LEDGER_HAS_PENDING_TRANSACTIONS). */
  readonly voidPending?: boolean;
  /** Move what is left to (or, when negative, from) this ledger first: a SWEEP transfer. */
  readonly sweepToLedgerId?: string;
}

/** TerminateLedger's whole answer. */
export interface Termination {
  readonly ledger: Ledger;
  /** What was left on the ledger when it closed (0 once swept). */
  readonly remainingBalance: bigint;
  /** The SWEEP transfer that moved the remainder, when there was one. */
  readonly sweepTransaction: Transaction | undefined;
}

export interface GetBalanceParams {
  readonly ledgerId?: string;
  readonly app?: string;
  readonly ownerId?: string;
  readonly unit?: string;
  /** The balance at this instant of the ledger's history (absent: now). */
  readonly asOf?: Date;
}

export interface ListLedgersParams {
  readonly app: string;
  readonly ownerId?: string;
  readonly pageSize?: number;
  readonly pageToken?: string;
}

export interface ListEntriesParams {
  readonly ledgerId: string;
  readonly pageSize?: number;
  readonly pageToken?: string;
  readonly occurredAfter?: Date;
  readonly occurredBefore?: Date;
  readonly reference?: string;
  readonly externalTransactionId?: string;
  /** Only entries whose createdAt is at or after it. */
  readonly createdAfter?: Date;
  /** Only entries whose createdAt is strictly before it. */
  readonly createdBefore?: Date;
}

export interface Written<T> {
  readonly value: T;
  readonly replayed: boolean;
}

/** What RecordEntry (and an item of RecordEntries) answers: also how many later entries a backdate recomputed. */
export interface RecordWritten<T> extends Written<T> {
  readonly recomputedEntries: bigint;
}

export interface Page<T> {
  readonly items: readonly T[];
  readonly nextPageToken: string;
}

export interface RecordEntriesParams<P extends RecordEntryParams = RecordEntryParams> {
  readonly entries: readonly P[];
  readonly atomic: boolean;
}

/**
 * What RecordEntry answers for a request: the entry it wrote or, for a
 * request with `pending: true` (literally: the type follows the literal),
 * the hold it created. Items of RecordEntries alike.
 */
export type Recorded<P extends RecordEntryParams> = P extends { readonly pending: true }
  ? Transaction
  : Entry;

/** One item of a bulk write: its result, or its google.rpc.Status as an RpcFailure. */
export type Outcome<T> =
  | { readonly ok: true; readonly value: T; readonly replayed: boolean }
  | { readonly ok: false; readonly failure: RpcFailure };

/** One item of RecordEntries (a hold's item: Outcome<Transaction>). */
export type ItemOutcome = Outcome<Entry>;

/** One item of RecordEntries, with what a recorded item recomputed. */
export type RecordOutcome<T> =
  | ({ readonly ok: true } & RecordWritten<T>)
  | { readonly ok: false; readonly failure: RpcFailure };

/** One item of CreateTransfers. */
export type TransferOutcome = Outcome<Transaction>;

/** Every RPC of ledger.v1.LedgerService; each failure rejects with RpcFailure. */
export interface LedgerApi {
  readonly name: ClientName;
  createLedger(params: CreateLedgerParams): Promise<Written<Ledger>>;
  getLedger(ledgerId: string): Promise<Ledger>;
  listLedgers(params: ListLedgersParams): Promise<Page<Ledger>>;
  recordEntry<P extends RecordEntryParams>(params: P): Promise<RecordWritten<Recorded<P>>>;
  recordEntries<P extends RecordEntryParams>(
    params: RecordEntriesParams<P>,
  ): Promise<RecordOutcome<Recorded<P>>[]>;
  transfer(params: TransferParams): Promise<Written<Transaction>>;
  createTransfers(params: CreateTransfersParams): Promise<TransferOutcome[]>;
  reverseTransaction(params: ReverseTransactionParams): Promise<Written<Transaction>>;
  getTransaction(params: GetTransactionParams): Promise<Transaction>;
  getBalance(params: GetBalanceParams): Promise<Balance>;
  listEntries(params: ListEntriesParams): Promise<Page<Entry>>;
  /** The closed ledger (see terminateLedgerFully for the rest of the answer). */
  terminateLedger(ledgerId: string, options?: TerminateLedgerOptions): Promise<Ledger>;
  /** TerminateLedger's whole answer: the ledger, what was left on it, the SWEEP transfer. */
  terminateLedgerFully(ledgerId: string, options?: TerminateLedgerOptions): Promise<Termination>;
  postPendingTransaction(params: PostPendingTransactionParams): Promise<Written<Transaction>>;
  voidPendingTransaction(params: VoidPendingTransactionParams): Promise<Written<Transaction>>;
  listPendingTransactions(params: ListPendingTransactionsParams): Promise<Page<Transaction>>;
  /** WatchEntries as an async iterable of entries; `signal` ends it. */
  watchEntries(params: WatchEntriesParams, signal?: AbortSignal): AsyncIterable<Entry>;
  /** WatchEntries message by message: checkpoints, entries and hold steps. */
  watchEvents(params: WatchEntriesParams, signal?: AbortSignal): AsyncIterable<WatchedEvent>;
  close(): void;
}

export interface WatchEntriesParams {
  readonly ledgerId?: string;
  readonly app?: string;
  readonly cursor?: string;
  readonly afterSequence?: bigint;
  readonly balanceBelow?: bigint;
  readonly balanceAbove?: bigint;
}

/** One WatchEntries message: a checkpoint (no event), an entry, or a hold's step. */
export type WatchedEvent =
  | { readonly cursor: string; readonly kind: "checkpoint" }
  | { readonly cursor: string; readonly kind: "entry"; readonly entry: Entry }
  | {
      readonly cursor: string;
      readonly kind: "hold";
      readonly state: TransactionState;
      readonly transaction: Transaction;
    };

/** The entries of a stream of events. */
async function* entriesOf(events: AsyncIterable<WatchedEvent>): AsyncIterable<Entry> {
  for await (const event of events) {
    if (event.kind === "entry") {
      yield event.entry;
    }
  }
}

export type ClientName = "grpc-js" | "connect" | "grpc-web";

export const CLIENT_NAMES: readonly ClientName[] = ["grpc-js", "connect", "grpc-web"];

/** Bounds every call, so a hung server fails a test instead of stalling the run. */
const CALL_TIMEOUT_MS = 30_000;

export interface OpenClientOptions {
  /** Sent as `authorization: Bearer <token>` on every call. */
  readonly token?: string | undefined;
  /** Sent as the authorization header as it is (malformed headers). */
  readonly authorization?: string | undefined;
}

/** The authorization header a client sends, if any. */
function authorizationOf(options: OpenClientOptions): string | undefined {
  return (
    options.authorization ?? (options.token === undefined ? undefined : `Bearer ${options.token}`)
  );
}

export function openClient(
  name: ClientName,
  baseUrl: string,
  options: OpenClientOptions = {},
): LedgerApi {
  const authorization = authorizationOf(options);
  const interceptors: Interceptor[] =
    authorization === undefined
      ? []
      : [
          (next) => (req) => {
            req.header.set("authorization", authorization);
            return next(req);
          },
        ];
  switch (name) {
    case "grpc-js":
      return openGrpcJsClient(baseUrl, authorization);
    case "connect":
      return openConnectFamilyClient(
        name,
        createConnectTransport({
          baseUrl,
          httpVersion: "1.1",
          useBinaryFormat: false,
          jsonOptions: { registry: DETAIL_REGISTRY },
          defaultTimeoutMs: CALL_TIMEOUT_MS,
          interceptors,
        }),
      );
    case "grpc-web":
      return openConnectFamilyClient(
        name,
        createGrpcWebTransport({
          baseUrl,
          useBinaryFormat: true,
          defaultTimeoutMs: CALL_TIMEOUT_MS,
          interceptors,
        }),
      );
  }
}

/** Awaits a call that must fail, and returns its normalized failure. */
export async function failureOf(call: Promise<unknown>): Promise<RpcFailure> {
  try {
    await call;
  } catch (error) {
    if (error instanceof RpcFailure) {
      return error;
    }
    throw error;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

// ---------------------------------------------------------------------------
// grpc-js + proto-loader (run-time .proto, no generated code)
// ---------------------------------------------------------------------------

const PROTO_ROOT = fileURLToPath(new URL("../../proto/", import.meta.url));
const GOOGLE_PROTOS = fileURLToPath(
  new URL("../../node_modules/google-proto-files/", import.meta.url),
);

/** proto-loader's view of the messages, per its options: int64 as string, enums as names. */
type Wire = Record<string, unknown>;
type WireTimestamp = { seconds: string; nanos: number } | null | undefined;

let grpcServiceCtor: grpc.ServiceClientConstructor | undefined;

function ledgerServiceCtor(): grpc.ServiceClientConstructor {
  if (grpcServiceCtor === undefined) {
    const definition = protoLoader.loadSync("ledger/v1/ledger.proto", {
      includeDirs: [PROTO_ROOT, GOOGLE_PROTOS],
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      ledger: { v1: { LedgerService: grpc.ServiceClientConstructor } };
    };
    grpcServiceCtor = loaded.ledger.v1.LedgerService;
  }
  return grpcServiceCtor;
}

let statusTypes: { status: protobuf.Type; errorInfo: protobuf.Type } | undefined;

function rpcStatusTypes(): { status: protobuf.Type; errorInfo: protobuf.Type } {
  if (statusTypes === undefined) {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) =>
      target.startsWith("google/protobuf/") ? GOOGLE_PROTOS + target : PROTO_ROOT + target;
    root.loadSync(["google/rpc/status.proto", "google/rpc/error_details.proto"]);
    statusTypes = {
      status: root.lookupType("google.rpc.Status"),
      errorInfo: root.lookupType("google.rpc.ErrorInfo"),
    };
  }
  return statusTypes;
}

type WireErrorInfo = { reason: string; domain: string; metadata: Record<string, string> };
/** A google.rpc.Status as proto-loader gives it inside a bulk item's result. */
type WireStatus = { code: number; message: string; details: WireAny[] };
/** A google.protobuf.Any as protobufjs (type_url) or proto-loader (typeUrl) gives it. */
type WireAny = { type_url?: string; typeUrl?: string; value: Uint8Array };

/** The ErrorInfo among a google.rpc.Status's details, decoded with protobufjs. */
function wireErrorInfo(details: readonly WireAny[]): WireErrorInfo | undefined {
  const any = details.find((d) =>
    (d.type_url ?? d.typeUrl ?? "").endsWith("/google.rpc.ErrorInfo"),
  );
  if (any === undefined) {
    return undefined;
  }
  const { errorInfo } = rpcStatusTypes();
  return errorInfo.toObject(errorInfo.decode(any.value), { defaults: true }) as WireErrorInfo;
}

function grpcFailure(error: unknown): RpcFailure {
  const serviceError = error as Partial<grpc.ServiceError>;
  if (typeof serviceError.code !== "number") {
    return new RpcFailure("grpc-js", "UNKNOWN", String(error), undefined, undefined, {});
  }
  const [detailsBin] = serviceError.metadata?.get("grpc-status-details-bin") ?? [];
  let info: WireErrorInfo | undefined;
  if (detailsBin instanceof Buffer) {
    const types = rpcStatusTypes();
    const status = types.status.toObject(types.status.decode(detailsBin), {
      defaults: true,
    }) as { details: WireAny[] };
    info = wireErrorInfo(status.details);
  }
  return rpcFailure("grpc-js", serviceError.code, grpcMessage(serviceError.details ?? ""), info);
}

/**
 * grpc-message is percent-encoded; connect-node encodes as encodeURIComponent
 * does (":" as %3A) and grpc-js decodes with decodeURI, which leaves such
 * reserved characters encoded. The text the server sent, as the others give it.
 */
function grpcMessage(details: string): string {
  try {
    return decodeURIComponent(details);
  } catch {
    return details;
  }
}

/**
 * A bulk item's outcome as proto-loader gives it (oneofs: `result` names the
 * member): the write response in `member`, or a google.rpc.Status in `error`.
 */
function wireOutcome<T, W extends Written<T>>(
  raw: Wire,
  member: string,
  written: (response: Wire) => W,
): ({ readonly ok: true } & W) | { readonly ok: false; readonly failure: RpcFailure } {
  if (raw.result === member) {
    return { ok: true, ...written(raw[member] as Wire) };
  }
  if (raw.result !== "error") {
    throw new Error(`a bulk result carries neither ${member} nor error`);
  }
  const status = raw.error as WireStatus;
  const failure = rpcFailure("grpc-js", status.code, status.message, wireErrorInfo(status.details));
  return { ok: false, failure };
}

/** A write's response: what it wrote, in `field`, and whether it was a replay. */
function wireWritten<T>(res: Wire, field: string, decode: (raw: Wire) => T): Written<T> {
  return { value: decode(res[field] as Wire), replayed: res.replayed === true };
}

const wireWrittenTransaction = (res: Wire) => wireWritten(res, "transaction", wireTransaction);

/** A RecordEntryResponse: its entry, or a hold's pending_transaction (then it has no entry). */
function wireWrittenRecorded<P extends RecordEntryParams>(res: Wire): RecordWritten<Recorded<P>> {
  const written =
    res.pendingTransaction === null || res.pendingTransaction === undefined
      ? wireWritten(res, "entry", wireEntry)
      : wireWritten(res, "pendingTransaction", wireTransaction);
  return {
    ...(written as Written<Recorded<P>>),
    recomputedEntries: BigInt((res.recomputedEntries as string | undefined) ?? "0"),
  };
}

/** The annotations of a RecordEntryRequest or TransferRequest as proto-loader takes them. */
function wireAnnotations(p: PostingAnnotations): Wire {
  return {
    ...(p.occurredAt === undefined ? {} : { occurredAt: toWireTimestamp(p.occurredAt) }),
    description: p.description ?? "",
    reference: p.reference ?? "",
    metadata: p.metadata ?? {},
    externalTransactionId: p.externalTransactionId ?? "",
  };
}

/** The hold fields of a RecordEntryRequest or TransferRequest as proto-loader takes them. */
function wireHold(p: HoldParams): Wire {
  return {
    pending: p.pending ?? false,
    ...(p.pendingExpiresAt === undefined
      ? {}
      : { pendingExpiresAt: toWireTimestamp(p.pendingExpiresAt) }),
  };
}

/** A RecordEntryRequest as proto-loader takes it: int64 as a string, absent fields left out. */
function wireRecordEntry(p: RecordEntryParams): Wire {
  return {
    ledgerId: p.ledgerId,
    operation: p.operation,
    ...(p.amount === undefined ? {} : { amount: p.amount.toString() }),
    idempotencyKey: p.idempotencyKey,
    ...wireAnnotations(p),
    ...wireHold(p),
    ...(p.createdAt === undefined ? {} : { createdAt: toWireTimestamp(p.createdAt) }),
  };
}

function wireTransfer(p: TransferParams): Wire {
  return {
    fromLedgerId: p.fromLedgerId,
    toLedgerId: p.toLedgerId,
    amount: p.amount.toString(),
    idempotencyKey: p.idempotencyKey,
    operation: p.operation ?? "",
    ...wireAnnotations(p),
    ...wireHold(p),
  };
}

function grpcTarget(baseUrl: string): string {
  const url = new URL(baseUrl);
  return url.host;
}

function openGrpcJsClient(baseUrl: string, authorization: string | undefined): LedgerApi {
  const Ctor = ledgerServiceCtor();
  const client = new Ctor(grpcTarget(baseUrl), grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (authorization !== undefined) {
    metadata.set("authorization", authorization);
  }
  const call = (method: string, request: Wire): Promise<Wire> =>
    new Promise((resolve, reject) => {
      const fn = client[method] as (
        req: Wire,
        metadata: grpc.Metadata,
        options: grpc.CallOptions,
        callback: (err: grpc.ServiceError | null, res?: Wire) => void,
      ) => void;
      fn.call(
        client,
        request,
        metadata.clone(),
        { deadline: Date.now() + CALL_TIMEOUT_MS },
        (err: grpc.ServiceError | null, res?: Wire) => {
          if (err !== null) {
            reject(grpcFailure(err));
          } else {
            resolve(res ?? {});
          }
        },
      );
    });

  const terminateFully = async (
    ledgerId: string,
    options: TerminateLedgerOptions | undefined,
  ): Promise<Termination> => {
    const res = await call("TerminateLedger", {
      ledgerId,
      voidPending: options?.voidPending ?? false,
      sweepToLedgerId: options?.sweepToLedgerId ?? "",
    });
    const sweep = res.sweepTransaction as Wire | null | undefined;
    return {
      ledger: wireLedger(res.ledger),
      remainingBalance: BigInt((res.remainingBalance as string | undefined) ?? "0"),
      sweepTransaction: sweep === null || sweep === undefined ? undefined : wireTransaction(sweep),
    };
  };

  return {
    name: "grpc-js",
    async createLedger(p) {
      const res = await call("CreateLedger", {
        app: p.app,
        ownerId: p.ownerId,
        unit: p.unit,
        description: p.description ?? "",
        reference: p.reference ?? "",
        metadata: p.metadata ?? {},
        ...(p.minBalance === undefined ? {} : { minBalance: p.minBalance.toString() }),
        idempotencyKey: p.idempotencyKey,
        unbounded: p.unbounded ?? false,
        ...(p.validFrom === undefined ? {} : { validFrom: toWireTimestamp(p.validFrom) }),
        ...(p.validUntil === undefined ? {} : { validUntil: toWireTimestamp(p.validUntil) }),
        expireToLedgerId: p.expireToLedgerId ?? "",
      });
      return wireWritten(res, "ledger", wireLedger);
    },
    async getLedger(ledgerId) {
      return wireLedger((await call("GetLedger", { ledgerId })).ledger);
    },
    async listLedgers(p) {
      const res = await call("ListLedgers", {
        app: p.app,
        ownerId: p.ownerId ?? "",
        pageSize: p.pageSize ?? 0,
        pageToken: p.pageToken ?? "",
      });
      return {
        items: (res.ledgers as Wire[]).map(wireLedger),
        nextPageToken: res.nextPageToken as string,
      };
    },
    async recordEntry(p) {
      return wireWrittenRecorded(await call("RecordEntry", wireRecordEntry(p)));
    },
    async recordEntries<P extends RecordEntryParams>(p: RecordEntriesParams<P>) {
      const res = await call("RecordEntries", {
        entries: p.entries.map(wireRecordEntry),
        atomic: p.atomic,
      });
      return (res.results as Wire[]).map((raw) =>
        wireOutcome<Recorded<P>, RecordWritten<Recorded<P>>>(raw, "entry", wireWrittenRecorded<P>),
      );
    },
    async transfer(p) {
      return wireWrittenTransaction(await call("Transfer", wireTransfer(p)));
    },
    async createTransfers(p) {
      const res = await call("CreateTransfers", {
        transfers: p.transfers.map(wireTransfer),
        atomic: p.atomic,
      });
      return (res.results as Wire[]).map((raw) =>
        wireOutcome<Transaction, Written<Transaction>>(raw, "transfer", wireWrittenTransaction),
      );
    },
    async reverseTransaction(p) {
      const res = await call("ReverseTransaction", {
        transactionId: p.transactionId,
        ...(p.amount === undefined ? {} : { amount: p.amount.toString() }),
        idempotencyKey: p.idempotencyKey,
        description: p.description ?? "",
        metadata: p.metadata ?? {},
      });
      return wireWrittenTransaction(res);
    },
    async getTransaction(p) {
      const res = await call("GetTransaction", {
        transactionId: p.transactionId ?? "",
        app: p.app ?? "",
        externalTransactionId: p.externalTransactionId ?? "",
      });
      return wireTransaction(res.transaction as Wire);
    },
    async getBalance(p) {
      const res = await call("GetBalance", {
        ledgerId: p.ledgerId ?? "",
        app: p.app ?? "",
        ownerId: p.ownerId ?? "",
        unit: p.unit ?? "",
        ...(p.asOf === undefined ? {} : { asOf: toWireTimestamp(p.asOf) }),
      });
      return {
        ledgerId: res.ledgerId as string,
        balance: BigInt(res.balance as string),
        unit: res.unit as string,
        version: BigInt(res.version as string),
        pendingDebits: BigInt(res.pendingDebits as string),
        pendingCredits: BigInt(res.pendingCredits as string),
        available: BigInt(res.available as string),
      };
    },
    async listEntries(p) {
      const res = await call("ListEntries", {
        ledgerId: p.ledgerId,
        pageSize: p.pageSize ?? 0,
        pageToken: p.pageToken ?? "",
        ...(p.occurredAfter === undefined
          ? {}
          : { occurredAfter: toWireTimestamp(p.occurredAfter) }),
        ...(p.occurredBefore === undefined
          ? {}
          : { occurredBefore: toWireTimestamp(p.occurredBefore) }),
        reference: p.reference ?? "",
        externalTransactionId: p.externalTransactionId ?? "",
        ...(p.createdAfter === undefined ? {} : { createdAfter: toWireTimestamp(p.createdAfter) }),
        ...(p.createdBefore === undefined
          ? {}
          : { createdBefore: toWireTimestamp(p.createdBefore) }),
      });
      return {
        items: (res.entries as Wire[]).map(wireEntry),
        nextPageToken: res.nextPageToken as string,
      };
    },
    async terminateLedger(ledgerId, options) {
      return (await terminateFully(ledgerId, options)).ledger;
    },
    terminateLedgerFully: terminateFully,
    async postPendingTransaction(p) {
      const res = await call("PostPendingTransaction", {
        transactionId: p.transactionId,
        ...(p.amount === undefined ? {} : { amount: p.amount.toString() }),
        idempotencyKey: p.idempotencyKey,
      });
      return wireWrittenTransaction(res);
    },
    async voidPendingTransaction(p) {
      const res = await call("VoidPendingTransaction", {
        transactionId: p.transactionId,
        idempotencyKey: p.idempotencyKey,
      });
      return wireWrittenTransaction(res);
    },
    async listPendingTransactions(p) {
      const res = await call("ListPendingTransactions", {
        ledgerId: p.ledgerId,
        pageSize: p.pageSize ?? 0,
        pageToken: p.pageToken ?? "",
      });
      return {
        items: (res.transactions as Wire[]).map(wireTransaction),
        nextPageToken: res.nextPageToken as string,
      };
    },
    watchEntries(p, signal) {
      return entriesOf(this.watchEvents(p, signal));
    },
    async *watchEvents(p, signal) {
      const open = client.WatchEntries as (
        req: Wire,
        metadata: grpc.Metadata,
      ) => grpc.ClientReadableStream<Wire>;
      const stream = open.call(client, wireWatch(p), metadata.clone());
      const cancel = () => stream.cancel();
      signal?.addEventListener("abort", cancel, { once: true });
      try {
        for await (const message of stream) {
          yield wireEvent(message as Wire);
        }
      } catch (error) {
        if (signal?.aborted !== true) {
          throw grpcFailure(error);
        }
      } finally {
        signal?.removeEventListener("abort", cancel);
      }
    },
    close() {
      client.close();
    },
  };
}

function wireEvent(message: Wire): WatchedEvent {
  const cursor = message.cursor as string;
  if (message.entry != null) {
    return { cursor, kind: "entry", entry: wireEntry(message.entry as Wire) };
  }
  if (message.hold != null) {
    const hold = message.hold as Wire;
    return {
      cursor,
      kind: "hold",
      state: withoutPrefix("TRANSACTION_STATE_", hold.state),
      transaction: wireTransaction(hold.transaction as Wire),
    };
  }
  return { cursor, kind: "checkpoint" };
}

/** A WatchEntries request as proto-loader takes it: optional int64s only when set. */
function wireWatch(p: WatchEntriesParams): Wire {
  return {
    ledgerId: p.ledgerId ?? "",
    app: p.app ?? "",
    cursor: p.cursor ?? "",
    ...(p.afterSequence === undefined ? {} : { afterSequence: p.afterSequence.toString() }),
    ...(p.balanceBelow === undefined ? {} : { balanceBelow: p.balanceBelow.toString() }),
    ...(p.balanceAbove === undefined ? {} : { balanceAbove: p.balanceAbove.toString() }),
  };
}

function toWireTimestamp(date: Date): { seconds: string; nanos: number } {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds: seconds.toString(), nanos: (ms - seconds * 1000) * 1_000_000 };
}

function fromWireTimestamp(ts: unknown): Date | undefined {
  const t = ts as WireTimestamp;
  if (t === null || t === undefined) {
    return undefined;
  }
  return new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1_000_000));
}

function withoutPrefix<T extends string>(prefix: string, name: unknown): T {
  return String(name).replace(prefix, "") as T;
}

function wireLedger(raw: unknown): Ledger {
  if (raw === null || raw === undefined) {
    throw new Error("response carries no ledger");
  }
  const l = raw as Wire;
  return {
    id: l.id as string,
    app: l.app as string,
    ownerId: l.ownerId as string,
    unit: l.unit as string,
    description: l.description as string,
    reference: l.reference as string,
    metadata: { ...(l.metadata as Record<string, string>) },
    status: withoutPrefix("LEDGER_STATUS_", l.status),
    balance: BigInt(l.balance as string),
    // proto3 `optional` is a synthetic oneof: present exactly when it names the field.
    minBalance: l._minBalance === "minBalance" ? BigInt(l.minBalance as string) : undefined,
    version: BigInt(l.version as string),
    createdAt: fromWireTimestamp(l.createdAt),
    terminatedAt: fromWireTimestamp(l.terminatedAt),
    unbounded: l.unbounded === true,
    pendingDebits: BigInt(l.pendingDebits as string),
    pendingCredits: BigInt(l.pendingCredits as string),
    available: BigInt(l.available as string),
    validFrom: fromWireTimestamp(l.validFrom),
    validUntil: fromWireTimestamp(l.validUntil),
    expireToLedgerId: (l.expireToLedgerId as string | undefined) ?? "",
  };
}

function wireEntry(raw: Wire): Entry {
  return {
    id: raw.id as string,
    transactionId: raw.transactionId as string,
    ledgerId: raw.ledgerId as string,
    sequence: BigInt(raw.sequence as string),
    operation: raw.operation as string,
    amount: BigInt(raw.amount as string),
    balanceAfter: BigInt(raw.balanceAfter as string),
    occurredAt: fromWireTimestamp(raw.occurredAt),
    createdAt: fromWireTimestamp(raw.createdAt),
    description: raw.description as string,
    reference: raw.reference as string,
    metadata: { ...(raw.metadata as Record<string, string>) },
    externalTransactionId: raw.externalTransactionId as string,
    reversesTransactionId: raw.reversesTransactionId as string,
  };
}

function wireTransaction(raw: Wire): Transaction {
  return {
    id: raw.id as string,
    kind: withoutPrefix("TRANSACTION_KIND_", raw.kind),
    entries: (raw.entries as Wire[]).map(wireEntry),
    reversesTransactionId: raw.reversesTransactionId as string,
    amount: BigInt(raw.amount as string),
    reversedAmount: BigInt(raw.reversedAmount as string),
    createdAt: fromWireTimestamp(raw.createdAt),
    reversalIds: [...(raw.reversalIds as string[])],
    externalTransactionId: raw.externalTransactionId as string,
    state: withoutPrefix("TRANSACTION_STATE_", raw.state),
    pendingExpiresAt: fromWireTimestamp(raw.pendingExpiresAt),
    heldAmount: BigInt(raw.heldAmount as string),
    pendingEntries: (raw.pendingEntries as Wire[]).map(wirePendingEntry),
    history: (raw.history as Wire[]).map(wireHoldEvent),
  };
}

function wirePendingEntry(raw: Wire): PendingEntry {
  return {
    ledgerId: raw.ledgerId as string,
    operation: raw.operation as string,
    amount: BigInt(raw.amount as string),
    occurredAt: fromWireTimestamp(raw.occurredAt),
    description: raw.description as string,
    reference: raw.reference as string,
    metadata: { ...(raw.metadata as Record<string, string>) },
  };
}

function wireHoldEvent(raw: Wire): HoldEvent {
  return {
    state: withoutPrefix("TRANSACTION_STATE_", raw.state),
    at: fromWireTimestamp(raw.at),
    amount: BigInt(raw.amount as string),
  };
}

// ---------------------------------------------------------------------------
// Connect and gRPC-Web (generated code from gen/)
// ---------------------------------------------------------------------------

/** The detail types a bulk item's google.rpc.Status may carry, for JSON. */
const DETAIL_REGISTRY = createRegistry(ErrorInfoSchema, RetryInfoSchema);

function connectFailure(name: ClientName, error: unknown): RpcFailure {
  const ce = ConnectError.from(error);
  const [info] = ce.findDetails(ErrorInfoSchema);
  return rpcFailure(name, ce.code, ce.rawMessage, info);
}

function openConnectFamilyClient(
  name: ClientName,
  transport: Parameters<typeof createClient>[1],
): LedgerApi {
  const client: ConnectClient<typeof pb.LedgerService> = createClient(pb.LedgerService, transport);
  const terminateFully = async (
    ledgerId: string,
    options: TerminateLedgerOptions | undefined,
  ): Promise<Termination> => {
    const res = await client.terminateLedger({
      ledgerId,
      voidPending: options?.voidPending ?? false,
      sweepToLedgerId: options?.sweepToLedgerId ?? "",
    });
    return {
      ledger: esLedger(res.ledger),
      remainingBalance: res.remainingBalance,
      sweepTransaction:
        res.sweepTransaction === undefined ? undefined : esTransaction(res.sweepTransaction),
    };
  };
  const guarded = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      throw connectFailure(name, error);
    }
  };

  return {
    name,
    createLedger: (p) =>
      guarded(async () => {
        const res = await client.createLedger({
          app: p.app,
          ownerId: p.ownerId,
          unit: p.unit,
          description: p.description ?? "",
          reference: p.reference ?? "",
          metadata: { ...p.metadata },
          minBalance: p.minBalance,
          idempotencyKey: p.idempotencyKey,
          unbounded: p.unbounded ?? false,
          validFrom: esTimestamp(p.validFrom),
          validUntil: esTimestamp(p.validUntil),
          expireToLedgerId: p.expireToLedgerId ?? "",
        });
        return { value: esLedger(res.ledger), replayed: res.replayed };
      }),
    getLedger: (ledgerId) =>
      guarded(async () => esLedger((await client.getLedger({ ledgerId })).ledger)),
    listLedgers: (p) =>
      guarded(async () => {
        const res = await client.listLedgers({
          app: p.app,
          ownerId: p.ownerId ?? "",
          pageSize: p.pageSize ?? 0,
          pageToken: p.pageToken ?? "",
        });
        return { items: res.ledgers.map(esLedger), nextPageToken: res.nextPageToken };
      }),
    recordEntry: <P extends RecordEntryParams>(p: P) =>
      guarded(async () => esWrittenRecorded<P>(await client.recordEntry(esRecordEntry(p)))),
    recordEntries: <P extends RecordEntryParams>(p: RecordEntriesParams<P>) =>
      guarded(async () => {
        const res = await client.recordEntries({
          entries: p.entries.map(esRecordEntry),
          atomic: p.atomic,
        });
        return res.results.map(({ result }) =>
          result.case === "entry"
            ? { ok: true as const, ...esWrittenRecorded<P>(result.value) }
            : esRefused(name, result),
        );
      }),
    transfer: (p) =>
      guarded(async () => esWrittenTransaction(await client.transfer(esTransfer(p)))),
    createTransfers: (p) =>
      guarded(async () => {
        const res = await client.createTransfers({
          transfers: p.transfers.map(esTransfer),
          atomic: p.atomic,
        });
        return res.results.map(({ result }) =>
          result.case === "transfer"
            ? { ok: true as const, ...esWrittenTransaction(result.value) }
            : esRefused(name, result),
        );
      }),
    reverseTransaction: (p) =>
      guarded(async () => {
        const res = await client.reverseTransaction({
          transactionId: p.transactionId,
          amount: p.amount,
          idempotencyKey: p.idempotencyKey,
          description: p.description ?? "",
          metadata: { ...p.metadata },
        });
        return esWrittenTransaction(res);
      }),
    getTransaction: (p) =>
      guarded(async () => {
        const res = await client.getTransaction({
          transactionId: p.transactionId ?? "",
          app: p.app ?? "",
          externalTransactionId: p.externalTransactionId ?? "",
        });
        return esTransaction(required(res.transaction, "transaction"));
      }),
    getBalance: (p) =>
      guarded(async () => {
        const res = await client.getBalance({
          ledgerId: p.ledgerId ?? "",
          app: p.app ?? "",
          ownerId: p.ownerId ?? "",
          unit: p.unit ?? "",
          asOf: esTimestamp(p.asOf),
        });
        return {
          ledgerId: res.ledgerId,
          balance: res.balance,
          unit: res.unit,
          version: res.version,
          pendingDebits: res.pendingDebits,
          pendingCredits: res.pendingCredits,
          available: res.available,
        };
      }),
    listEntries: (p) =>
      guarded(async () => {
        const res = await client.listEntries({
          ledgerId: p.ledgerId,
          pageSize: p.pageSize ?? 0,
          pageToken: p.pageToken ?? "",
          occurredAfter:
            p.occurredAfter === undefined ? undefined : timestampFromDate(p.occurredAfter),
          occurredBefore:
            p.occurredBefore === undefined ? undefined : timestampFromDate(p.occurredBefore),
          reference: p.reference ?? "",
          externalTransactionId: p.externalTransactionId ?? "",
          createdAfter: esTimestamp(p.createdAfter),
          createdBefore: esTimestamp(p.createdBefore),
        });
        return { items: res.entries.map(esEntry), nextPageToken: res.nextPageToken };
      }),
    terminateLedger: (ledgerId, options) =>
      guarded(async () => (await terminateFully(ledgerId, options)).ledger),
    terminateLedgerFully: (ledgerId, options) => guarded(() => terminateFully(ledgerId, options)),
    postPendingTransaction: (p) =>
      guarded(async () => {
        const res = await client.postPendingTransaction({
          transactionId: p.transactionId,
          amount: p.amount,
          idempotencyKey: p.idempotencyKey,
        });
        return esWrittenTransaction(res);
      }),
    voidPendingTransaction: (p) =>
      guarded(async () => {
        const res = await client.voidPendingTransaction({
          transactionId: p.transactionId,
          idempotencyKey: p.idempotencyKey,
        });
        return esWrittenTransaction(res);
      }),
    listPendingTransactions: (p) =>
      guarded(async () => {
        const res = await client.listPendingTransactions({
          ledgerId: p.ledgerId,
          pageSize: p.pageSize ?? 0,
          pageToken: p.pageToken ?? "",
        });
        return { items: res.transactions.map(esTransaction), nextPageToken: res.nextPageToken };
      }),
    watchEntries(p, signal) {
      return entriesOf(this.watchEvents(p, signal));
    },
    async *watchEvents(p, signal) {
      try {
        for await (const message of client.watchEntries(p, { signal, timeoutMs: 120_000 })) {
          yield esEvent(message);
        }
      } catch (error) {
        if (signal?.aborted !== true) {
          throw connectFailure(name, error);
        }
      }
    },
    close() {},
  };
}

function esTimestamp(date: Date | undefined): Timestamp | undefined {
  return date === undefined ? undefined : timestampFromDate(date);
}

/** The annotations of a RecordEntryRequest or TransferRequest. */
function esAnnotations(p: PostingAnnotations) {
  return {
    occurredAt: esTimestamp(p.occurredAt),
    description: p.description ?? "",
    reference: p.reference ?? "",
    metadata: { ...p.metadata },
    externalTransactionId: p.externalTransactionId ?? "",
  };
}

/** The hold fields of a RecordEntryRequest or TransferRequest. */
function esHold(p: HoldParams) {
  return {
    pending: p.pending ?? false,
    pendingExpiresAt:
      p.pendingExpiresAt === undefined ? undefined : timestampFromDate(p.pendingExpiresAt),
  };
}

function esRecordEntry(p: RecordEntryParams): MessageInitShape<typeof pb.RecordEntryRequestSchema> {
  return {
    ledgerId: p.ledgerId,
    operation: p.operation,
    amount: p.amount,
    idempotencyKey: p.idempotencyKey,
    ...esAnnotations(p),
    ...esHold(p),
    createdAt: esTimestamp(p.createdAt),
  };
}

function esTransfer(p: TransferParams): MessageInitShape<typeof pb.TransferRequestSchema> {
  return {
    fromLedgerId: p.fromLedgerId,
    toLedgerId: p.toLedgerId,
    amount: p.amount,
    idempotencyKey: p.idempotencyKey,
    operation: p.operation ?? "",
    ...esAnnotations(p),
    ...esHold(p),
  };
}

/** A RecordEntryResponse: its entry, or a hold's pending_transaction (then it has no entry). */
function esWrittenRecorded<P extends RecordEntryParams>(
  res: pb.RecordEntryResponse,
): RecordWritten<Recorded<P>> {
  const value =
    res.pendingTransaction === undefined
      ? esEntry(required(res.entry, "entry"))
      : esTransaction(res.pendingTransaction);
  return {
    value,
    replayed: res.replayed,
    recomputedEntries: res.recomputedEntries,
  } as RecordWritten<Recorded<P>>;
}

function esWrittenTransaction(res: {
  transaction?: pb.Transaction;
  replayed: boolean;
}): Written<Transaction> {
  return {
    value: esTransaction(required(res.transaction, "transaction")),
    replayed: res.replayed,
  };
}

/** A bulk item that was refused: its google.rpc.Status as an RpcFailure. */
function esRefused(
  name: ClientName,
  result: { case: "error"; value: Status } | { case: undefined; value?: undefined },
): { readonly ok: false; readonly failure: RpcFailure } {
  if (result.case === undefined) {
    throw new Error("a bulk result carries neither its response nor an error");
  }
  const { code, message, details } = result.value;
  const info = details
    .map((any) => anyUnpack(any, ErrorInfoSchema))
    .find((unpacked) => unpacked !== undefined);
  return { ok: false, failure: rpcFailure(name, code, message, info) };
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) {
    throw new Error(`response carries no ${field}`);
  }
  return value;
}

function esDate(ts: Timestamp | undefined): Date | undefined {
  return ts === undefined ? undefined : timestampDate(ts);
}

const LEDGER_STATUSES: Record<pb.LedgerStatus, LedgerStatus> = {
  [pb.LedgerStatus.UNSPECIFIED]: "UNSPECIFIED",
  [pb.LedgerStatus.ACTIVE]: "ACTIVE",
  [pb.LedgerStatus.TERMINATED]: "TERMINATED",
};

const TRANSACTION_STATES: Record<pb.TransactionState, TransactionState> = {
  [pb.TransactionState.UNSPECIFIED]: "UNSPECIFIED",
  [pb.TransactionState.POSTED]: "POSTED",
  [pb.TransactionState.PENDING]: "PENDING",
  [pb.TransactionState.VOIDED]: "VOIDED",
  [pb.TransactionState.EXPIRED]: "EXPIRED",
};

const TRANSACTION_KINDS: Record<pb.TransactionKind, TransactionKind> = {
  [pb.TransactionKind.UNSPECIFIED]: "UNSPECIFIED",
  [pb.TransactionKind.ENTRY]: "ENTRY",
  [pb.TransactionKind.REVERSAL]: "REVERSAL",
  [pb.TransactionKind.TRANSFER]: "TRANSFER",
};

function esLedger(raw: pb.Ledger | undefined): Ledger {
  const l = required(raw, "ledger");
  return {
    id: l.id,
    app: l.app,
    ownerId: l.ownerId,
    unit: l.unit,
    description: l.description,
    reference: l.reference,
    metadata: { ...l.metadata },
    status: LEDGER_STATUSES[l.status],
    balance: l.balance,
    minBalance: l.minBalance,
    version: l.version,
    createdAt: esDate(l.createdAt),
    terminatedAt: esDate(l.terminatedAt),
    unbounded: l.unbounded,
    pendingDebits: l.pendingDebits,
    pendingCredits: l.pendingCredits,
    available: l.available,
    validFrom: esDate(l.validFrom),
    validUntil: esDate(l.validUntil),
    expireToLedgerId: l.expireToLedgerId,
  };
}

function esEntry(e: pb.Entry): Entry {
  return {
    id: e.id,
    transactionId: e.transactionId,
    ledgerId: e.ledgerId,
    sequence: e.sequence,
    operation: e.operation,
    amount: e.amount,
    balanceAfter: e.balanceAfter,
    occurredAt: esDate(e.occurredAt),
    createdAt: esDate(e.createdAt),
    description: e.description,
    reference: e.reference,
    metadata: { ...e.metadata },
    externalTransactionId: e.externalTransactionId,
    reversesTransactionId: e.reversesTransactionId,
  };
}

function esEvent(message: pb.WatchEntriesResponse): WatchedEvent {
  const { cursor, event } = message;
  switch (event.case) {
    case "entry":
      return { cursor, kind: "entry", entry: esEntry(event.value) };
    case "hold":
      return {
        cursor,
        kind: "hold",
        state: TRANSACTION_STATES[event.value.state],
        transaction: esTransaction(required(event.value.transaction, "transaction")),
      };
    default:
      return { cursor, kind: "checkpoint" };
  }
}

function esTransaction(t: pb.Transaction): Transaction {
  return {
    id: t.id,
    kind: TRANSACTION_KINDS[t.kind],
    entries: t.entries.map(esEntry),
    reversesTransactionId: t.reversesTransactionId,
    amount: t.amount,
    reversedAmount: t.reversedAmount,
    createdAt: esDate(t.createdAt),
    reversalIds: [...t.reversalIds],
    externalTransactionId: t.externalTransactionId,
    state: TRANSACTION_STATES[t.state],
    pendingExpiresAt: esDate(t.pendingExpiresAt),
    heldAmount: t.heldAmount,
    pendingEntries: t.pendingEntries.map(esPendingEntry),
    history: t.history.map((event) => ({
      state: TRANSACTION_STATES[event.state],
      at: esDate(event.at),
      amount: event.amount,
    })),
  };
}

function esPendingEntry(e: pb.PendingEntry): PendingEntry {
  return {
    ledgerId: e.ledgerId,
    operation: e.operation,
    amount: e.amount,
    occurredAt: esDate(e.occurredAt),
    description: e.description,
    reference: e.reference,
    metadata: { ...e.metadata },
  };
}
