/**
 * A concurrent model check through the real server. fast-check generates a
 * scenario: a few ledgers in one app (floors 0, -20 or none; opening
 * balances), then rounds of calls fired all at once (Promise.all, spread
 * over the grpc-js, connect and grpc-web clients): credits, debits that may
 * overdraw, transfers between the run's ledgers in both directions (that
 * may overdraw their source), several copies of one request under one key,
 * different requests under one key, full and partial reversals of earlier
 * entries and transfers racing each other, terminations racing writes,
 * replays and reuses of earlier keys, retries of keys no call claimed, and
 * reads. And holds (issue 11): holds of debits, credits and transfers
 * (some of all that is available, racing the debits for it), posts of all,
 * part or more than held and voids of earlier holds, several posts and
 * voids of one hold at once under their own keys (exactly one may win),
 * reversals of holds (refused until posted, even while a post of it
 * races), terminations refused while holds are open; and, in half the
 * runs, holds with a deadline a second ahead made before a round and let
 * expire before it starts, so the round's posts and voids of them must be
 * HOLD_EXPIRED and they reserve nothing any more.
 *
 * Who wins a race is the server's choice, so the replies are not predicted:
 * support/serial-checker.ts checks that one serial order of the round's
 * effects, which every ledger's sequence order is a projection of, explains
 * every effect, and that every other reply has a point of such an order
 * that explains it (what that does and does not prove is written out
 * there). After each round every ledger's full history (ListEntries, page
 * by page) must be exactly the round's fresh entries added to what was
 * there (both legs of every transfer and of every reversal of one, none of
 * a refused one), its balance, version, status and terminated_at what the
 * replies imply (its pending debits and credits and available, what the
 * open holds the replies account for reserve; ListPendingTransactions lists
 * exactly those, oldest first), and the balances must add up to the money the single-sided
 * writes so far created (RecordEntry and its reversals): transfers and
 * their reversals move money, never create it. At the end the store's
 * invariants must hold.
 *
 * A second check (support/concurrent-backdates.ts, issue 14) fires
 * backdated RecordEntry calls (before, at, between and after the entries
 * of the ledgers' histories) and appends on the same ledgers at once, and
 * after each round checks what any interleaving must leave: every history
 * in history order, gapless, chained, never below a bounded ledger's floor,
 * the balance its last balance_after; each backdate at its instant, having
 * recomputed exactly the entries processed before it that lie after it;
 * only the floor refusing; and as_of reads of the final histories
 * (LEDGER_CONCURRENT_BACKDATE_RUNS, 12 by default, about 3 s).
 *
 * The seed is printed. Replay a scenario with the seed and path fast-check
 * reports: LEDGER_CONCURRENT_SEED=<seed> LEDGER_CONCURRENT_PATH=<path>
 * runs that one scenario (LEDGER_CONCURRENT_RUNS changes the number of
 * runs, 16 by default, about 25 s on two cores, some 10 s of it waiting for
 * holds to expire). A replay repeats the scenario, not the interleaving,
 * which is the server's. Shrinking is off by
 * default (a concurrent failure need not recur on a smaller scenario);
 * LEDGER_CONCURRENT_SHRINK=1 turns it on.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { verifyInvariants } from "../../src/store/index.js";
import {
  CLIENT_NAMES,
  type Entry,
  type LedgerApi,
  type PostPendingTransactionParams,
  type RecordEntryParams,
  type ReverseTransactionParams,
  type Transaction,
  type TransferParams,
  type Written,
} from "../support/clients.js";
import { declaredApp, envInteger, uniqueOwner } from "../support/fixtures.js";
import { useLedgerServer } from "../support/server.js";
import { backdateScenarioArb, runBackdateScenario } from "./support/concurrent-backdates.js";
import { isOpen, moneyBalance } from "./support/reference-model.js";
import {
  type Call,
  historyEntry,
  type LedgerState,
  shapeOf,
  type TxState,
  versionOf,
  World,
  type WriteRequest,
} from "./support/serial-checker.js";

const harness = useLedgerServer();

const SEED = envInteger("LEDGER_CONCURRENT_SEED") ?? (Math.random() * 2 ** 31) | 0;
const PATH = process.env.LEDGER_CONCURRENT_PATH || undefined;
/** A path names one scenario: replay just that one unless told otherwise. */
const RUNS = envInteger("LEDGER_CONCURRENT_RUNS") ?? (PATH === undefined ? 16 : 1);
const SHRINK = process.env.LEDGER_CONCURRENT_SHRINK === "1";
/** Scenarios of concurrent backdates and appends (support/concurrent-backdates.ts). */
const BACKDATE_RUNS =
  envInteger("LEDGER_CONCURRENT_BACKDATE_RUNS") ?? (PATH === undefined ? 12 : 1);
/** More than this share of CONCURRENCY_CONFLICT refusals fails the check (it would hide work). */
const ABORTED_SHARE_MAX = 0.05;
/** A hold's deadline in a round: far from it. */
const HOLD_AHEAD_MS = 60 * 60 * 1000;
/** An expiring hold's deadline, from when it is sent, and how long past it the next round starts. */
const EXPIRY_MS = 1_000;
const EXPIRY_MARGIN_MS = 250;

// ---------------------------------------------------------------------------
// The generated scenario: indices pick among what exists when a round starts.
// ---------------------------------------------------------------------------

type Floor = "zero" | "credit" | "unbounded";
const FLOORS: Readonly<Record<Floor, bigint | undefined>> = {
  zero: 0n,
  credit: -20n,
  unbounded: undefined,
};

type RequestSpec =
  | { t: "credit" | "debit"; amount: number | undefined }
  /** A debit of all the room above the floor as the round starts, plus `offset` (-1, 0, 1). */
  | { t: "drain"; offset: number }
  /** From the op's ledger to another one (an index among the others). */
  | { t: "transfer"; to: number; amount: number }
  /** Of a transaction touching the op's ledger: a transfer when `transfer` is set and there is one. */
  | { t: "reverse"; tx: number; amount: number | undefined; transfer: boolean }
  /** A hold of a debit or a credit of the op's ledger, or of a transfer from it to another (an index). */
  | { t: "hold"; amount: number; of: "debit" | "credit" | number; deadline: boolean }
  /** A hold of all that is available above the floor as the round starts, plus `offset`. */
  | { t: "holdDrain"; offset: number }
  /** Of a hold touching the op's ledger (an open one unless `any`: any transaction touching it). */
  | { t: "post"; hold: number; amount: "all" | "part" | "over"; any: boolean }
  | { t: "void"; hold: number; any: boolean };

type OpSpec =
  /** One key: one or more requests (variants), each sent `copies` times. */
  | { t: "keyed"; ledger: number; variants: { request: RequestSpec; copies: number }[] }
  | { t: "terminate"; ledger: number; copies: number }
  /** An earlier round's first write, sent again as it was. */
  | { t: "replay"; write: number; copies: number }
  /** An earlier round's claimed key with another request. */
  | { t: "reuse"; write: number; ledger: number; amount: number }
  /** An earlier round's key that no call claimed (all refused), tried again. */
  | { t: "retry"; key: number; copies: number }
  | { t: "read"; ledger: number; balance: boolean }
  /** Posts and voids of one open hold at once, each under its own key: one at most may win. */
  | { t: "resolve"; hold: number; racers: ("all" | "part" | "void")[] };

interface RoundSpec {
  ops: OpSpec[];
  /** Seeds the order the calls are fired in. */
  shuffle: number;
  /** Which client takes the first call. */
  clientOffset: number;
}

interface Scenario {
  ledgers: { floor: Floor; start: number }[];
  rounds: RoundSpec[];
  pageSize: number;
  /**
   * Before this round (an index, taken modulo the rounds after the first),
   * holds with a deadline a second ahead, let expire before it starts;
   * undefined: none.
   */
  expire: number | undefined;
}

const index = fc.nat(1000);
/** undefined (the operation's default amount) one time in `freq`. */
const amount = (max: number, freq: number): fc.Arbitrary<number | undefined> =>
  fc.option(fc.integer({ min: 1, max }), { nil: undefined, freq });

const requestArb: fc.Arbitrary<RequestSpec> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ t: fc.constant("credit" as const), amount: amount(30, 6) }),
  },
  {
    weight: 5,
    arbitrary: fc.record({ t: fc.constant("debit" as const), amount: amount(40, 8) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("drain" as const),
      offset: fc.integer({ min: -1, max: 1 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant("transfer" as const),
      to: index,
      amount: fc.integer({ min: 1, max: 40 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("reverse" as const),
      tx: index,
      amount: amount(25, 3),
      transfer: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant("hold" as const),
      amount: fc.integer({ min: 1, max: 30 }),
      of: fc.oneof(
        { weight: 3, arbitrary: fc.constant("debit" as const) },
        { weight: 1, arbitrary: fc.constant("credit" as const) },
        { weight: 2, arbitrary: index },
      ),
      deadline: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("holdDrain" as const),
      offset: fc.integer({ min: -1, max: 1 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("post" as const),
      hold: index,
      amount: fc.constantFrom<"all" | "part" | "over">("all", "all", "part", "over"),
      any: fc.constantFrom(false, false, false, true),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("void" as const),
      hold: index,
      any: fc.constantFrom(false, false, true),
    }),
  },
);

const opArb: fc.Arbitrary<OpSpec> = fc.oneof(
  {
    weight: 24,
    arbitrary: fc.record({
      t: fc.constant("keyed" as const),
      ledger: index,
      variants: requestArb.map((request) => [{ request, copies: 1 }]),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      t: fc.constant("keyed" as const),
      ledger: index,
      variants: fc
        .record({ request: requestArb, copies: fc.integer({ min: 2, max: 4 }) })
        .map((variant) => [variant]),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant("keyed" as const),
      ledger: index,
      variants: fc.array(
        fc.record({ request: requestArb, copies: fc.integer({ min: 1, max: 2 }) }),
        { minLength: 2, maxLength: 3 },
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("terminate" as const),
      ledger: index,
      copies: fc.integer({ min: 1, max: 2 }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant("replay" as const),
      write: index,
      copies: fc.integer({ min: 1, max: 2 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant("reuse" as const),
      write: index,
      ledger: index,
      amount: fc.integer({ min: 1, max: 30 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant("retry" as const),
      key: index,
      copies: fc.integer({ min: 1, max: 2 }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({ t: fc.constant("read" as const), ledger: index, balance: fc.boolean() }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("resolve" as const),
      hold: index,
      racers: fc.array(fc.constantFrom<"all" | "part" | "void">("all", "part", "void"), {
        minLength: 2,
        maxLength: 3,
      }),
    }),
  },
);

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  ledgers: fc
    .array(
      fc.record({
        floor: fc.constantFrom<Floor>("zero", "zero", "credit", "unbounded"),
        start: fc.integer({ min: 0, max: 60 }),
      }),
      { minLength: 2, maxLength: 4 },
    )
    // The first ledger is bounded at 0, so every run has overdrafts to race.
    .map(([first, ...rest]) => [
      { ...(first as { start: number }), floor: "zero" as const },
      ...rest,
    ]),
  rounds: fc.array(
    fc.record({
      ops: fc.array(opArb, { minLength: 10, maxLength: 24 }),
      shuffle: fc.nat(),
      clientOffset: fc.nat(CLIENT_NAMES.length - 1),
    }),
    { minLength: 2, maxLength: 4 },
  ),
  pageSize: fc.integer({ min: 3, max: 12 }),
  expire: fc.option(fc.nat(3), { nil: undefined, freq: 2 }),
});

// ---------------------------------------------------------------------------
// One run: its ledgers in a declared app (owners and keys prefixed by the run), and the rounds.
// ---------------------------------------------------------------------------

type Draft = (no: number, api: LedgerApi) => Call;

/** Every outcome counted over all runs, printed and checked for coverage. */
const totals = new Map<string, number>();
let callsFired = 0;

class ConcurrentRun {
  readonly world = new World();
  /** A declared app, shared with every other run: the run's owners and keys carry its own prefix. */
  private readonly app = declaredApp();
  private readonly run = uniqueOwner("cmodel");
  private keyNo = 0;
  /** Keys of earlier rounds that no call claimed, with a request sent under them. */
  private readonly unclaimed = new Map<string, WriteRequest>();
  /** Holds let expire before a round, which that round posts and voids. */
  private expired: TxState[] = [];

  constructor(
    private readonly clients: readonly LedgerApi[],
    private readonly scenario: Scenario,
  ) {}

  private api(n: number): LedgerApi {
    return this.clients[n % this.clients.length] as LedgerApi;
  }

  private key(): string {
    this.keyNo += 1;
    return `${this.run}-k${this.keyNo}`;
  }

  private ledger(n: number): LedgerState {
    return this.world.ledgers[n % this.world.ledgers.length] as LedgerState;
  }

  /** Opens the ledgers, then writes the opening balances as round 0. */
  async setup(): Promise<void> {
    for (const [i, spec] of this.scenario.ledgers.entries()) {
      const floor = FLOORS[spec.floor];
      const { value, replayed } = await this.api(i).createLedger({
        app: this.app,
        ownerId: `${this.run}-owner-${i}`,
        unit: "CREDITS",
        idempotencyKey: `${this.run}-create-${i}`,
        ...(floor === undefined ? { unbounded: true } : { minBalance: floor }),
      });
      expect([replayed, value.status, value.balance, value.version, value.minBalance]).toEqual([
        false,
        "ACTIVE",
        0n,
        0n,
        floor,
      ]);
      this.world.ledgers.push({
        id: value.id,
        name: `L${i} (floor ${floor ?? "none"})`,
        app: this.app,
        floor,
        unit: "CREDITS",
        balance: 0n,
        terminated: false,
        terminatedAt: undefined,
        history: [],
      });
    }
    const drafts: Draft[] = [];
    this.scenario.ledgers.forEach((spec, i) => {
      if (spec.start > 0) {
        const key = this.key();
        const request = this.record(this.ledger(i), key, "0", "CREDIT_ADD", BigInt(spec.start));
        drafts.push((no, api) => ({ t: "write", no, api, key, request }));
      }
    });
    await this.play(
      0,
      drafts.map((draft, no) => draft(no, this.api(no))),
    );
  }

  async round(n: number, spec: RoundSpec): Promise<void> {
    const { expire, rounds } = this.scenario;
    if (expire !== undefined && n === 2 + (expire % (rounds.length - 1))) {
      await this.expiring(n - 0.5);
    }
    const drafts = spec.ops.flatMap((op) => this.draft(op));
    // Each hold let expire: a post and a void, both HOLD_EXPIRED.
    for (const tx of this.expired) {
      for (const request of [
        this.posting(tx, this.key(), "x"),
        this.voiding(tx, this.key(), "x"),
      ]) {
        const key = request.params.idempotencyKey;
        drafts.push((no, api) => ({ t: "write", no, api, key, request }));
      }
    }
    this.expired = [];
    shuffle(drafts, spec.shuffle);
    await this.play(
      n,
      drafts.map((draft, no) => draft(no, this.api(no + spec.clientOffset))),
    );
  }

  /**
   * A round of two holds with a deadline a second ahead (a debit of the
   * first ledger, a transfer from the second to the first), then a wait
   * until the deadline has passed by a margin, so the next round sees them
   * expired.
   */
  private async expiring(round: number): Promise<void> {
    const deadline = new Date(Date.now() + EXPIRY_MS);
    const [first, second] = [this.ledger(0), this.ledger(1)];
    const requests = [
      this.record(first, this.key(), "x", "CREDIT_SPEND", -5n, { deadline }),
      this.transfer(second, first, this.key(), "x", 3n, { deadline }),
    ];
    const calls = requests.map(
      (request, no): Call => ({
        t: "write",
        no,
        api: this.api(no),
        key: request.params.idempotencyKey,
        request,
      }),
    );
    await this.play(round, calls, deadline.getTime() + EXPIRY_MARGIN_MS);
    this.expired = this.world.transactions.filter(
      (tx) => tx.hold?.expiresAt.getTime() === deadline.getTime(),
    );
    totals.set("expiring holds", (totals.get("expiring holds") ?? 0) + this.expired.length);
  }

  /**
   * Fires every call at once, checks the replies (the round's clock: when
   * it started), then reads every ledger back (after `waitUntil`, when set).
   */
  private async play(round: number, calls: Call[], waitUntil?: number): Promise<void> {
    callsFired += calls.length;
    const now = new Date();
    await Promise.all(calls.map((call) => invoke(call)));
    const { violations, unclaimed } = this.world.checkRound(round, calls, now);
    expect(
      violations,
      `round ${round}: ${violations.length} replies no serial order explains`,
    ).toEqual([]);
    for (const key of this.world.winners.keys()) {
      this.unclaimed.delete(key);
    }
    for (const { key, request } of unclaimed) {
      this.unclaimed.set(key, request);
    }
    if (waitUntil !== undefined) {
      await sleep(waitUntil - Date.now());
    }
    await this.readBack(round);
  }

  /**
   * Each ledger as the API shows it: exactly the entries the replies account
   * for; and the balances conserve money.
   */
  private async readBack(round: number): Promise<void> {
    const api = this.api(Math.ceil(round));
    const now = new Date();
    const stored = new Map<LedgerState, bigint>();
    for (const ledger of this.world.ledgers) {
      stored.set(ledger, await this.readLedger(api, ledger, round, now));
      await this.readHolds(api, ledger, round, now);
    }
    const money = moneyBalance(
      this.world.ledgers,
      (ledger) => stored.get(ledger) as bigint,
      this.world.transactions,
    );
    expect(money.balances, `round ${round}: money conserved`).toEqual(money.singleSided);
  }

  /** ListPendingTransactions: the open holds on the ledger the replies account for, oldest first. */
  private async readHolds(
    api: LedgerApi,
    ledger: LedgerState,
    round: number,
    now: Date,
  ): Promise<void> {
    if (ledger.terminated) {
      return;
    }
    const listed: Transaction[] = [];
    let pageToken = "";
    for (let page = 0; page < LIST_PAGES_MAX; page += 1) {
      const result = await api.listPendingTransactions({
        ledgerId: ledger.id,
        pageSize: this.scenario.pageSize,
        pageToken,
      });
      listed.push(...result.items);
      pageToken = result.nextPageToken;
      if (pageToken === "") {
        break;
      }
    }
    const open = this.world
      .openHolds(now)
      .filter((tx) => shapeOf(tx).some((leg) => leg.ledger === ledger));
    const what = `round ${round}: the open holds of ${ledger.name} read through ${api.name}`;
    expect(listed.map((tx) => [tx.id, tx.state]).sort(), what).toEqual(
      open.map((tx) => [tx.id, "PENDING"]).sort(),
    );
    const created = listed.map((tx) => tx.createdAt?.getTime() ?? 0);
    expect(created, `${what}: oldest first`).toEqual([...created].sort((a, b) => a - b));
  }

  /** One ledger read back; returns its stored balance. */
  private async readLedger(
    api: LedgerApi,
    ledger: LedgerState,
    round: number,
    now: Date,
  ): Promise<bigint> {
    const newestFirst = await listAll(api, ledger.id, this.scenario.pageSize);
    expect(
      newestFirst.map(historyEntry).reverse(),
      `round ${round}: the history of ${ledger.name} read through ${api.name}`,
    ).toEqual(ledger.history);
    const stored = await api.getLedger(ledger.id);
    const pending = this.world.pending(ledger, now);
    expect(
      {
        balance: stored.balance,
        version: stored.version,
        status: stored.status,
        terminatedAt: stored.terminatedAt,
        minBalance: stored.minBalance,
        unbounded: stored.unbounded,
        pending: [stored.pendingDebits, stored.pendingCredits],
        available: stored.available,
      },
      `round ${round}: ${ledger.name} read through ${api.name}`,
    ).toEqual({
      balance: ledger.balance,
      version: versionOf(ledger),
      status: ledger.terminated ? "TERMINATED" : "ACTIVE",
      terminatedAt: ledger.terminatedAt,
      minBalance: ledger.floor,
      unbounded: ledger.floor === undefined,
      pending: [pending.debits, pending.credits],
      available: ledger.balance - pending.debits,
    });
    return stored.balance;
  }

  // --- Calls from the generated ops, against the world as the round starts.

  private draft(op: OpSpec): Draft[] {
    switch (op.t) {
      case "keyed": {
        const key = this.key();
        const ledger = this.ledger(op.ledger);
        return op.variants.flatMap(({ request: spec, copies }, v) => {
          const request = this.request(ledger, key, String(v), spec);
          return repeat(copies, (no, api) => ({ t: "write", no, api, key, request }));
        });
      }
      case "terminate": {
        const ledger = this.ledger(op.ledger);
        return repeat(op.copies, (no, api) => ({ t: "terminate", no, api, ledger }));
      }
      case "read": {
        const ledger = this.ledger(op.ledger);
        const t = op.balance ? "getBalance" : "getLedger";
        return [(no, api) => ({ t, no, api, ledger })];
      }
      case "replay": {
        const winner = pick(this.world.winnerList, op.write);
        if (winner === undefined) {
          return [];
        }
        const { key, request } = winner;
        return repeat(op.copies, (no, api) => ({ t: "write", no, api, key, request }));
      }
      case "reuse": {
        const winner = pick(this.world.winnerList, op.write);
        if (winner === undefined) {
          return [];
        }
        const key = winner.key;
        const tag = `r${this.key()}`;
        const request = this.reuse(winner.request, key, tag, op);
        return [(no, api) => ({ t: "write", no, api, key, request })];
      }
      case "resolve": {
        const tx = pick(this.world.openHolds(new Date()), op.hold);
        if (tx === undefined) {
          return [];
        }
        return op.racers.map((racer): Draft => {
          const key = this.key();
          const request =
            racer === "void"
              ? this.voiding(tx, key, "0")
              : this.posting(tx, key, "0", racer === "part" ? partOf(tx) : undefined);
          return (no, api) => ({ t: "write", no, api, key, request });
        });
      }
      case "retry": {
        const entry = pick([...this.unclaimed], op.key);
        if (entry === undefined) {
          return [];
        }
        const [key, request] = entry;
        return repeat(op.copies, (no, api) => ({ t: "write", no, api, key, request }));
      }
    }
  }

  /** Another request of the same method under a claimed key (a record for a record). */
  private reuse(
    claimed: WriteRequest,
    key: string,
    tag: string,
    op: Extract<OpSpec, { t: "reuse" }>,
  ): WriteRequest {
    switch (claimed.method) {
      case "ReverseTransaction":
        return this.reversal(claimed.tx, key, tag, claimed.params.amount);
      case "Transfer":
        return this.transfer(claimed.ledger, claimed.to, key, tag, BigInt(op.amount));
      case "RecordEntry":
        return this.record(this.ledger(op.ledger), key, tag, "CREDIT_ADD", BigInt(op.amount));
      case "PostPendingTransaction":
        // The same hold, another amount (or all of it instead of an amount).
        return this.posting(
          claimed.tx,
          key,
          tag,
          claimed.params.amount === undefined ? 1n : undefined,
        );
      case "VoidPendingTransaction": {
        // A void of another transaction (of the same app: the key is claimed there).
        const other = pick(
          this.world.transactions.filter((tx) => tx !== claimed.tx),
          op.ledger,
        );
        return other === undefined
          ? this.posting(claimed.tx, key, tag)
          : this.voiding(other, key, tag);
      }
    }
  }

  private request(
    ledger: LedgerState,
    key: string,
    variant: string,
    spec: RequestSpec,
  ): WriteRequest {
    const now = new Date();
    const available = ledger.balance - this.world.pending(ledger, now).debits;
    if (spec.t === "hold") {
      const hold = {
        deadline: spec.deadline ? new Date(now.getTime() + HOLD_AHEAD_MS) : undefined,
      };
      const magnitude = BigInt(spec.amount);
      if (spec.of === "debit" || spec.of === "credit") {
        const credit = spec.of === "credit";
        const operation = credit ? "CREDIT_ADD" : "CREDIT_SPEND";
        return this.record(ledger, key, variant, operation, credit ? magnitude : -magnitude, hold);
      }
      const to = pick(
        this.world.ledgers.filter((l) => l !== ledger),
        spec.of,
      ) as LedgerState;
      return this.transfer(ledger, to, key, variant, magnitude, hold);
    }
    if (spec.t === "holdDrain") {
      const room = available - (ledger.floor ?? 0n) + BigInt(spec.offset);
      return this.record(ledger, key, variant, "CREDIT_SPEND", room > 0n ? -room : -1n, {
        deadline: undefined,
      });
    }
    if (spec.t === "post" || spec.t === "void") {
      const touching = this.world.transactions.filter((t) =>
        shapeOf(t).some((leg) => leg.ledger === ledger),
      );
      const open = touching.filter((t) => isOpen(t, now));
      const tx = pick(spec.any || open.length === 0 ? touching : open, spec.hold);
      if (tx !== undefined) {
        if (spec.t === "void") {
          return this.voiding(tx, key, variant);
        }
        const held = tx.hold?.held ?? tx.magnitude;
        const amount =
          spec.amount === "all" ? undefined : spec.amount === "part" ? partOf(tx) : held + 1n;
        return this.posting(tx, key, variant, amount);
      }
      return this.record(ledger, key, variant, "CREDIT_SPEND", -1n);
    }
    if (spec.t === "reverse") {
      const touching = this.world.transactions.filter((t) =>
        shapeOf(t).some((leg) => leg.ledger === ledger),
      );
      const transfers = touching.filter((t) => t.kind === "TRANSFER");
      const tx = pick(spec.transfer && transfers.length > 0 ? transfers : touching, spec.tx);
      if (tx !== undefined) {
        return this.reversal(tx, key, variant, optional(spec.amount));
      }
    }
    if (spec.t === "transfer") {
      const others = this.world.ledgers.filter((l) => l !== ledger);
      const to = pick(others, spec.to) as LedgerState;
      return this.transfer(ledger, to, key, variant, BigInt(spec.amount));
    }
    if (spec.t === "drain") {
      // Exactly to the floor (or 0 when unbounded), one short of it, or one past it.
      const room = available - (ledger.floor ?? 0n) + BigInt(spec.offset);
      return this.record(ledger, key, variant, "CREDIT_SPEND", room > 0n ? -room : -1n);
    }
    const magnitude = optional(spec.amount);
    return spec.t === "debit"
      ? this.record(
          ledger,
          key,
          variant,
          "CREDIT_SPEND",
          magnitude === undefined ? undefined : -magnitude,
        )
      : this.record(ledger, key, variant, "CREDIT_ADD", magnitude);
  }

  /** Tags are unique per (key, request), so a reply can be matched to its request. */
  private record(
    ledger: LedgerState,
    key: string,
    variant: string,
    operation: string,
    amount: bigint | undefined,
    hold?: Hold,
  ): WriteRequest {
    const tag = `${key}.${variant}`;
    const params: RecordEntryParams = {
      ledgerId: ledger.id,
      operation,
      idempotencyKey: key,
      reference: tag,
      ...(amount === undefined ? {} : { amount }),
      ...holdParams(hold),
    };
    return { method: "RecordEntry", ledger, params, tag };
  }

  private transfer(
    from: LedgerState,
    to: LedgerState,
    key: string,
    variant: string,
    amount: bigint,
    hold?: Hold,
  ): WriteRequest {
    const tag = `${key}.${variant}`;
    const params: TransferParams = {
      fromLedgerId: from.id,
      toLedgerId: to.id,
      amount,
      idempotencyKey: key,
      reference: tag,
      ...holdParams(hold),
    };
    return { method: "Transfer", ledger: from, to, params, tag };
  }

  /** A post of all of `tx` (`amount` undefined) or of `amount`. */
  private posting(tx: TxState, key: string, variant: string, amount?: bigint): WriteRequest {
    const params: PostPendingTransactionParams = {
      transactionId: tx.id,
      idempotencyKey: key,
      ...(amount === undefined ? {} : { amount }),
    };
    const ledger = (shapeOf(tx)[0] as { ledger: LedgerState }).ledger;
    return { method: "PostPendingTransaction", ledger, tx, params, tag: `${key}.${variant}` };
  }

  private voiding(tx: TxState, key: string, variant: string): WriteRequest {
    const params = { transactionId: tx.id, idempotencyKey: key };
    const ledger = (shapeOf(tx)[0] as { ledger: LedgerState }).ledger;
    return { method: "VoidPendingTransaction", ledger, tx, params, tag: `${key}.${variant}` };
  }

  private reversal(
    tx: TxState,
    key: string,
    variant: string,
    amount: bigint | undefined,
  ): WriteRequest {
    const tag = `${key}.${variant}`;
    const params: ReverseTransactionParams = {
      transactionId: tx.id,
      idempotencyKey: key,
      description: tag,
      ...(amount === undefined ? {} : { amount }),
    };
    const ledger = (shapeOf(tx)[0] as { ledger: LedgerState }).ledger;
    return { method: "ReverseTransaction", ledger, tx, params, tag };
  }
}

/** Runs a call and stores its reply or failure on it; never rejects. */
async function invoke(call: Call): Promise<void> {
  const settle = async <T>(promise: Promise<T>): Promise<T | Error> => {
    try {
      return await promise;
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  };
  switch (call.t) {
    case "write":
      call.outcome = await settle(write(call.api, call.request));
      call.answeredAt = Date.now();
      return;
    case "terminate":
      call.outcome = await settle(call.api.terminateLedger(call.ledger.id));
      return;
    case "getLedger":
      call.outcome = await settle(call.api.getLedger(call.ledger.id));
      return;
    case "getBalance":
      call.outcome = await settle(call.api.getBalance({ ledgerId: call.ledger.id }));
      return;
  }
}

function write(
  api: LedgerApi,
  request: WriteRequest,
): Promise<Written<Entry> | Written<Transaction>> {
  switch (request.method) {
    case "RecordEntry":
      // A hold's reply is its transaction.
      return api.recordEntry(request.params);
    case "Transfer":
      return api.transfer(request.params);
    case "ReverseTransaction":
      return api.reverseTransaction(request.params);
    case "PostPendingTransaction":
      return api.postPendingTransaction(request.params);
    case "VoidPendingTransaction":
      return api.voidPendingTransaction(request.params);
  }
}

/** A hold: its deadline, or the server's default. */
interface Hold {
  readonly deadline: Date | undefined;
}

function holdParams(hold: Hold | undefined): { pending?: true; pendingExpiresAt?: Date } {
  if (hold === undefined) {
    return {};
  }
  return hold.deadline === undefined
    ? { pending: true }
    : { pending: true, pendingExpiresAt: hold.deadline };
}

/** Part of what a hold holds (all of it when it holds 1). */
function partOf(tx: TxState): bigint {
  const held = tx.hold?.held ?? tx.magnitude;
  return held > 1n ? held - 1n : held;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** More pages than a run writes; a runaway page token fails instead of looping. */
const LIST_PAGES_MAX = 200;

/** Every entry of a ledger, newest first, in pages of `pageSize`. */
async function listAll(api: LedgerApi, ledgerId: string, pageSize: number): Promise<Entry[]> {
  const entries: Entry[] = [];
  let pageToken = "";
  for (let page = 0; page < LIST_PAGES_MAX; page += 1) {
    const result = await api.listEntries({ ledgerId, pageSize, pageToken });
    entries.push(...result.items);
    if (result.nextPageToken === "") {
      return entries;
    }
    pageToken = result.nextPageToken;
  }
  throw new Error(`ListEntries of ${ledgerId} did not end within ${LIST_PAGES_MAX} pages`);
}

function repeat(copies: number, draft: Draft): Draft[] {
  return Array.from({ length: copies }, () => draft);
}

function pick<T>(items: readonly T[], n: number): T | undefined {
  return items.length === 0 ? undefined : items[n % items.length];
}

function optional(n: number | undefined): bigint | undefined {
  return n === undefined ? undefined : BigInt(n);
}

/** Fisher-Yates with a small deterministic generator, so a seed replays the firing order. */
function shuffle<T>(items: T[], seed: number): void {
  let state = seed >>> 0 || 1;
  for (let i = items.length - 1; i > 0; i -= 1) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const j = state % (i + 1);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
}

describe("concurrent model check", () => {
  it(`${RUNS} generated runs of concurrent rounds are each explained by one serial order`, async () => {
    console.log(
      `concurrent model seed=${SEED}${PATH === undefined ? "" : ` path=${PATH}`} (replay: LEDGER_CONCURRENT_SEED=${SEED}${PATH === undefined ? "" : ` LEDGER_CONCURRENT_PATH=${PATH}`})`,
    );
    const started = Date.now();
    const clients = CLIENT_NAMES.map((name) => harness.client(name));
    let rounds = 0;
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const run = new ConcurrentRun(clients, scenario);
        try {
          await run.setup();
          for (const [i, round] of scenario.rounds.entries()) {
            await run.round(i + 1, round);
            rounds += 1;
          }
        } finally {
          for (const [what, n] of run.world.counts) {
            totals.set(what, (totals.get(what) ?? 0) + n);
          }
        }
      }),
      {
        seed: SEED,
        numRuns: RUNS,
        endOnFailure: !SHRINK,
        ...(PATH === undefined ? {} : { path: PATH }),
      },
    );
    const counted = Object.fromEntries([...totals].sort(([a], [b]) => (a < b ? -1 : 1)));
    console.log(
      `concurrent model seed=${SEED}: ${rounds} rounds, ${callsFired} calls in ${Date.now() - started} ms; outcomes ${JSON.stringify(counted)}`,
    );
    expect(await verifyInvariants(harness.server().store)).toEqual([]);
    expect(
      totals.get("aborted") ?? 0,
      "CONCURRENCY_CONFLICT refusals (allowed, but not as the usual answer)",
    ).toBeLessThanOrEqual(Math.ceil(callsFired * ABORTED_SHARE_MAX));
    if (PATH === undefined && RUNS >= 10) {
      // Not vacuous: the races this check exists for did happen.
      for (const outcome of [
        "fresh",
        "replay",
        "INSUFFICIENT_FUNDS",
        "contested INSUFFICIENT_FUNDS",
        "IDEMPOTENCY_KEY_REUSED",
        "REVERSAL_EXCEEDS_TRANSACTION",
        "LEDGER_TERMINATED",
        "terminate",
        "Transfer: fresh",
        "Transfer: replay",
        "Transfer: INSUFFICIENT_FUNDS",
        "Transfer: contested INSUFFICIENT_FUNDS",
        "reversal of TRANSFER: fresh",
        "RecordEntry held: fresh",
        "RecordEntry held: contested INSUFFICIENT_FUNDS",
        "Transfer held: fresh",
        "post: fresh",
        "post: contested HOLD_NOT_PENDING",
        "void: fresh",
        "HOLD_EXPIRED",
        "reversal of hold: TRANSACTION_NOT_REVERSIBLE",
      ]) {
        expect(totals.get(outcome) ?? 0, `runs in which ${outcome} happened`).toBeGreaterThan(0);
      }
    }
  }, 600_000);

  it(`${BACKDATE_RUNS} generated runs of concurrent backdates and appends on the same ledgers leave every history chained`, async () => {
    console.log(
      `concurrent backdates seed=${SEED}${PATH === undefined ? "" : ` path=${PATH}`} (replay: LEDGER_CONCURRENT_SEED=${SEED}${PATH === undefined ? "" : ` LEDGER_CONCURRENT_PATH=${PATH}`})`,
    );
    const clients = CLIENT_NAMES.map((name) => harness.client(name));
    const counts = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(backdateScenarioArb, (scenario) =>
        runBackdateScenario(clients, scenario, counts),
      ),
      {
        seed: SEED,
        numRuns: BACKDATE_RUNS,
        endOnFailure: !SHRINK,
        ...(PATH === undefined ? {} : { path: PATH }),
      },
    );
    const counted = Object.fromEntries([...counts].sort(([a], [b]) => (a < b ? -1 : 1)));
    console.log(`concurrent backdates seed=${SEED}: outcomes ${JSON.stringify(counted)}`);
    expect(await verifyInvariants(harness.server().store)).toEqual([]);
    if (PATH === undefined && BACKDATE_RUNS >= 8) {
      // Not vacuous: backdates recomputed history, and the floor refused some.
      for (const outcome of [
        "backdate at: recomputed",
        "backdate before: recomputed",
        "append: fresh",
      ]) {
        expect(counts.get(outcome) ?? 0, `runs in which ${outcome} happened`).toBeGreaterThan(0);
      }
      const refused = [...counts].filter(([k]) => k.endsWith("INSUFFICIENT_FUNDS"));
      expect(refused.length, "a backdate or append refused by the floor").toBeGreaterThan(0);
    }
  }, 300_000);
});
