/**
 * Concurrent writers of logical writes (RecordEntry credits, full reversals
 * of them, transfers from an unbounded source ledger, and holds: a pending
 * CREDIT_SPEND or pending transfer, later posted in full or in part, or
 * voided), each with its own idempotency key, through the real
 * gRPC protocol (connect-node's gRPC transport over HTTP/2). Every attempt is
 * recorded: what was acknowledged, and how and how fast each failure came back.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { LedgerService, TransactionState } from "../../../gen/ledger/v1/ledger_pb.js";
import { CONTENT } from "../../support/fixtures.js";

export type LedgerClient = ReturnType<typeof createClient<typeof LedgerService>>;

/** Bounds every attempt: a call that hangs shows up as DEADLINE_EXCEEDED, never as a stuck test. */
export const ATTEMPT_TIMEOUT_MS = 15_000;

export function ledgerClient(port: number): LedgerClient {
  return createClient(
    LedgerService,
    createGrpcTransport({
      baseUrl: `http://127.0.0.1:${port}`,
      defaultTimeoutMs: ATTEMPT_TIMEOUT_MS,
    }),
  );
}

/** The app the load writes in: a declared one (the server refuses others, UNKNOWN_APP). */
export const LOAD_APP = CONTENT;

/**
 * Opens `count` CREDITS ledgers in LOAD_APP, owned by `${label}-i`
 * under the keys `${label}-ledger-i`, and returns their ids in order. The
 * first is unbounded: the source the load's transfers draw from, so no
 * transfer is ever refused for funds.
 */
export async function openLedgers(
  client: LedgerClient,
  label: string,
  count: number,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const { ledger } = await client.createLedger({
      app: LOAD_APP,
      ownerId: `${label}-${i}`,
      unit: "CREDITS",
      unbounded: i === 0,
      idempotencyKey: `${label}-ledger-${i}`,
    });
    ids.push(ledger?.id ?? "");
  }
  return ids;
}

/**
 * A hold: a pending CREDIT_SPEND of `ledgerId` ("spend"), or a pending
 * transfer from `fromLedgerId` to `ledgerId` ("transfer"). It writes no entry.
 */
export type HoldWrite =
  | {
      readonly kind: "hold";
      readonly key: string;
      readonly via: "spend";
      readonly ledgerId: string;
      readonly amount: bigint;
    }
  | {
      readonly kind: "hold";
      readonly key: string;
      readonly via: "transfer";
      readonly fromLedgerId: string;
      readonly ledgerId: string;
      readonly amount: bigint;
    };

export type LogicalWrite =
  | HoldWrite
  | {
      /** Posts an acknowledged hold: all of it (`amount` undefined) or `amount` of it. */
      readonly kind: "post";
      readonly key: string;
      readonly hold: HoldWrite;
      readonly transactionId: string;
      readonly amount: bigint | undefined;
    }
  | {
      /** Voids an acknowledged hold. */
      readonly kind: "void";
      readonly key: string;
      readonly hold: HoldWrite;
      readonly transactionId: string;
    }
  | {
      readonly kind: "record";
      readonly key: string;
      readonly ledgerId: string;
      readonly amount: bigint;
    }
  | {
      readonly kind: "reverse";
      readonly key: string;
      readonly ledgerId: string;
      readonly transactionId: string;
      readonly amount: bigint;
    }
  | {
      readonly kind: "transfer";
      readonly key: string;
      readonly fromLedgerId: string;
      readonly ledgerId: string;
      readonly amount: bigint;
    };

/**
 * The signed amounts a logical write must leave on its ledgers as entries,
 * by ledger id, in posting order: none for a hold or a void.
 */
export function legsOf(write: LogicalWrite): ReadonlyArray<readonly [string, bigint]> {
  switch (write.kind) {
    case "hold":
    case "void":
      return [];
    case "post":
      return heldLegs(write.hold, postedAmount(write));
    case "record":
      return [[write.ledgerId, write.amount]];
    case "reverse":
      return [[write.ledgerId, -write.amount]];
    case "transfer":
      return [
        [write.fromLedgerId, -write.amount],
        [write.ledgerId, write.amount],
      ];
  }
}

/** A hold's legs, in posting order, for `amount` of it: what it reserves (negative) or awaits. */
export function heldLegs(
  hold: HoldWrite,
  amount: bigint = hold.amount,
): ReadonlyArray<readonly [string, bigint]> {
  return hold.via === "spend"
    ? [[hold.ledgerId, -amount]]
    : [
        [hold.fromLedgerId, -amount],
        [hold.ledgerId, amount],
      ];
}

/** The magnitude a post writes: the amount asked for, or all of the hold. */
export function postedAmount(write: Extract<LogicalWrite, { kind: "post" }>): bigint {
  return write.amount ?? write.hold.amount;
}

export interface Ack {
  readonly write: LogicalWrite;
  /** The ids of the entries the write made, one per leg (none for a hold or a void). */
  readonly entryIds: readonly string[];
  /** The transaction it made; for a post or a void, the hold it resolved. */
  readonly transactionId: string;
  readonly replayed: boolean;
  readonly atMs: number;
  /** How long the acknowledged attempt took. */
  readonly latencyMs: number;
}

export interface Failure {
  readonly write: LogicalWrite;
  readonly code: string;
  readonly reason: string | undefined;
  readonly message: string;
  readonly startMs: number;
  readonly latencyMs: number;
}

/** One attempt of a logical write: its acknowledgement, or how it failed. */
export async function attempt(client: LedgerClient, write: LogicalWrite): Promise<Ack | Failure> {
  const startMs = Date.now();
  try {
    const { transactionId, entryIds, replayed } = await send(client, write);
    const atMs = Date.now();
    return { write, entryIds, transactionId, replayed, atMs, latencyMs: atMs - startMs };
  } catch (error) {
    const failure = ConnectError.from(error);
    return {
      write,
      code: Code[failure.code] ?? String(failure.code),
      reason: failure.findDetails(ErrorInfoSchema)[0]?.reason,
      message: failure.rawMessage,
      startMs,
      latencyMs: Date.now() - startMs,
    };
  }
}

/** The write's one call: the transaction it made and the ids of its entries. */
async function send(
  client: LedgerClient,
  write: LogicalWrite,
): Promise<Pick<Ack, "transactionId" | "entryIds" | "replayed">> {
  switch (write.kind) {
    case "record": {
      const { entry, replayed } = await client.recordEntry({
        ledgerId: write.ledgerId,
        operation: "CREDIT_ADD",
        amount: write.amount,
        idempotencyKey: write.key,
      });
      if (entry === undefined) {
        throw new Error("RecordEntry answered without an entry");
      }
      return { transactionId: entry.transactionId, entryIds: [entry.id], replayed };
    }
    case "reverse":
      return made(
        await client.reverseTransaction({
          transactionId: write.transactionId,
          amount: write.amount,
          idempotencyKey: write.key,
        }),
      );
    case "transfer":
      return made(
        await client.transfer({
          fromLedgerId: write.fromLedgerId,
          toLedgerId: write.ledgerId,
          amount: write.amount,
          idempotencyKey: write.key,
        }),
      );
    case "hold": {
      const { transaction, replayed } =
        write.via === "spend"
          ? await client
              .recordEntry({
                ledgerId: write.ledgerId,
                operation: "CREDIT_SPEND",
                amount: -write.amount,
                idempotencyKey: write.key,
                pending: true,
              })
              .then((res) => ({ transaction: res.pendingTransaction, replayed: res.replayed }))
          : await client.transfer({
              fromLedgerId: write.fromLedgerId,
              toLedgerId: write.ledgerId,
              amount: write.amount,
              idempotencyKey: write.key,
              pending: true,
            });
      return resolvedAs(transaction, TransactionState.PENDING, replayed);
    }
    case "post":
      return made(
        await client.postPendingTransaction({
          transactionId: write.transactionId,
          amount: write.amount,
          idempotencyKey: write.key,
        }),
      );
    case "void": {
      const { transaction, replayed } = await client.voidPendingTransaction({
        transactionId: write.transactionId,
        idempotencyKey: write.key,
      });
      return resolvedAs(transaction, TransactionState.VOIDED, replayed);
    }
  }
}

/** A hold as created or voided: in `state`, with no entries. */
function resolvedAs(
  transaction: { id: string; state: TransactionState; entries: readonly unknown[] } | undefined,
  state: TransactionState,
  replayed: boolean,
): Pick<Ack, "transactionId" | "entryIds" | "replayed"> {
  if (transaction === undefined || transaction.state !== state || transaction.entries.length > 0) {
    throw new Error(
      `the hold write answered ${transaction === undefined ? "no transaction" : `a ${TransactionState[transaction.state]} transaction with ${transaction.entries.length} entries`}, not ${TransactionState[state]} with none`,
    );
  }
  return { transactionId: transaction.id, entryIds: [], replayed };
}

function made(res: {
  transaction?: { id: string; entries: readonly { id: string }[] };
  replayed: boolean;
}): Pick<Ack, "transactionId" | "entryIds" | "replayed"> {
  if (res.transaction === undefined || res.transaction.entries.length === 0) {
    throw new Error("the write answered without a transaction and its entries");
  }
  const { id, entries } = res.transaction;
  return { transactionId: id, entryIds: entries.map((e) => e.id), replayed: res.replayed };
}

export function isAck(outcome: Ack | Failure): outcome is Ack {
  return "entryIds" in outcome;
}

export interface LoadResult {
  /** The acknowledgement of each logical write that got one, by key. */
  readonly acks: Map<string, Ack>;
  /** Logical writes that never got one (only when writers do not retry). */
  readonly unacknowledged: LogicalWrite[];
  readonly failures: Failure[];
}

export interface LoadOptions {
  readonly writers: number;
  readonly ledgerIds: readonly string[];
  /** true: a writer retries a failed write with the same key until it is acknowledged. */
  readonly retryUntilAcknowledged: boolean;
  /** Bounds each writer's retries of one write. */
  readonly retryForMsMax: number;
}

const RETRY_PAUSE_MS = 50;
/** One write in this many reverses an earlier credit of the same writer. */
const REVERSAL_EVERY = 5;
/** One write in this many (that is not a reversal or a hold's step) is a transfer from the source ledger. */
const TRANSFER_EVERY = 3;
/**
 * In each run of this many writes, one makes a hold (write HOLD_AT) and one
 * resolves the writer's oldest open hold (write RESOLVE_AT) once it has two:
 * one write in ten makes a hold, and each stays open for some fifteen writes
 * of its writer, so that faults strike holds both open and being resolved.
 * Neither slot is ever a reversal's.
 */
const HOLD_EVERY = 10;
const HOLD_AT = 3;
const RESOLVE_AT = 8;
const OPEN_HOLDS_BEFORE_RESOLVING = 2;

/** What a writer has to build on: its acknowledged credits not yet spent, and its open holds. */
interface WriterState {
  /** Credits to reverse, or to fund a hold's spend: each is used once at most. */
  readonly credits: Ack[];
  readonly holds: Ack[];
}

/**
 * Runs writers until `stop` is aborted. A writer picks ledgers round-robin
 * (the source, ledgerIds[0], excepted), credits 1..9 or transfers them from
 * the source, and now and then reverses one of its acknowledged credits in
 * full, or makes a hold and later posts (all or part of) or voids it. A
 * hold's spend is funded by one of the writer's own acknowledged credits,
 * which is then never reversed: on every ledger each credit backs one debit
 * at most, so no reversal and no hold is ever refused for funds.
 */
export async function runWriteLoad(
  client: LedgerClient,
  options: LoadOptions,
  stop: AbortSignal,
): Promise<LoadResult> {
  const result: LoadResult = { acks: new Map(), unacknowledged: [], failures: [] };
  const writer = async (index: number): Promise<void> => {
    const state: WriterState = { credits: [], holds: [] };
    for (let n = 0; !stop.aborted; n += 1) {
      const write = nextWrite(index, n, options.ledgerIds, state);
      const outcome = await settle(client, write, options, result.failures);
      if (outcome === undefined) {
        result.unacknowledged.push(write);
        continue;
      }
      result.acks.set(write.key, outcome);
      if (write.kind === "record") {
        state.credits.push(outcome);
      } else if (write.kind === "hold") {
        state.holds.push(outcome);
      }
    }
  };
  await Promise.all(Array.from({ length: options.writers }, (_, i) => writer(i)));
  return result;
}

async function settle(
  client: LedgerClient,
  write: LogicalWrite,
  options: LoadOptions,
  failures: Failure[],
): Promise<Ack | undefined> {
  const deadline = Date.now() + options.retryForMsMax;
  for (;;) {
    const outcome = await attempt(client, write);
    if (isAck(outcome)) {
      return outcome;
    }
    failures.push(outcome);
    // A pause after any failure: an outage is not a reason to spin.
    await sleep(RETRY_PAUSE_MS);
    if (!options.retryUntilAcknowledged) {
      return undefined;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `write ${write.key} was not acknowledged within ${options.retryForMsMax} ms: ${outcome.code} ${outcome.message}`,
      );
    }
  }
}

function nextWrite(
  writer: number,
  n: number,
  ledgerIds: readonly string[],
  state: WriterState,
): LogicalWrite {
  const key = `fault-${writer}-${n}-${randomUUID()}`;
  const credit =
    state.credits.length > 0 && n % REVERSAL_EVERY === REVERSAL_EVERY - 1
      ? state.credits.shift()
      : undefined;
  if (credit !== undefined && credit.write.kind === "record") {
    return {
      kind: "reverse",
      key,
      ledgerId: credit.write.ledgerId,
      transactionId: credit.transactionId,
      amount: credit.write.amount,
    };
  }
  const [source, ...targets] = ledgerIds;
  const ledgerId = targets[(writer + n) % targets.length];
  if (source === undefined || ledgerId === undefined) {
    throw new Error("no source and ledgers to write to");
  }
  const round = Math.floor(n / HOLD_EVERY);
  if (n % HOLD_EVERY === RESOLVE_AT && state.holds.length >= OPEN_HOLDS_BEFORE_RESOLVING) {
    const held = state.holds.shift();
    if (held !== undefined && held.write.kind === "hold") {
      return resolution(key, held.write, held.transactionId, writer + round);
    }
  }
  const amount = BigInt(1 + ((writer * 7 + n) % 9));
  if (n % HOLD_EVERY === HOLD_AT) {
    // Spends and pending transfers in turn; a spend only with a credit to fund it.
    const funding = (writer + round) % 2 === 0 ? state.credits.pop() : undefined;
    if (funding !== undefined && funding.write.kind === "record") {
      return {
        kind: "hold",
        key,
        via: "spend",
        ledgerId: funding.write.ledgerId,
        amount: funding.write.amount,
      };
    }
    return { kind: "hold", key, via: "transfer", fromLedgerId: source, ledgerId, amount };
  }
  return n % TRANSFER_EVERY === TRANSFER_EVERY - 1
    ? { kind: "transfer", key, fromLedgerId: source, ledgerId, amount }
    : { kind: "record", key, ledgerId, amount };
}

/** In turn: a post of all of the hold, a post of part of it (all of a hold of 1), a void. */
function resolution(
  key: string,
  hold: HoldWrite,
  transactionId: string,
  turn: number,
): LogicalWrite {
  switch (turn % 3) {
    case 0:
      return { kind: "post", key, hold, transactionId, amount: undefined };
    case 1:
      return {
        kind: "post",
        key,
        hold,
        transactionId,
        amount: hold.amount > 1n ? 1n + (BigInt(turn) % (hold.amount - 1n)) : hold.amount,
      };
    default:
      return { kind: "void", key, hold, transactionId };
  }
}

/** Counts of the hold steps among `acks`, for the specs' log lines. */
export function holdSummary(acks: readonly Ack[]): string {
  const writes = acks.map((a) => a.write);
  const holds = writes.filter((w) => w.kind === "hold").length;
  const posts = writes.filter((w) => w.kind === "post");
  const inPart = posts.filter((w) => postedAmount(w) < w.hold.amount).length;
  const voids = writes.filter((w) => w.kind === "void").length;
  return `${holds} holds (${posts.length} posted, ${inPart} of them in part, ${voids} voided, ${holds - posts.length - voids} left open)`;
}

/** Retries each write with its own key until acknowledged: the client's side of exactly-once. */
export async function settleAll(
  client: LedgerClient,
  writes: readonly LogicalWrite[],
  retryForMsMax: number,
): Promise<Ack[]> {
  const failures: Failure[] = [];
  const acks: Ack[] = [];
  for (const write of writes) {
    const outcome = await settle(
      client,
      write,
      { writers: 1, ledgerIds: [], retryUntilAcknowledged: true, retryForMsMax },
      failures,
    );
    if (outcome !== undefined) {
      acks.push(outcome);
    }
  }
  return acks;
}
