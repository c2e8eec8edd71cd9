/**
 * A randomized model check: fast-check generates interleavings of creates,
 * records, transfers (between ledgers of one app and unit, and sometimes of
 * two apps, two units or one ledger twice; amounts that fit, that break the
 * source's floor or overflow the destination; named, default and unknown
 * operations; through Transfer or as the one item of CreateTransfers),
 * reversals of entries and of transfers, terminations, replays under the
 * same key, other requests under a used key, bursts of concurrent spends and
 * of concurrent duplicates, balance reads and calls on ids that do not
 * exist, each sent through one of the three clients. Every reply (value, or
 * code, reason and the ledger a refusal names) must equal what the reference
 * model predicts. After every step the model conserves money, and at the end
 * of a run every ledger's full history, balance, version and status must
 * equal the model's, every entry and transfer as GetTransaction shows it
 * (kind, legs, reversed amount) too, and per (app, unit) the server's
 * balances must add up to the amounts of the single-sided writes (RecordEntry
 * and its reversals): transfers and their reversals move money, never create
 * it. The store's invariants must hold.
 *
 * The seed is printed. Replay a failure with the seed and path fast-check
 * reports: LEDGER_MODEL_SEED=<seed> LEDGER_MODEL_PATH=<path>
 * (LEDGER_MODEL_RUNS changes the number of runs).
 */
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { verifyInvariants } from "../../src/store/index.js";
import {
  CLIENT_NAMES,
  type CreateLedgerParams,
  type Entry,
  type Ledger,
  type LedgerApi,
  type RecordEntryParams,
  type ReverseTransactionParams,
  RpcFailure,
  type Transaction,
  type TransferOutcome,
  type TransferParams,
  type Written,
} from "../support/clients.js";
import { envInteger, INT64_MAX, uniqueApp } from "../support/fixtures.js";
import { useLedgerServer } from "../support/server.js";
import { allEntries } from "../support/steps.js";
import {
  type Leg,
  type ModelLedger,
  type ModelTransaction,
  magnitudeOf,
  POLICIES,
  type Prediction,
  REASON_CODES,
  ReferenceModel,
  type Reply,
  TRANSFER_OPERATION,
  transferOperation,
} from "./support/reference-model.js";

const harness = useLedgerServer();

const RUNS = envInteger("LEDGER_MODEL_RUNS") ?? 30;
const SEED = envInteger("LEDGER_MODEL_SEED") ?? (Math.random() * 2 ** 31) | 0;
const PATH = process.env.LEDGER_MODEL_PATH || undefined;
const STEPS_MIN = 20;
const STEPS_MAX = 60;

// ---------------------------------------------------------------------------
// Generated steps: indices pick among what exists when the step runs.
// ---------------------------------------------------------------------------

type Floor = "zero" | "credit" | "unbounded";
const FLOORS: Readonly<Record<Floor, bigint | undefined>> = {
  zero: 0n,
  credit: -50n,
  unbounded: undefined,
};

type Step =
  | { t: "create"; client: number; app: number; owner: number; unit: string; floor: Floor }
  | { t: "record"; client: number; ledger: number; operation: string; amount: AmountChoice }
  | {
      t: "transfer";
      client: number;
      from: number;
      /** Another ledger (index among the others), or the source itself. */
      to: number | "same";
      amount: TransferAmount;
      operation: string | undefined;
      via: Via;
    }
  | { t: "reverse"; client: number; tx: number; amount: number | undefined; of: ReverseTarget }
  | { t: "terminate"; client: number; ledger: number }
  | { t: "replay"; client: number; write: number; via: Via }
  | { t: "conflict"; client: number; write: number; ledger: number }
  | { t: "spends"; ledger: number; count: number; amount: number }
  | { t: "duplicates"; ledger: number; amount: number }
  | { t: "balance"; client: number; ledger: number; byKey: boolean }
  | { t: "absent"; client: number; what: "ledger" | "transaction" | "transfer" };

type AmountChoice = "default" | "max" | { magnitude: number; wrongSign: boolean };
/** Small, int64's largest, or the source's room above its floor (0 when unbounded) plus `offset`. */
type TransferAmount = number | "max" | { room: number };
/**
 * Which transactions a reversal picks among (any, when there is none of the
 * kind asked for): all, transfers, or transfers to a bounded ledger, which
 * first spends all it holds above its floor (so the floor refuses the debit
 * of the reversal's second leg).
 */
type ReverseTarget = "any" | "transfer" | "drained transfer";
/** Transfer, or a CreateTransfers call with this one item (atomic or each on its own). */
type Via = "single" | "atomic" | "each";

const client = fc.nat(CLIENT_NAMES.length - 1);
const index = fc.nat(1000);
const amountChoice: fc.Arbitrary<AmountChoice> = fc.oneof(
  { weight: 3, arbitrary: fc.constant("default" as const) },
  { weight: 1, arbitrary: fc.constant("max" as const) },
  {
    weight: 8,
    arbitrary: fc.record({ magnitude: fc.integer({ min: 0, max: 30 }), wrongSign: fc.boolean() }),
  },
);

const transferAmount: fc.Arbitrary<TransferAmount> = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 30 }) },
  { weight: 1, arbitrary: fc.constant("max" as const) },
  { weight: 2, arbitrary: fc.record({ room: fc.integer({ min: -1, max: 1 }) }) },
);
const via = fc.constantFrom<Via>("single", "single", "atomic", "each");

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("create" as const),
      client,
      app: fc.nat(1),
      owner: fc.nat(2),
      unit: fc.constantFrom("CREDITS", "SEATS"),
      floor: fc.constantFrom<Floor>("zero", "credit", "unbounded"),
    }),
  },
  {
    weight: 10,
    arbitrary: fc.record({
      t: fc.constant("record" as const),
      client,
      ledger: index,
      operation: fc.constantFrom(...Object.keys(POLICIES), "CREDIT_SPEND", "TELEPORT"),
      amount: amountChoice,
    }),
  },
  {
    weight: 7,
    arbitrary: fc.record({
      t: fc.constant("transfer" as const),
      client,
      from: index,
      to: fc.oneof(
        { weight: 9, arbitrary: index },
        { weight: 1, arbitrary: fc.constant("same" as const) },
      ),
      amount: transferAmount,
      operation: fc.option(
        fc.constantFrom(TRANSFER_OPERATION, ...Object.keys(POLICIES), "TELEPORT", "REVERSAL"),
        { nil: undefined, freq: 2 },
      ),
      via,
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant("reverse" as const),
      client,
      tx: index,
      amount: fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }),
      of: fc.constantFrom<ReverseTarget>("any", "any", "transfer", "drained transfer"),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant("terminate" as const), client, ledger: index }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ t: fc.constant("replay" as const), client, write: index, via }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("conflict" as const),
      client,
      write: index,
      ledger: index,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("spends" as const),
      ledger: index,
      count: fc.integer({ min: 2, max: 5 }),
      amount: fc.integer({ min: 1, max: 20 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("duplicates" as const),
      ledger: index,
      amount: fc.integer({ min: 1, max: 9 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("balance" as const),
      client,
      ledger: index,
      byKey: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("absent" as const),
      client,
      what: fc.constantFrom<"ledger" | "transaction" | "transfer">(
        "ledger",
        "transaction",
        "transfer",
      ),
    }),
  },
);

// ---------------------------------------------------------------------------
// One run: a fresh pair of apps, a model, and the steps applied to both.
// ---------------------------------------------------------------------------

type Done =
  | { kind: "CreateLedger"; app: string; params: CreateLedgerParams; reply: Ledger }
  | { kind: "RecordEntry"; app: string; params: RecordEntryParams; reply: Entry }
  | { kind: "Transfer"; app: string; params: TransferParams; reply: Transaction }
  | {
      kind: "ReverseTransaction";
      app: string;
      params: ReverseTransactionParams;
      reply: Transaction;
    };

async function settle<T>(call: Promise<T>): Promise<T | RpcFailure> {
  try {
    return await call;
  } catch (error) {
    if (error instanceof RpcFailure) {
      return error;
    }
    throw error;
  }
}

/** A transfer through Transfer, or as the one item of a CreateTransfers call. */
async function sendTransfer(
  api: LedgerApi,
  params: TransferParams,
  via: Via,
): Promise<Written<Transaction> | RpcFailure> {
  if (via === "single") {
    return settle(api.transfer(params));
  }
  const outcomes = await settle(
    api.createTransfers({ transfers: [params], atomic: via === "atomic" }),
  );
  if (outcomes instanceof RpcFailure) {
    return outcomes;
  }
  expect(outcomes, `${api.name} CreateTransfers answers its one item`).toHaveLength(1);
  const outcome = outcomes[0] as TransferOutcome;
  return outcome.ok ? { value: outcome.value, replayed: outcome.replayed } : outcome.failure;
}

/** How often each outcome was checked, printed so a run shows what it covered. */
const outcomes = new Map<string, number>();
function count(outcome: string): void {
  outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
}

function describeLedger(ledger: ModelLedger): string {
  return `${ledger.ownerId}/${ledger.unit} (balance ${ledger.balance}, floor ${ledger.floor}${ledger.terminated ? ", terminated" : ""})`;
}

class Run {
  readonly model = new ReferenceModel();
  readonly apps = [uniqueApp("model-a"), uniqueApp("model-b")];
  readonly done: Done[] = [];
  private stepNo = 0;
  private keyNo = 0;

  constructor(private readonly clients: readonly LedgerApi[]) {}

  private api(n: number): LedgerApi {
    return this.clients[n % this.clients.length] as LedgerApi;
  }

  private key(): string {
    this.keyNo += 1;
    return `k${this.keyNo}`;
  }

  private pick<T>(items: readonly T[], n: number): T | undefined {
    return items.length === 0 ? undefined : items[n % items.length];
  }

  private ledger(id: string): ModelLedger {
    const ledger = this.model.ledgers.find((l) => l.id === id);
    if (ledger === undefined) {
      throw new Error(`ledger ${id} is not in the model`);
    }
    return ledger;
  }

  async step(step: Step): Promise<void> {
    this.stepNo += 1;
    await this.dispatch(step);
    this.expectMoneyConserved(this.model.moneyBalance(), "the model");
  }

  private async dispatch(step: Step): Promise<void> {
    switch (step.t) {
      case "create":
        return this.create(step);
      case "record":
        return this.record(step);
      case "transfer":
        return this.transfer(step);
      case "reverse":
        return this.reverse(step);
      case "terminate":
        return this.terminate(step);
      case "replay":
        return this.replay(step);
      case "conflict":
        return this.conflict(step);
      case "spends":
        return this.spends(step);
      case "duplicates":
        return this.duplicates(step);
      case "balance":
        return this.balance(step);
      case "absent":
        return this.absent(step);
    }
  }

  private what(text: string): string {
    return `step ${this.stepNo}: ${text}`;
  }

  /** Per (app, unit), the balances add up to what single-sided writes created. */
  private expectMoneyConserved(
    money: ReturnType<ReferenceModel["moneyBalance"]>,
    whose: string,
  ): void {
    expect(money.balances, this.what(`money conserved: the sum of ${whose}'s balances`)).toEqual(
      money.singleSided,
    );
  }

  /**
   * The reply must be what the model predicted; returns the value of a fresh
   * write. `label` (the method, or which kind of transaction a reversal
   * reverses) names the outcome in the printed counts.
   */
  private check<T extends Reply>(
    label: string,
    prediction: Prediction,
    result: Written<T> | RpcFailure,
    what: string,
  ): T | undefined {
    count(`${label} ${prediction.kind === "refused" ? prediction.reason : prediction.kind}`);
    if (prediction.kind === "refused") {
      expect(result, this.what(`${what} must be refused`)).toBeInstanceOf(RpcFailure);
      const failure = result as RpcFailure;
      const named = prediction.ledgerId === undefined ? [] : [failure.metadata.ledger_id];
      expect(
        [failure.code, failure.reason, ...named],
        this.what(`${what}: ${failure.message}`),
      ).toEqual([
        REASON_CODES[prediction.reason],
        prediction.reason,
        ...(prediction.ledgerId === undefined ? [] : [prediction.ledgerId]),
      ]);
      return undefined;
    }
    if (result instanceof RpcFailure) {
      throw new Error(this.what(`${what} failed unexpectedly: ${result.message}`));
    }
    if (prediction.kind === "replay") {
      expect(result, this.what(`${what} must replay the first reply`)).toEqual({
        value: prediction.reply,
        replayed: true,
      });
      return undefined;
    }
    expect(result.replayed, this.what(`${what} is a first write`)).toBe(false);
    return result.value;
  }

  /** A fresh write is remembered under its key, for replays and conflicts. */
  private written(done: Done): void {
    this.model.remember(done.app, done.params.idempotencyKey, done.kind, done.params, done.reply);
    this.done.push(done);
  }

  private async create(step: Extract<Step, { t: "create" }>): Promise<void> {
    const app = this.apps[step.app] as string;
    const floor = FLOORS[step.floor];
    const params: CreateLedgerParams = {
      app,
      ownerId: `owner-${step.owner}`,
      unit: step.unit,
      idempotencyKey: this.key(),
      ...(floor === undefined ? { unbounded: true } : { minBalance: floor }),
    };
    await this.createWith(params, step.client);
  }

  private async createWith(params: CreateLedgerParams, client: number): Promise<void> {
    const api = this.api(client);
    const prediction = this.model.predictCreate(
      params.app,
      params.ownerId,
      params.unit,
      params.idempotencyKey,
      params,
    );
    const result = await settle(api.createLedger(params));
    const ledger = this.check(
      "CreateLedger",
      prediction,
      result,
      `${api.name} CreateLedger ${params.ownerId}`,
    );
    if (ledger === undefined) {
      return;
    }
    const floor = params.unbounded === true ? undefined : params.minBalance;
    expect(
      [ledger.status, ledger.balance, ledger.version, ledger.minBalance, ledger.unbounded],
      this.what("a new ledger"),
    ).toEqual(["ACTIVE", 0n, 0n, floor, params.unbounded === true]);
    this.model.ledgers.push({
      id: ledger.id,
      app: params.app,
      ownerId: params.ownerId,
      unit: params.unit,
      floor,
      balance: 0n,
      terminated: false,
      entries: [],
    });
    this.written({ kind: "CreateLedger", app: params.app, params, reply: ledger });
  }

  private recordAmount(operation: string, choice: AmountChoice): bigint | undefined {
    const sign = POLICIES[operation]?.sign ?? 1n;
    if (choice === "default") {
      return undefined;
    }
    if (choice === "max") {
      return sign > 0n ? INT64_MAX : -INT64_MAX;
    }
    return (choice.wrongSign ? -sign : sign) * BigInt(choice.magnitude);
  }

  private async record(step: Extract<Step, { t: "record" }>): Promise<void> {
    const ledger = this.pick(this.model.ledgers, step.ledger);
    if (ledger === undefined) {
      return;
    }
    const amount = this.recordAmount(step.operation, step.amount);
    await this.recordWith(
      {
        ledgerId: ledger.id,
        operation: step.operation,
        idempotencyKey: this.key(),
        ...(amount === undefined ? {} : { amount }),
      },
      ledger,
      step.client,
    );
  }

  private async recordWith(
    params: RecordEntryParams,
    ledger: ModelLedger,
    client: number,
  ): Promise<void> {
    const api = this.api(client);
    const prediction = this.model.predictRecord(
      ledger,
      params.operation,
      params.amount,
      params.idempotencyKey,
      params,
    );
    const what = `${api.name} RecordEntry ${params.operation} ${params.amount ?? "(default)"} on ${describeLedger(ledger)}`;
    const result = await settle(api.recordEntry(params));
    const entry = this.check("RecordEntry", prediction, result, what);
    if (entry !== undefined && prediction.kind === "fresh") {
      this.acceptRecorded(params, entry, prediction.legs, what);
    }
  }

  /** A fresh RecordEntry: its one entry as predicted, then held by the model and its key. */
  private acceptRecorded(
    params: RecordEntryParams,
    entry: Entry,
    legs: readonly Leg<ModelLedger>[],
    what: string,
  ): void {
    const app = this.ledger(params.ledgerId).app;
    this.accept(entry.transactionId, "ENTRY", [entry], legs, true, what);
    this.written({ kind: "RecordEntry", app, params, reply: entry });
  }

  /** A fresh write's entries must be its predicted legs, in order; the model then holds it. */
  private accept(
    id: string,
    kind: ModelTransaction["kind"],
    entries: readonly Entry[],
    legs: readonly Leg<ModelLedger>[],
    singleSided: boolean,
    what: string,
  ): ModelTransaction {
    expect(
      entries.map((e) => [e.ledgerId, e.transactionId]),
      this.what(`${what}: one entry per leg, in order`),
    ).toEqual(legs.map((leg) => [leg.ledger.id, id]));
    legs.forEach((leg, i) => {
      this.acceptEntry(leg.ledger, entries[i] as Entry, leg.amount, what);
    });
    const magnitude = magnitudeOf((legs[0] as Leg<ModelLedger>).amount);
    const tx: ModelTransaction = { id, kind, magnitude, legs, singleSided, reversed: 0n };
    this.model.transactions.push(tx);
    return tx;
  }

  /** A new entry must be the ledger's next one, with the predicted amount. */
  private acceptEntry(ledger: ModelLedger, entry: Entry, amount: bigint, what: string): void {
    expect(
      [entry.ledgerId, entry.amount, entry.sequence, entry.balanceAfter],
      this.what(what),
    ).toEqual([ledger.id, amount, BigInt(ledger.entries.length + 1), ledger.balance + amount]);
    this.model.applyEntry(ledger, entry);
  }

  private transferAmount(from: ModelLedger, choice: TransferAmount): bigint {
    if (choice === "max") {
      return INT64_MAX;
    }
    if (typeof choice === "number") {
      return BigInt(choice);
    }
    const room = from.balance - (from.floor ?? 0n) + BigInt(choice.room);
    return room <= 0n ? 1n : atMostInt64(room);
  }

  private async transfer(step: Extract<Step, { t: "transfer" }>): Promise<void> {
    const from = this.pick(this.model.ledgers, step.from);
    if (from === undefined) {
      return;
    }
    const others = this.model.ledgers.filter((l) => l !== from);
    const to = step.to === "same" ? from : (this.pick(others, step.to) ?? from);
    const params: TransferParams = {
      fromLedgerId: from.id,
      toLedgerId: to.id,
      amount: this.transferAmount(from, step.amount),
      idempotencyKey: this.key(),
      ...(step.operation === undefined ? {} : { operation: step.operation }),
    };
    await this.transferWith(params, step.client, step.via);
  }

  private async transferWith(params: TransferParams, client: number, via: Via): Promise<void> {
    const api = this.api(client);
    const [from, to] = [this.ledger(params.fromLedgerId), this.ledger(params.toLedgerId)];
    const prediction = this.model.predictTransfer(
      from,
      to,
      params.operation,
      params.amount,
      params.idempotencyKey,
      params,
    );
    const what = `${api.name} ${via} Transfer ${params.operation ?? "(default)"} ${params.amount} from ${from.app === to.app ? "" : `${from.app} `}${describeLedger(from)} to ${describeLedger(to)}`;
    const tx = this.check("Transfer", prediction, await sendTransfer(api, params, via), what);
    if (tx === undefined || prediction.kind !== "fresh") {
      return;
    }
    const operation = transferOperation(params.operation);
    expect(
      [tx.kind, tx.amount, tx.reversedAmount, tx.reversesTransactionId],
      this.what(what),
    ).toEqual(["TRANSFER", params.amount, 0n, ""]);
    expect(
      tx.entries.map((e) => [e.operation, e.reversesTransactionId]),
      this.what(what),
    ).toEqual([
      [operation, ""],
      [operation, ""],
    ]);
    this.accept(tx.id, "TRANSFER", tx.entries, prediction.legs, false, what);
    this.written({ kind: "Transfer", app: from.app, params, reply: tx });
  }

  private async reverse(step: Extract<Step, { t: "reverse" }>): Promise<void> {
    const tx = this.pick(this.reversible(step.of), step.tx);
    if (tx === undefined) {
      return;
    }
    if (step.of === "drained transfer" && tx.kind === "TRANSFER") {
      await this.drainDestination(tx, step.client);
    }
    await this.reverseWith(
      {
        transactionId: tx.id,
        idempotencyKey: this.key(),
        ...(step.amount === undefined ? {} : { amount: BigInt(step.amount) }),
      },
      tx,
      step.client,
    );
  }

  private reversible(of: ReverseTarget): readonly ModelTransaction[] {
    const transfers = this.model.transactions.filter((t) => t.kind === "TRANSFER");
    const bounded = transfers.filter(
      (t) => (t.legs[1] as Leg<ModelLedger>).ledger.floor !== undefined,
    );
    const among = of === "drained transfer" ? bounded : of === "transfer" ? transfers : [];
    return among.length > 0 ? among : this.model.transactions;
  }

  /** The destination of a transfer spends all it holds above its floor (a RecordEntry like any other). */
  private async drainDestination(tx: ModelTransaction, client: number): Promise<void> {
    const { ledger } = tx.legs[1] as Leg<ModelLedger>;
    const room = ledger.balance - (ledger.floor ?? ledger.balance);
    if (room > 0n) {
      const params = { ledgerId: ledger.id, operation: "CREDIT_SPEND", amount: -atMostInt64(room) };
      await this.recordWith({ ...params, idempotencyKey: this.key() }, ledger, client);
    }
  }

  private async reverseWith(
    params: ReverseTransactionParams,
    tx: ModelTransaction,
    client: number,
  ): Promise<void> {
    const api = this.api(client);
    const prediction = this.model.predictReverse(tx, params.amount, params.idempotencyKey, params);
    const legs = tx.legs.map((leg) => `${leg.amount} on ${describeLedger(leg.ledger)}`);
    const what = `${api.name} ReverseTransaction ${tx.kind} of ${tx.magnitude} (reversed ${tx.reversed}) by ${params.amount ?? "(rest)"}: ${legs.join(", ")}`;
    const result = await settle(api.reverseTransaction(params));
    const reversal = this.check(`ReverseTransaction of ${tx.kind}`, prediction, result, what);
    if (reversal === undefined || prediction.kind !== "fresh") {
      return;
    }
    const magnitude = magnitudeOf((prediction.legs[0] as Leg<ModelLedger>).amount);
    expect(
      [reversal.kind, reversal.reversesTransactionId, reversal.amount, reversal.reversedAmount],
      this.what(what),
    ).toEqual(["REVERSAL", tx.id, magnitude, 0n]);
    expect(
      reversal.entries.map((e) => [e.operation, e.reversesTransactionId]),
      this.what(what),
    ).toEqual(tx.legs.map(() => ["REVERSAL", tx.id]));
    this.accept(reversal.id, "REVERSAL", reversal.entries, prediction.legs, tx.singleSided, what);
    tx.reversed += magnitude;
    const app = (tx.legs[0] as Leg<ModelLedger>).ledger.app;
    this.written({ kind: "ReverseTransaction", app, params, reply: reversal });
  }

  private async terminate(step: Extract<Step, { t: "terminate" }>): Promise<void> {
    const ledger = this.pick(this.model.ledgers, step.ledger);
    if (ledger === undefined) {
      return;
    }
    const api = this.api(step.client);
    const result = await api.terminateLedger(ledger.id);
    expect(
      [result.id, result.status, result.balance, result.version],
      this.what(`${api.name} TerminateLedger`),
    ).toEqual([ledger.id, "TERMINATED", ledger.balance, BigInt(ledger.entries.length)]);
    ledger.terminated = true;
  }

  /** The same request under the same key, whatever happened since, answers as the first time. */
  private async replay(step: Extract<Step, { t: "replay" }>): Promise<void> {
    const write = this.pick(this.done, step.write);
    if (write === undefined) {
      return;
    }
    const api = this.api(step.client);
    const what = `${api.name} replay of ${write.kind} ${write.params.idempotencyKey}`;
    const prediction: Prediction = { kind: "replay", reply: write.reply };
    switch (write.kind) {
      case "CreateLedger":
        this.check(write.kind, prediction, await settle(api.createLedger(write.params)), what);
        return;
      case "RecordEntry":
        this.check(write.kind, prediction, await settle(api.recordEntry(write.params)), what);
        return;
      case "Transfer":
        this.check(write.kind, prediction, await sendTransfer(api, write.params, step.via), what);
        return;
      case "ReverseTransaction":
        this.check(
          write.kind,
          prediction,
          await settle(api.reverseTransaction(write.params)),
          what,
        );
        return;
    }
  }

  /** A used key with another request: IDEMPOTENCY_KEY_REUSED in its app, a fresh key elsewhere. */
  private async conflict(step: Extract<Step, { t: "conflict" }>): Promise<void> {
    const write = this.pick(this.done, step.write);
    if (write === undefined) {
      return;
    }
    const key = write.params.idempotencyKey;
    switch (write.kind) {
      case "CreateLedger":
        return this.createWith(
          { ...write.params, ownerId: `${write.params.ownerId}-x` },
          step.client,
        );
      case "RecordEntry": {
        const ledger = this.pick(this.model.ledgers, step.ledger) as ModelLedger;
        const sameLedger = ledger.id === write.params.ledgerId;
        return this.recordWith(
          {
            ledgerId: ledger.id,
            operation: "CREDIT_ADD",
            amount: sameLedger && write.reply.amount > 0n ? otherAmount(write.reply.amount) : 1n,
            idempotencyKey: key,
          },
          ledger,
          step.client,
        );
      }
      case "Transfer": {
        // Another amount, from the same source or another ledger (of this app or not).
        const from = this.pick(this.model.ledgers, step.ledger) as ModelLedger;
        const { toLedgerId } = write.params;
        return this.transferWith(
          {
            ...write.params,
            fromLedgerId: from.id === toLedgerId ? write.params.fromLedgerId : from.id,
            amount: otherAmount(write.params.amount),
          },
          step.client,
          "single",
        );
      }
      case "ReverseTransaction": {
        const tx = this.model.transactions.find((t) => t.id === write.params.transactionId);
        if (tx === undefined) {
          return;
        }
        return this.reverseWith(
          { ...write.params, amount: otherAmount(write.params.amount ?? 0n), idempotencyKey: key },
          tx,
          step.client,
        );
      }
    }
  }

  /** Concurrent debits on one ledger: exactly as many succeed as the floor admits. */
  private async spends(step: Extract<Step, { t: "spends" }>): Promise<void> {
    const ledger = this.pick(this.model.ledgers, step.ledger);
    if (ledger === undefined) {
      return;
    }
    const magnitude = BigInt(step.amount);
    const admitted = this.model.admittedDebits(ledger, step.count, magnitude);
    const refusal = ledger.terminated
      ? "LEDGER_TERMINATED"
      : ledger.floor === undefined
        ? "BALANCE_OVERFLOW"
        : "INSUFFICIENT_FUNDS";
    const requests = Array.from({ length: step.count }, (_, i) => ({
      params: {
        ledgerId: ledger.id,
        operation: "CREDIT_SPEND",
        amount: -magnitude,
        idempotencyKey: this.key(),
      } satisfies RecordEntryParams,
      api: this.api(i),
    }));
    const results = await Promise.all(requests.map((r) => settle(r.api.recordEntry(r.params))));
    const what = `${step.count} concurrent spends of ${magnitude} on ${describeLedger(ledger)}`;
    const refused = results.filter((r): r is RpcFailure => r instanceof RpcFailure);
    expect(
      refused.map((f) => [f.code, f.reason]),
      this.what(`${what}: ${refused.map((f) => f.message).join("; ")}`),
    ).toEqual(
      Array.from({ length: step.count - admitted }, () => [REASON_CODES[refusal], refusal]),
    );
    const accepted: { result: Written<Entry>; params: RecordEntryParams }[] = [];
    results.forEach((result, i) => {
      const params = requests[i]?.params;
      if (!(result instanceof RpcFailure) && params !== undefined) {
        accepted.push({ result, params });
      }
    });
    accepted.sort((a, b) => Number(a.result.value.sequence - b.result.value.sequence));
    for (const { result, params } of accepted) {
      expect(result.replayed, this.what(what)).toBe(false);
      this.acceptRecorded(params, result.value, [{ ledger, amount: -magnitude }], what);
    }
  }

  /** The same request twice at once: one entry, one first write and one replay. */
  private async duplicates(step: Extract<Step, { t: "duplicates" }>): Promise<void> {
    const ledger = this.pick(this.model.ledgers, step.ledger);
    if (ledger === undefined) {
      return;
    }
    const params: RecordEntryParams = {
      ledgerId: ledger.id,
      operation: "CREDIT_ADD",
      amount: BigInt(step.amount),
      idempotencyKey: this.key(),
    };
    const prediction = this.model.predictRecord(
      ledger,
      params.operation,
      params.amount,
      params.idempotencyKey,
      params,
    );
    const results = await Promise.all([0, 1].map((i) => settle(this.api(i).recordEntry(params))));
    const what = `two concurrent identical RecordEntry of ${step.amount}`;
    if (prediction.kind !== "fresh") {
      for (const result of results) {
        this.check("RecordEntry", prediction, result, what);
      }
      return;
    }
    const [first, second] = results;
    if (first instanceof RpcFailure || second instanceof RpcFailure || !first || !second) {
      throw new Error(this.what(`${what}: ${[first, second].map(String).join("; ")}`));
    }
    expect([first.replayed, second.replayed].sort(), this.what(what)).toEqual([false, true]);
    expect(second.value, this.what(`${what}: both answer with one entry`)).toEqual(first.value);
    this.acceptRecorded(params, first.value, prediction.legs, what);
  }

  private async balance(step: Extract<Step, { t: "balance" }>): Promise<void> {
    const ledger = this.pick(this.model.ledgers, step.ledger);
    if (ledger === undefined) {
      return;
    }
    const api = this.api(step.client);
    // By key: the owner's active ledger in that unit, else the latest terminated one.
    const named = step.byKey
      ? (this.model.ledgers.findLast(
          (l) =>
            l.app === ledger.app &&
            l.ownerId === ledger.ownerId &&
            l.unit === ledger.unit &&
            !l.terminated,
        ) ?? ledger)
      : ledger;
    const lookup = step.byKey
      ? { app: ledger.app, ownerId: ledger.ownerId, unit: ledger.unit }
      : { ledgerId: ledger.id };
    const result = await settle(api.getBalance(lookup));
    const what = `${api.name} GetBalance ${JSON.stringify(lookup)}`;
    if (named.terminated) {
      expect(result, this.what(what)).toBeInstanceOf(RpcFailure);
      expect([(result as RpcFailure).code, (result as RpcFailure).reason], this.what(what)).toEqual(
        ["FAILED_PRECONDITION", "LEDGER_TERMINATED"],
      );
      return;
    }
    expect(result, this.what(what)).toEqual({
      ledgerId: named.id,
      balance: named.balance,
      unit: named.unit,
      version: BigInt(named.entries.length),
    });
  }

  /** A write naming an id that does not exist: NOT_FOUND with the reason for what is missing. */
  private async absent(step: Extract<Step, { t: "absent" }>): Promise<void> {
    const api = this.api(step.client);
    const [id, other] = [randomUUID(), randomUUID()];
    const idempotencyKey = this.key();
    const result =
      step.what === "ledger"
        ? await settle(api.recordEntry({ ledgerId: id, operation: "CREDIT_ADD", idempotencyKey }))
        : step.what === "transfer"
          ? await settle(
              api.transfer({ fromLedgerId: id, toLedgerId: other, amount: 1n, idempotencyKey }),
            )
          : await settle(api.reverseTransaction({ transactionId: id, idempotencyKey }));
    const reason = step.what === "transaction" ? "TRANSACTION_NOT_FOUND" : "LEDGER_NOT_FOUND";
    expect(result, this.what(`${api.name} a write on an absent ${step.what}`)).toBeInstanceOf(
      RpcFailure,
    );
    expect([(result as RpcFailure).code, (result as RpcFailure).reason]).toEqual([
      "NOT_FOUND",
      reason,
    ]);
  }

  /**
   * Every ledger as the API shows it equals the model: history, balance,
   * version, status; every entry and transfer as GetTransaction shows it; and
   * the server's balances conserve money.
   */
  async finish(): Promise<void> {
    const api = this.api(0);
    const stored = new Map<string, bigint>();
    for (const ledger of this.model.ledgers) {
      stored.set(ledger.id, await this.finishLedger(api, ledger));
    }
    this.expectMoneyConserved(
      this.model.moneyBalance((ledger) => stored.get(ledger.id) as bigint),
      "the server",
    );
    for (const tx of this.model.transactions) {
      if (tx.kind !== "REVERSAL") {
        const shown = await api.getTransaction({ transactionId: tx.id });
        expect(
          [
            shown.kind,
            shown.amount,
            shown.reversedAmount,
            shown.entries.map((e) => [e.ledgerId, e.amount]),
          ],
          `GetTransaction ${tx.id}`,
        ).toEqual([
          tx.kind,
          tx.magnitude,
          tx.reversed,
          tx.legs.map((l) => [l.ledger.id, l.amount]),
        ]);
      }
    }
  }

  /** Checks one ledger against the model; returns its stored balance. */
  private async finishLedger(api: LedgerApi, ledger: ModelLedger): Promise<bigint> {
    const history = await allEntries(api, ledger.id);
    expect(
      history.map((e) => ({
        id: e.id,
        sequence: e.sequence,
        operation: e.operation,
        amount: e.amount,
        balanceAfter: e.balanceAfter,
      })),
      `history of ledger ${ledger.id}`,
    ).toEqual([...ledger.entries].reverse());
    const stored = await api.getLedger(ledger.id);
    expect([stored.balance, stored.version, stored.status]).toEqual([
      ledger.balance,
      BigInt(ledger.entries.length),
      ledger.terminated ? "TERMINATED" : "ACTIVE",
    ]);
    return stored.balance;
  }
}

/** Every run starts with one ledger of each kind, so early steps have targets. */
const OPENING: readonly Step[] = (["zero", "credit", "unbounded"] as const).map((floor, owner) => ({
  t: "create",
  client: owner,
  app: 0,
  owner,
  unit: "CREDITS",
  floor,
}));

describe("randomized model check", () => {
  it(`${RUNS} generated runs of up to ${STEPS_MAX} steps match the reference model`, async () => {
    console.log(
      `model seed=${SEED}${PATH === undefined ? "" : ` path=${PATH}`} (replay: LEDGER_MODEL_SEED=${SEED}${PATH === undefined ? "" : ` LEDGER_MODEL_PATH=${PATH}`})`,
    );
    const clients = CLIENT_NAMES.map((name) => harness.client(name));
    let steps = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb, { minLength: STEPS_MIN, maxLength: STEPS_MAX, size: "max" }),
        async (generated) => {
          const run = new Run(clients);
          for (const step of [...OPENING, ...generated]) {
            await run.step(step);
            steps += 1;
          }
          await run.finish();
        },
      ),
      { seed: SEED, numRuns: RUNS, ...(PATH === undefined ? {} : { path: PATH }) },
    );
    console.log(
      `model seed=${SEED}: ${steps} steps passed; outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`,
    );
    expect(await verifyInvariants(harness.server().store)).toEqual([]);
  }, 600_000);
});

/** `amount`, or int64's largest when it is larger (a request amount must be an int64). */
function atMostInt64(amount: bigint): bigint {
  return amount > INT64_MAX ? INT64_MAX : amount;
}

/** A positive amount different from `amount`, still an int64 (a conflict must not be a bad request). */
function otherAmount(amount: bigint): bigint {
  return amount === INT64_MAX ? amount - 1n : amount + 1n;
}
