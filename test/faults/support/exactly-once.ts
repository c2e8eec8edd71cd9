/**
 * What the fault specs conclude from, read straight from the database: the
 * stored entries of the scenario's ledgers are exactly the acknowledged ones
 * (none lost, none twice, no transfer with one leg only), each of those
 * ledgers' balance is what the acknowledged writes add up to, each
 * acknowledged hold exists once and stands as its acknowledged post or void
 * left it (or still PENDING, when neither was acknowledged), each ledger's
 * pending totals are what its open holds hold (in the database and as
 * GetBalance and GetLedger answer them), each acknowledged key is stored
 * once, naming the transaction it answered, and `npm run verify` finds no
 * breach anywhere.
 *
 * For writes that were never acknowledged (a spec that does not retry at
 * once), observeUnacknowledged() reads what each left behind before it is
 * retried (all of it or nothing; a hold's post or void either applied
 * whole or not at all, the hold still PENDING), and
 * expectRetriesToAnswerAsStored() checks that the retry under the same key
 * answers accordingly: a replay of what was stored, or a first application.
 */
import pg from "pg";
import { expect } from "vitest";
import { TransactionState } from "../../../gen/ledger/v1/ledger_pb.js";
import { runVerifyCli } from "../../support/store-cli.js";
import {
  type Ack,
  type HoldWrite,
  heldLegs,
  type LedgerClient,
  LOAD_APP,
  type LogicalWrite,
  legsOf,
  postedAmount,
} from "./write-load.js";

/** The app the load writes in (idempotency keys are scoped by app). */
const APP = LOAD_APP;

type Legs = ReadonlyArray<readonly [string, bigint]>;

export async function expectExactlyTheAcknowledgedWrites(
  databaseUrl: string,
  ledgerIds: readonly string[],
  acks: readonly Ack[],
  client: LedgerClient,
): Promise<void> {
  const db = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  await db.connect();
  let expectedBalances: Map<string, bigint>;
  let expectedPending: Map<string, Pending>;
  try {
    const entries = await db.query<{
      id: string;
      transaction_id: string;
      ledger_id: string;
      amount: string;
    }>(
      "select id, transaction_id, ledger_id, amount::text from entries where ledger_id = any($1::uuid[])",
      [ledgerIds],
    );
    const stored = new Map(entries.rows.map((row) => [row.id, row]));
    const acknowledged = new Set(acks.flatMap((a) => a.entryIds));
    const legs = acks.reduce((sum, a) => sum + legsOf(a.write).length, 0);
    expect(acknowledged.size, "each leg of each logical write has an entry of its own").toBe(legs);
    const missing = acks
      .filter((a) => a.entryIds.some((id) => !stored.has(id)))
      .map((a) => a.write.key);
    expect(missing, "acknowledged writes missing from the database, wholly or a leg").toEqual([]);
    const extra = entries.rows.filter((row) => !acknowledged.has(row.id)).map((row) => row.id);
    expect(extra, "entries no logical write accounts for (applied twice?)").toEqual([]);

    expectedBalances = new Map<string, bigint>();
    for (const [ledgerId, signed] of acks.flatMap((a) => legsOf(a.write))) {
      expectedBalances.set(ledgerId, (expectedBalances.get(ledgerId) ?? 0n) + signed);
    }
    const ledgers = await db.query<{
      id: string;
      balance: string;
      pending_debits: string;
      pending_credits: string;
    }>(
      "select id, balance::text, pending_debits::text, pending_credits::text from ledgers where id = any($1::uuid[])",
      [ledgerIds],
    );
    const balances = Object.fromEntries(ledgers.rows.map((row) => [row.id, BigInt(row.balance)]));
    const wanted = Object.fromEntries(
      ledgers.rows.map((row) => [row.id, expectedBalances.get(row.id) ?? 0n]),
    );
    expect(balances).toEqual(wanted);

    expectedPending = await expectHoldsAsAcknowledged(db, ledgerIds, acks, entries.rows);
    const pending = Object.fromEntries(
      ledgers.rows.map((row) => [
        row.id,
        { debits: BigInt(row.pending_debits), credits: BigInt(row.pending_credits) },
      ]),
    );
    expect(pending, "each ledger's pending totals: what its open holds hold").toEqual(
      Object.fromEntries(ledgerIds.map((id) => [id, expectedPending.get(id) ?? NOTHING_HELD])),
    );
    await expectKeysStoredOnce(db, acks);
  } finally {
    await db.end();
  }
  await expectFiguresAnswered(client, ledgerIds, expectedBalances, expectedPending);
  await expectHoldsAnswered(client, acks);
  const verify = await runVerifyCli(databaseUrl);
  expect(verify, "npm run verify").toEqual({ code: 0, stdout: "every invariant holds\n" });
}

interface Pending {
  readonly debits: bigint;
  readonly credits: bigint;
}

const NOTHING_HELD: Pending = { debits: 0n, credits: 0n };

/** Each acknowledged hold's step, by the hold's transaction id: its creation, and its post or void. */
interface HoldStory {
  readonly hold: Ack & { readonly write: HoldWrite };
  readonly resolved: Ack | undefined;
}

function holdStories(acks: readonly Ack[]): Map<string, HoldStory> {
  const stories = new Map<string, HoldStory>();
  for (const ack of acks) {
    if (ack.write.kind === "hold") {
      const write = ack.write;
      expect(stories.has(ack.transactionId), `hold ${ack.transactionId} made twice`).toBe(false);
      stories.set(ack.transactionId, { hold: { ...ack, write }, resolved: undefined });
    }
  }
  for (const ack of acks) {
    if (ack.write.kind === "post" || ack.write.kind === "void") {
      expect(ack.transactionId, `${ack.write.kind} ${ack.write.key} answers its hold`).toBe(
        ack.write.transactionId,
      );
      const story = stories.get(ack.write.transactionId);
      expect(story?.resolved, `hold ${ack.write.transactionId}: one acknowledged resolution`).toBe(
        undefined,
      );
      if (story !== undefined) {
        stories.set(ack.write.transactionId, { ...story, resolved: ack });
      }
    }
  }
  return stories;
}

/** What an acknowledged hold must look like now, given its acknowledged post or void (or none). */
interface HoldFacts {
  readonly kind: string;
  readonly state: "PENDING" | "POSTED" | "VOIDED" | "EXPIRED";
  readonly amount: bigint;
  readonly heldAmount: bigint;
  /** Its legs as held, in posting order, and whether each is still open. */
  readonly legs: ReadonlyArray<readonly [string, bigint, boolean]>;
  /** Its entries (ledger, amount), in posting order. */
  readonly entries: Legs;
}

function expectedFacts(story: HoldStory): HoldFacts {
  const { write } = story.hold;
  const resolution = story.resolved?.write;
  const state =
    resolution?.kind === "post" ? "POSTED" : resolution?.kind === "void" ? "VOIDED" : "PENDING";
  return {
    kind: write.via === "spend" ? "ENTRY" : "TRANSFER",
    state,
    amount: resolution?.kind === "post" ? postedAmount(resolution) : write.amount,
    heldAmount: write.amount,
    legs: heldLegs(write).map(([ledgerId, amount]) => [ledgerId, amount, state === "PENDING"]),
    entries: resolution === undefined ? [] : legsOf(resolution),
  };
}

interface HoldRows {
  readonly transactions: Map<
    string,
    { kind: string; state: HoldFacts["state"]; amount: bigint; heldAmount: bigint }
  >;
  readonly legs: Map<string, [string, bigint, boolean][]>;
}

/** The holds with a leg on `ledgerIds` (or with one of `ids`), as stored. */
async function readHolds(
  db: pg.Client,
  ledgerIds: readonly string[],
  ids: readonly string[],
): Promise<HoldRows> {
  const rows = await db.query<{
    id: string;
    kind: string;
    state: HoldFacts["state"];
    amount: string;
    held_amount: string;
  }>(
    `select t.id, t.kind, t.state, t.amount::text, t.held_amount::text
       from transactions t
      where t.held_amount is not null
        and (t.id = any($2::uuid[])
             or exists (select 1 from pending_entries p
                         where p.transaction_id = t.id and p.ledger_id = any($1::uuid[])))`,
    [ledgerIds, ids],
  );
  const legRows = await db.query<{
    transaction_id: string;
    ledger_id: string;
    amount: string;
    open: boolean;
  }>(
    `select transaction_id, ledger_id, amount::text, open from pending_entries
      where transaction_id = any($1::uuid[]) order by transaction_id, position`,
    [rows.rows.map((row) => row.id)],
  );
  const legs = new Map<string, [string, bigint, boolean][]>();
  for (const row of legRows.rows) {
    const list = legs.get(row.transaction_id) ?? [];
    list.push([row.ledger_id, BigInt(row.amount), row.open]);
    legs.set(row.transaction_id, list);
  }
  return {
    transactions: new Map(
      rows.rows.map((row) => [
        row.id,
        {
          kind: row.kind,
          state: row.state,
          amount: BigInt(row.amount),
          heldAmount: BigInt(row.held_amount),
        },
      ]),
    ),
    legs,
  };
}

/**
 * Every hold on the scenario's ledgers is an acknowledged one, made once,
 * standing as its acknowledged post or void left it: POSTED with the entries
 * of the amount posted, VOIDED with none, or PENDING with its legs open.
 * Returns what the open holds hold, by ledger.
 */
async function expectHoldsAsAcknowledged(
  db: pg.Client,
  ledgerIds: readonly string[],
  acks: readonly Ack[],
  entries: readonly { id: string; transaction_id: string; ledger_id: string; amount: string }[],
): Promise<Map<string, Pending>> {
  const stories = holdStories(acks);
  const rows = await readHolds(db, ledgerIds, [...stories.keys()]);
  const entriesOf = new Map<string, (typeof entries)[number][]>();
  for (const entry of entries) {
    const list = entriesOf.get(entry.transaction_id) ?? [];
    list.push(entry);
    entriesOf.set(entry.transaction_id, list);
  }
  const actual: Record<string, HoldFacts> = {};
  for (const [id, row] of rows.transactions) {
    // In posting order: the acknowledged post's order when there is one.
    const order = stories.get(id)?.resolved?.entryIds ?? [];
    const stored = [...(entriesOf.get(id) ?? [])].sort(
      (a, b) => order.indexOf(a.id) - order.indexOf(b.id),
    );
    actual[id] = {
      ...row,
      legs: rows.legs.get(id) ?? [],
      entries: stored.map((entry) => [entry.ledger_id, BigInt(entry.amount)]),
    };
  }
  const expected = Object.fromEntries(
    [...stories].map(([id, story]) => [id, expectedFacts(story)]),
  );
  expect(
    actual,
    "each hold on these ledgers: acknowledged, made once, as its acknowledged post or void left it",
  ).toEqual(expected);

  const pending = new Map<string, Pending>();
  for (const story of stories.values()) {
    if (story.resolved === undefined) {
      for (const [ledgerId, amount] of heldLegs(story.hold.write)) {
        const { debits, credits } = pending.get(ledgerId) ?? NOTHING_HELD;
        pending.set(
          ledgerId,
          amount < 0n
            ? { debits: debits - amount, credits }
            : { debits, credits: credits + amount },
        );
      }
    }
  }
  return pending;
}

/** Each acknowledged key is stored once (its primary key), naming the transaction it answered. */
async function expectKeysStoredOnce(db: pg.Client, acks: readonly Ack[]): Promise<void> {
  const keys = await db.query<{ key: string; resource_id: string }>(
    "select key, resource_id::text from idempotency_keys where app = $1 and key = any($2::text[])",
    [APP, acks.map((a) => a.write.key)],
  );
  expect(
    Object.fromEntries(keys.rows.map((row) => [row.key, row.resource_id])),
    "each acknowledged key, stored with the transaction it answered",
  ).toEqual(Object.fromEntries(acks.map((a) => [a.write.key, a.transactionId])));
}

/** GetBalance and GetLedger answer the balance and pending totals the acknowledged writes add up to. */
async function expectFiguresAnswered(
  client: LedgerClient,
  ledgerIds: readonly string[],
  balances: ReadonlyMap<string, bigint>,
  pending: ReadonlyMap<string, Pending>,
): Promise<void> {
  const answered = await Promise.all(
    ledgerIds.map(async (ledgerId) => {
      const b = await client.getBalance({ ledgerId });
      const { ledger } = await client.getLedger({ ledgerId });
      return [
        ledgerId,
        {
          getBalance: [b.balance, b.pendingDebits, b.pendingCredits, b.available],
          getLedger: [
            ledger?.balance,
            ledger?.pendingDebits,
            ledger?.pendingCredits,
            ledger?.available,
          ],
        },
      ] as const;
    }),
  );
  const expected = ledgerIds.map((ledgerId) => {
    const balance = balances.get(ledgerId) ?? 0n;
    const { debits, credits } = pending.get(ledgerId) ?? NOTHING_HELD;
    const figures = [balance, debits, credits, balance - debits];
    return [ledgerId, { getBalance: figures, getLedger: figures }] as const;
  });
  expect(
    Object.fromEntries(answered),
    "balance, pending debits and credits, available: as answered",
  ).toEqual(Object.fromEntries(expected));
}

/** GetTransaction answers each hold with its one resolution (or none) in its history. */
async function expectHoldsAnswered(client: LedgerClient, acks: readonly Ack[]): Promise<void> {
  const stories = [...holdStories(acks)];
  const answered = await Promise.all(
    stories.map(async ([id]) => {
      const { transaction } = await client.getTransaction({ transactionId: id });
      return [
        id,
        {
          state: TransactionState[transaction?.state ?? TransactionState.UNSPECIFIED],
          entryIds: transaction?.entries.map((e) => e.id),
          history: transaction?.history.map((event) => [
            TransactionState[event.state],
            event.amount,
          ]),
        },
      ] as const;
    }),
  );
  const expected = stories.map(([id, story]) => {
    const facts = expectedFacts(story);
    const history: [string, bigint][] = [["PENDING", facts.heldAmount]];
    if (facts.state !== "PENDING") {
      history.push([facts.state, facts.amount]);
    }
    return [id, { state: facts.state, entryIds: story.resolved?.entryIds ?? [], history }] as const;
  });
  expect(
    Object.fromEntries(answered),
    "each hold as GetTransaction answers it: resolved once at most",
  ).toEqual(Object.fromEntries(expected));
}

/** What an unacknowledged write's key named when it was observed: its transaction, or nothing stored. */
export type Observed = ReadonlyMap<string, string | undefined>;

/**
 * Before the unacknowledged writes are retried: what each left behind is
 * all or nothing. A write whose key is stored is whole (every entry of its
 * legs, a hold with its legs open, a post with its entries, a void with
 * none); a post or void whose key is not stored left its hold PENDING, legs
 * open, no entries. Returns each write's stored transaction, by key.
 */
export async function observeUnacknowledged(
  databaseUrl: string,
  writes: readonly LogicalWrite[],
): Promise<Observed> {
  const db = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  await db.connect();
  try {
    const keys = await db.query<{ key: string; resource_id: string }>(
      "select key, resource_id::text from idempotency_keys where app = $1 and key = any($2::text[])",
      [APP, writes.map((w) => w.key)],
    );
    const observed = new Map<string, string | undefined>(writes.map((w) => [w.key, undefined]));
    for (const row of keys.rows) {
      observed.set(row.key, row.resource_id);
    }
    // The transaction each write touched: the one its key names, else the hold it resolves.
    const touched = writes.flatMap((w) => {
      const id =
        observed.get(w.key) ??
        (w.kind === "post" || w.kind === "void" ? w.transactionId : undefined);
      return id === undefined ? [] : [[w, id] as const];
    });
    const ids = touched.map(([, id]) => id);
    const transactions = await db.query<{
      id: string;
      state: string;
      amount: string;
      reverses_transaction_id: string | null;
    }>(
      "select id, state, amount::text, reverses_transaction_id::text from transactions where id = any($1::uuid[])",
      [ids],
    );
    const byId = new Map(transactions.rows.map((row) => [row.id, row]));
    const entries = await db.query<{ transaction_id: string; ledger_id: string; amount: string }>(
      "select transaction_id, ledger_id, amount::text from entries where transaction_id = any($1::uuid[])",
      [ids],
    );
    const legs = await db.query<{
      transaction_id: string;
      ledger_id: string;
      amount: string;
      open: boolean;
    }>(
      "select transaction_id, ledger_id, amount::text, open from pending_entries where transaction_id = any($1::uuid[]) order by position",
      [ids],
    );
    const sorted = (list: Legs) =>
      [...list].sort(([a, x], [b, y]) => a.localeCompare(b) || Number(x - y));
    const actual = touched.map(([w, id]) => {
      const row = byId.get(id);
      return [
        w.key,
        {
          state: row?.state,
          amount: row === undefined ? undefined : BigInt(row.amount),
          reverses: row?.reverses_transaction_id ?? undefined,
          entries: sorted(
            entries.rows
              .filter((e) => e.transaction_id === id)
              .map((e) => [e.ledger_id, BigInt(e.amount)] as const),
          ),
          openLegs: legs.rows
            .filter((l) => l.transaction_id === id && l.open)
            .map((l) => [l.ledger_id, BigInt(l.amount)]),
        },
      ];
    });
    const expected = touched.map(([w]) => [
      w.key,
      leftBehind(w, observed.get(w.key) !== undefined, sorted),
    ]);
    expect(
      Object.fromEntries(actual),
      "what each unacknowledged write left behind: all of it, or (a post or void) its hold still PENDING",
    ).toEqual(Object.fromEntries(expected));
    return observed;
  } finally {
    await db.end();
  }
}

function leftBehind(
  write: LogicalWrite,
  applied: boolean,
  sorted: (legs: Legs) => Legs,
): {
  state: string;
  amount: bigint;
  reverses: string | undefined;
  entries: Legs;
  openLegs: Legs;
} {
  const reverses = write.kind === "reverse" ? write.transactionId : undefined;
  switch (write.kind) {
    case "hold":
      // Its post or void is only ever sent once it is acknowledged.
      return {
        state: "PENDING",
        amount: write.amount,
        reverses,
        entries: [],
        openLegs: heldLegs(write),
      };
    case "post":
    case "void":
      if (!applied) {
        return {
          state: "PENDING",
          amount: write.hold.amount,
          reverses,
          entries: [],
          openLegs: heldLegs(write.hold),
        };
      }
      return write.kind === "post"
        ? {
            state: "POSTED",
            amount: postedAmount(write),
            reverses,
            entries: sorted(legsOf(write)),
            openLegs: [],
          }
        : { state: "VOIDED", amount: write.hold.amount, reverses, entries: [], openLegs: [] };
    default:
      return {
        state: "POSTED",
        amount: write.amount,
        reverses,
        entries: sorted(legsOf(write)),
        openLegs: [],
      };
  }
}

/**
 * The retry of each unacknowledged write, under its key, answers as the
 * database stood before it: a replay of the transaction its key named, or,
 * when nothing was stored, a first application.
 */
export function expectRetriesToAnswerAsStored(observed: Observed, retried: readonly Ack[]): void {
  expect(
    retried.map((a) => [a.write.key, a.replayed, a.transactionId]),
    "each retry: a replay of what its key stored, or a first application",
  ).toEqual(
    retried.map((a) => {
      const stored = observed.get(a.write.key);
      return [a.write.key, stored !== undefined, stored ?? a.transactionId];
    }),
  );
}
