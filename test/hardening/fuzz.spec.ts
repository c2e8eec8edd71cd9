/**
 * Bounded fuzzing of the RPC surface with fast-check. Typed requests to every
 * method through the three clients (holds too: `pending` and hostile
 * deadlines on RecordEntry and Transfer, posts and voids of real holds and
 * of anything else, ListPendingTransactions), each field usually valid (real ids, so
 * the store's checks are reached) and sometimes hostile: empty, huge,
 * NUL-laden, unicode or injection-shaped strings, invalid ids, int64
 * extremes, absurd page sizes, dates and page tokens, oversized metadata,
 * missing idempotency keys; backdates (created_at), as_of reads and
 * created_after / created_before filters at instants of the targets'
 * history, just beside them, or hostile. And random bytes as the body of every method in
 * the Connect and gRPC protocols. Every answer is a success or a client code
 * with a readable message (typed calls: a ledger.v1 ErrorInfo with a known
 * reason); none is INTERNAL or UNKNOWN. Afterwards the server still serves,
 * the targets' histories chain in history order, and every invariant holds.
 *
 * Seeds are printed; replay with LEDGER_FUZZ_SEED=<seed> (and the
 * LEDGER_FUZZ_PATH fast-check reports). LEDGER_FUZZ_RUNS sets the cases per property.
 */
import { randomUUID } from "node:crypto";
import * as http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { LedgerService, RecordEntryRequestSchema } from "../../gen/ledger/v1/ledger_pb.js";
import { verifyInvariants } from "../../src/store/index.js";
import {
  CLIENT_NAMES,
  type CodeName,
  ERROR_DOMAIN,
  type LedgerApi,
  RpcFailure,
} from "../support/clients.js";
import {
  declaredApp,
  envInteger,
  INT64_MAX,
  INT64_MIN,
  LEDGER_METHODS,
  uniqueKey,
  uniqueOwner,
} from "../support/fixtures.js";
import { useLedgerServer } from "../support/server.js";
import { allEntries, openLedger, post } from "../support/steps.js";

const harness = useLedgerServer();

const RUNS = envInteger("LEDGER_FUZZ_RUNS") ?? 200;
const SEED = envInteger("LEDGER_FUZZ_SEED") ?? (Math.random() * 2 ** 31) | 0;
const PATH = process.env.LEDGER_FUZZ_PATH || undefined;

function assertOptions(): fc.Parameters<unknown> {
  return { seed: SEED, numRuns: RUNS, ...(PATH === undefined ? {} : { path: PATH }) };
}

const CLIENT_CODES: readonly CodeName[] = [
  "INVALID_ARGUMENT",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "FAILED_PRECONDITION",
  "OUT_OF_RANGE",
];

const REASONS = [
  "LEDGER_NOT_FOUND",
  "TRANSACTION_NOT_FOUND",
  "INSUFFICIENT_FUNDS",
  "LEDGER_TERMINATED",
  "IDEMPOTENCY_KEY_REUSED",
  "REVERSAL_EXCEEDS_TRANSACTION",
  "TRANSACTION_NOT_REVERSIBLE",
  "UNKNOWN_OPERATION",
  "AMOUNT_DIRECTION_MISMATCH",
  "AMOUNT_NOT_ALLOWED",
  "INVALID_ARGUMENT",
  "BALANCE_OVERFLOW",
  "LEDGER_ALREADY_EXISTS",
  "EXTERNAL_ID_ALREADY_USED",
  "APP_MISMATCH",
  "UNIT_MISMATCH",
  "HOLD_NOT_PENDING",
  "HOLD_EXPIRED",
  "HOLD_AMOUNT_EXCEEDED",
  "LEDGER_HAS_PENDING_TRANSACTIONS",
  "BACKDATE_TOO_FAR",
  "LEDGER_NOT_YET_VALID",
  "LEDGER_EXPIRED",
  // A hostile app that matches the app pattern but is not declared under proto/apps/.
  "UNKNOWN_APP",
];

const NASTY_TEXT = [
  "",
  " ",
  "ünïcödé-ß",
  "😀💸",
  "\u0000",
  "a\u0000b",
  "\t\r\n",
  "\uFEFFBOM",
  "\uD800",
  "x".repeat(65),
  "y".repeat(300),
  "z".repeat(5000),
  "'; DROP TABLE ledgers; --",
  "%_\\",
  "../../etc/passwd",
  "00000000-0000-0000-0000-000000000000",
  "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
];

/** A hostile string: a known nasty one, or any string fast-check makes up. */
const hostileText = fc.oneof(
  fc.constantFrom(...NASTY_TEXT),
  fc.string({ unit: "binary", maxLength: 300 }),
);

/** Usually `valid`, one time in five hostile. */
function field<T>(valid: fc.Arbitrary<T>, hostile: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: hostile });
}

function optional<T>(value: T | undefined, key: string): Record<string, T> {
  return value === undefined ? {} : { [key]: value };
}

const int64 = fc.oneof(
  fc.constantFrom(0n, -1n, INT64_MAX, INT64_MIN, INT64_MIN + 1n, -INT64_MAX, 10n ** 18n),
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
);
const pageSize = field(
  fc.constantFrom(0, 2, 50),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
);
const pageToken = field(
  fc.constant(""),
  fc.oneof(fc.constantFrom("garbage", "eyJ9", "AAAA", "%%%", "x".repeat(2000)), hostileText),
);
const date = field<Date | undefined>(
  fc.constantFrom(undefined, new Date("2024-06-01T00:00:00Z")),
  fc.oneof(
    fc.constantFrom(new Date(0), new Date(Date.now() + 10 * 60 * 1000)),
    fc.date({
      min: new Date("0001-01-01T00:00:00Z"),
      max: new Date("9999-12-31T23:59:59Z"),
      noInvalidDate: true,
    }),
  ),
);
/** Usually not a hold; a hold with the default deadline, one ahead, or a hostile one. */
const holding = field<{ pending?: boolean; pendingExpiresAt?: Date }>(
  fc.constantFrom(
    {},
    { pending: true },
    { pending: true, pendingExpiresAt: new Date(Date.now() + 60 * 60 * 1000) },
  ),
  fc.record(
    { pending: fc.boolean(), pendingExpiresAt: date.filter((d) => d !== undefined) },
    { requiredKeys: ["pendingExpiresAt"] },
  ),
);
const metadata = field<Record<string, string>>(
  fc.constant({ source: "fuzz" }),
  fc.oneof(
    fc.constant({ "": "empty key" }),
    fc.constant({ k: "\u0000" }),
    fc.constant(Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, "v"]))),
    fc.constant({ ["k".repeat(65)]: "v" }),
    fc.constant({ k: "v".repeat(1025) }),
    fc.dictionary(hostileText, hostileText, { maxKeys: 5 }),
  ),
);
const text = field(fc.constant("plain text"), hostileText);
/** A missing key is hostile too; "fuzz-shared-key" makes replays and reuse. */
const key = field(
  fc.constant(undefined).map(() => uniqueKey("fuzz")),
  fc.oneof(fc.constantFrom("", "fuzz-shared-key"), hostileText),
);
/**
 * Unique per app: usually none or a fresh one, so writes are not refused
 * for it; "fuzz-shared-psp" and hostile text make EXTERNAL_ID_ALREADY_USED.
 */
const externalId = field(
  fc.oneof(
    fc.constant(""),
    fc.constant(undefined).map(() => uniqueKey("psp")),
  ),
  fc.oneof(fc.constant("fuzz-shared-psp"), hostileText),
);

interface Targets {
  readonly app: string;
  readonly ledgerIds: string[];
  readonly transactionIds: string[];
  /** Holds made for the fuzz to post and void. */
  readonly holdIds: string[];
  /** The created_at of the targets' entries: instants of their history to backdate to and read as of. */
  readonly instants: Date[];
}

interface FuzzCall {
  readonly what: string;
  readonly call: (api: LedgerApi) => Promise<unknown>;
}

function bigints(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? `${value}n` : value;
}

function describeCall(method: string, params: unknown): string {
  return `${method} ${JSON.stringify(params, bigints)}`.slice(0, 400);
}

function fuzzCalls(targets: Targets): fc.Arbitrary<FuzzCall> {
  const ledgerId = field(
    fc.constantFrom(...targets.ledgerIds),
    fc.oneof(hostileText, fc.uuid(), fc.constant(randomUUID())),
  );
  const transactionId = field(
    fc.constantFrom(...targets.transactionIds),
    fc.oneof(hostileText, fc.uuid()),
  );
  const app = field(fc.constant(targets.app), hostileText);
  const amount = field<bigint | undefined>(fc.constantFrom(undefined, 1n, 5n, -1n, -5n), int64);
  /**
   * An instant of the targets' history (issue 14), mostly absent: exactly an
   * entry's created_at, just before or after one, a second ago, long ago;
   * or hostile (the future, year 1 or 9999, the epoch).
   */
  const past = field<Date | undefined>(
    fc.oneof(
      { weight: 4, arbitrary: fc.constant(undefined) },
      { weight: 2, arbitrary: fc.constantFrom(...targets.instants) },
      {
        weight: 2,
        arbitrary: fc
          .tuple(fc.constantFrom(...targets.instants), fc.integer({ min: -5, max: 5 }))
          .map(([at, ms]) => new Date(Math.min(at.getTime() + ms, Date.now() - 1))),
      },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom(1_000, 24 * 60 * 60 * 1000)
          .map((ago) => new Date(Date.now() - ago)),
      },
    ),
    date,
  );

  const create = fc
    .record({
      app,
      ownerId: field(
        fc.constant(undefined).map(() => uniqueOwner("fuzz")),
        hostileText,
      ),
      unit: field(fc.constantFrom("CREDITS", "SEATS"), hostileText),
      idempotencyKey: key,
      description: text,
      reference: text,
      metadata,
      minBalance: field<bigint | undefined>(fc.constantFrom(undefined, 0n, -100n), int64),
      unbounded: fc.boolean(),
    })
    .map(({ minBalance, ...rest }) => ({ ...rest, ...optional(minBalance, "minBalance") }))
    .map((p) => ({
      what: describeCall("CreateLedger", p),
      call: (api: LedgerApi) => api.createLedger(p),
    }));
  const getLedger = ledgerId.map((id) => ({
    what: describeCall("GetLedger", id),
    call: (api: LedgerApi) => api.getLedger(id),
  }));
  const listLedgers = fc
    .record({ app, ownerId: field(fc.constant(""), hostileText), pageSize, pageToken })
    .map((p) => ({
      what: describeCall("ListLedgers", p),
      call: (api: LedgerApi) => api.listLedgers(p),
    }));
  const record = fc
    .record({
      ledgerId,
      operation: field(
        fc.constantFrom("DAILY_REWARD", "CREDIT_SPEND", "CREDIT_ADD", "SIGNUP_CREDIT"),
        fc.oneof(fc.constantFrom("REVERSAL", "TELEPORT"), hostileText),
      ),
      idempotencyKey: key,
      amount,
      occurredAt: date,
      description: text,
      reference: text,
      metadata,
      externalTransactionId: externalId,
      holding,
      createdAt: past,
    })
    .map(({ amount: a, occurredAt, holding: h, createdAt, ...rest }) => ({
      ...rest,
      ...h,
      ...optional(a, "amount"),
      ...optional(occurredAt, "occurredAt"),
      ...optional(createdAt, "createdAt"),
    }))
    .map((p) => ({
      what: describeCall("RecordEntry", p),
      call: (api: LedgerApi) => api.recordEntry(p),
    }));
  const transfer = fc
    .record({
      fromLedgerId: ledgerId,
      toLedgerId: ledgerId,
      amount: field(fc.constantFrom(1n, 5n), int64),
      idempotencyKey: key,
      operation: field(
        fc.constantFrom("", "CREDIT_SPEND"),
        fc.oneof(fc.constantFrom("TRANSFER", "REVERSAL", "TELEPORT"), hostileText),
      ),
      occurredAt: date,
      description: text,
      reference: text,
      metadata,
      externalTransactionId: externalId,
      holding,
    })
    .map(({ occurredAt, holding: h, ...rest }) => ({
      ...rest,
      ...h,
      ...optional(occurredAt, "occurredAt"),
    }))
    .map((p) => ({
      what: describeCall("Transfer", p),
      call: (api: LedgerApi) => api.transfer(p),
    }));
  const getTransaction = fc
    .oneof(
      transactionId.map((id) => ({ transactionId: id })),
      fc.record({ app, externalTransactionId: externalId }),
      fc.record({ transactionId, app, externalTransactionId: externalId }),
    )
    .map((p) => ({
      what: describeCall("GetTransaction", p),
      call: (api: LedgerApi) => api.getTransaction(p),
    }));
  const reverse = fc
    .record({
      transactionId,
      idempotencyKey: key,
      amount: field<bigint | undefined>(fc.constantFrom(undefined, 1n), int64),
      description: text,
      metadata,
    })
    .map(({ amount: a, ...rest }) => ({ ...rest, ...optional(a, "amount") }))
    .map((p) => ({
      what: describeCall("ReverseTransaction", p),
      call: (api: LedgerApi) => api.reverseTransaction(p),
    }));
  const balance = fc
    .oneof(
      ledgerId.map((id) => ({ ledgerId: id })),
      fc
        .record({ ledgerId, asOf: past })
        .map(({ asOf, ...rest }) => ({ ...rest, ...optional(asOf, "asOf") })),
      fc
        .record({
          app,
          ownerId: field(fc.constant("owner-0"), hostileText),
          unit: field(fc.constant("CREDITS"), hostileText),
          ledgerId: fc.option(ledgerId, { nil: undefined, freq: 10 }),
        })
        .map(({ ledgerId: id, ...rest }) => ({ ...rest, ...optional(id, "ledgerId") })),
    )
    .map((p) => ({
      what: describeCall("GetBalance", p),
      call: (api: LedgerApi) => api.getBalance(p),
    }));
  const listEntries = fc
    .record({
      ledgerId,
      pageSize,
      pageToken,
      occurredAfter: date,
      occurredBefore: date,
      reference: field(fc.constant(""), text),
      externalTransactionId: field(fc.constant(""), externalId),
      createdAfter: past,
      createdBefore: past,
    })
    .map(({ occurredAfter, occurredBefore, createdAfter, createdBefore, ...rest }) => ({
      ...rest,
      ...optional(occurredAfter, "occurredAfter"),
      ...optional(occurredBefore, "occurredBefore"),
      ...optional(createdAfter, "createdAfter"),
      ...optional(createdBefore, "createdBefore"),
    }))
    .map((p) => ({
      what: describeCall("ListEntries", p),
      call: (api: LedgerApi) => api.listEntries(p),
    }));
  // Terminating is final: only hostile or unknown ids, so the targets stay open.
  const terminate = fc
    .record({ id: fc.oneof(hostileText, fc.uuid()), voidPending: fc.boolean() })
    .map(({ id, voidPending }) => ({
      what: describeCall("TerminateLedger", { id, voidPending }),
      call: (api: LedgerApi) => api.terminateLedger(id, { voidPending }),
    }));
  // Posts and voids of the targets' holds (and of anything else): the holds get used up.
  const holdId = field(
    fc.constantFrom(...targets.holdIds, ...targets.transactionIds),
    fc.oneof(hostileText, fc.uuid()),
  );
  const postPending = fc
    .record({
      transactionId: holdId,
      idempotencyKey: key,
      amount: field<bigint | undefined>(fc.constantFrom(undefined, 1n, 2n), int64),
    })
    .map(({ amount: a, ...rest }) => ({ ...rest, ...optional(a, "amount") }))
    .map((p) => ({
      what: describeCall("PostPendingTransaction", p),
      call: (api: LedgerApi) => api.postPendingTransaction(p),
    }));
  const voidPending = fc.record({ transactionId: holdId, idempotencyKey: key }).map((p) => ({
    what: describeCall("VoidPendingTransaction", p),
    call: (api: LedgerApi) => api.voidPendingTransaction(p),
  }));
  const listPending = fc.record({ ledgerId, pageSize, pageToken }).map((p) => ({
    what: describeCall("ListPendingTransactions", p),
    call: (api: LedgerApi) => api.listPendingTransactions(p),
  }));
  return fc.oneof(
    postPending,
    voidPending,
    listPending,
    create,
    getLedger,
    listLedgers,
    record,
    transfer,
    reverse,
    getTransaction,
    balance,
    listEntries,
    terminate,
  );
}

/**
 * Bodies for the byte fuzz: random bytes, and a valid RecordEntry request
 * with one byte changed, truncated, or with bytes spliced in, so decoding
 * gets deep before it fails (or succeeds with odd values).
 */
function requestBytes(targets: Targets): fc.Arbitrary<Uint8Array> {
  const valid = toBinary(
    RecordEntryRequestSchema,
    create(RecordEntryRequestSchema, {
      ledgerId: targets.ledgerIds[0] ?? "",
      operation: "CREDIT_ADD",
      amount: 1n,
      idempotencyKey: "fuzz-bytes",
      metadata: { source: "fuzz" },
    }),
  );
  const mutated = fc
    .tuple(
      fc.nat(valid.byteLength - 1),
      fc.integer({ min: 0, max: 255 }),
      fc.nat(2),
      fc.uint8Array({ maxLength: 16 }),
    )
    .map(([at, value, how, spliced]) => {
      switch (how) {
        case 0: {
          const copy = Uint8Array.from(valid);
          copy[at] = value;
          return copy;
        }
        case 1:
          return valid.subarray(0, at);
        default:
          return Uint8Array.from([...valid.subarray(0, at), ...spliced, ...valid.subarray(at)]);
      }
    });
  return fc.oneof(fc.uint8Array({ maxLength: 512 }), mutated);
}

/** Random bytes as a Connect binary request; the Connect error code, or "ok". */
const STREAMING_METHODS = new Set(
  LedgerService.methods.filter((m) => m.methodKind !== "unary").map((m) => m.name),
);

async function connectBytes(method: string, body: Uint8Array): Promise<string> {
  const res = await fetch(`${harness.server().url}/ledger.v1.LedgerService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/proto" },
    body: Buffer.from(body),
  });
  if (res.status === 200) {
    await res.arrayBuffer();
    return "ok";
  }
  const error = (await res.json()) as { code?: string; message?: string };
  return `${error.code} ${error.message ?? ""}`;
}

/** Random bytes in one gRPC envelope on one HTTP/2 session; the grpc-status and message. */
function grpcBytes(
  session: http2.ClientHttp2Session,
  method: string,
  body: Uint8Array,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const frame = Buffer.alloc(5 + body.byteLength);
    frame.writeUInt32BE(body.byteLength, 1);
    frame.set(body, 5);
    const req = session.request({
      ":method": "POST",
      ":path": `/ledger.v1.LedgerService/${method}`,
      "content-type": "application/grpc",
      te: "trailers",
    });
    let seen: http2.IncomingHttpHeaders = {};
    req.on("response", (h) => {
      seen = { ...seen, ...h };
    });
    req.on("trailers", (t) => {
      seen = { ...seen, ...t };
    });
    req.resume();
    req.on("end", () =>
      resolve(`${seen["grpc-status"]} ${decodeURIComponent(String(seen["grpc-message"] ?? ""))}`),
    );
    req.on("error", reject);
    req.end(frame);
  });
}

describe("fuzzing the RPC surface", () => {
  const targets: Targets = {
    app: declaredApp(),
    ledgerIds: [],
    transactionIds: [],
    holdIds: [],
    instants: [],
  };

  beforeAll(async () => {
    const api = harness.client("connect");
    for (const [ownerId, unbounded] of [
      ["owner-0", false],
      ["owner-1", true],
    ] as const) {
      const ledger = await openLedger(api, { app: targets.app, ownerId, unbounded });
      const entry = await post(api, ledger.id, "CREDIT_ADD", 100n);
      targets.ledgerIds.push(ledger.id);
      targets.transactionIds.push(entry.transactionId);
      targets.instants.push(entry.createdAt as Date);
      // A second entry, so backdates land between, at and before entries.
      targets.instants.push((await post(api, ledger.id, "CREDIT_ADD", 5n)).createdAt as Date);
    }
    for (const amount of [-3n, -2n, 4n]) {
      const { value } = await api.recordEntry({
        ledgerId: targets.ledgerIds[0] as string,
        operation: amount < 0n ? "CREDIT_SPEND" : "CREDIT_ADD",
        amount,
        idempotencyKey: uniqueKey("fuzz-hold"),
        pending: true,
      });
      targets.holdIds.push(value.id);
    }
  });

  it(`${RUNS} typed requests through random clients are served or refused with a client code`, async () => {
    console.log(`fuzz typed seed=${SEED} (replay: LEDGER_FUZZ_SEED=${SEED})`);
    const clients = CLIENT_NAMES.map((name) => harness.client(name));
    const served: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(
        fc.nat(clients.length - 1),
        fuzzCalls(targets),
        async (c, { what, call }) => {
          const api = clients[c] as LedgerApi;
          try {
            await call(api);
            served.OK = (served.OK ?? 0) + 1;
          } catch (error) {
            if (!(error instanceof RpcFailure)) {
              throw error;
            }
            served[error.code] = (served[error.code] ?? 0) + 1;
            const refusedByTheService =
              CLIENT_CODES.includes(error.code) &&
              error.domain === ERROR_DOMAIN &&
              REASONS.includes(error.reason ?? "") &&
              error.rawMessage.length > 0;
            // A string that is not valid UTF-8 (a lone surrogate, as grpc-js encodes it) is
            // refused while decoding, before the service sees it: no ErrorInfo then.
            const undecodable =
              error.code === "INVALID_ARGUMENT" &&
              error.reason === undefined &&
              /^(parse binary|cannot decode)/.test(error.rawMessage);
            const wellFormed = refusedByTheService || undecodable;
            expect(wellFormed, `${api.name} ${what}\n  -> ${error.message}`).toBe(true);
          }
        },
      ),
      assertOptions(),
    );
    console.log(`fuzz typed seed=${SEED} outcomes ${JSON.stringify(served)}`);
  }, 300_000);

  it(`${RUNS} random byte strings as Connect and gRPC requests are never a server fault`, async () => {
    console.log(`fuzz bytes seed=${SEED} (replay: LEDGER_FUZZ_SEED=${SEED})`);
    const session = http2.connect(harness.server().url);
    const answers: Record<string, number> = {};
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...LEDGER_METHODS),
          requestBytes(targets),
          async (method, bytes) => {
            // A server stream takes Connect's streaming envelope: its random bytes go over gRPC only.
            const connect = STREAMING_METHODS.has(method)
              ? "ok"
              : await connectBytes(method, bytes);
            const grpc = await grpcBytes(session, method, bytes);
            const connectCode = connect.split(" ")[0] ?? "";
            const grpcCode = grpc.split(" ")[0] ?? "";
            answers[`connect ${connectCode}`] = (answers[`connect ${connectCode}`] ?? 0) + 1;
            answers[`grpc ${grpcCode}`] = (answers[`grpc ${grpcCode}`] ?? 0) + 1;
            const what = `${method} ${Buffer.from(bytes).toString("hex").slice(0, 200)}`;
            expect(connectCode, `Connect ${what}: ${connect}`).not.toMatch(/^(internal|unknown)$/);
            expect(grpcCode, `gRPC ${what}: ${grpc}`).not.toMatch(/^(13|2|undefined)$/);
          },
        ),
        assertOptions(),
      );
    } finally {
      session.close();
    }
    console.log(`fuzz bytes seed=${SEED} answers ${JSON.stringify(answers)}`);
  }, 300_000);

  it("leaves the server serving and every invariant holding", async () => {
    const api = harness.client("grpc-js");
    const ledger = await openLedger(api);
    const entry = await post(api, ledger.id, "CREDIT_ADD", 7n);
    expect(entry.balanceAfter).toBe(7n);
    // The targets' histories, after fuzzed backdates: in history order (created_at, then
    // sequence), newest first, balance_after chaining in that order up to the balance.
    for (const id of targets.ledgerIds) {
      const history = (await allEntries(api, id)).reverse();
      const ordered = [...history].sort(
        (a, b) =>
          (a.createdAt?.getTime() ?? 0) - (b.createdAt?.getTime() ?? 0) ||
          Number(a.sequence - b.sequence),
      );
      expect(
        history.map((e) => e.id),
        `history order of ${id}`,
      ).toEqual(ordered.map((e) => e.id));
      let running = 0n;
      expect(
        history.map((e) => e.balanceAfter),
        `balance_after of ${id} chains in history order`,
      ).toEqual(history.map((e) => (running += e.amount)));
      expect((await api.getLedger(id)).balance, `balance of ${id}`).toBe(running);
      const moved = history.filter((e, i) =>
        history.slice(i + 1).some((f) => f.sequence < e.sequence),
      );
      console.log(
        `fuzz: ledger ${id} has ${history.length} entries, ${moved.length} backdated before earlier-processed ones`,
      );
    }
    expect(await verifyInvariants(harness.server().store)).toEqual([]);
  });
});
