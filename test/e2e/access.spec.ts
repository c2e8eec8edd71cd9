/**
 * Access control through the real server and all three clients: every RPC
 * with no token, a malformed or unknown token, and each role of the right
 * app; then another app's token against the first app's ledgers and
 * transactions, by id, by owner, by idempotency key, by external id and by
 * page token. A refused call changes nothing.
 */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { newToken } from "../../src/server/credentials.js";
import { bufCurl } from "../server/buf-curl.js";
import {
  CLIENT_NAMES,
  type ClientName,
  failureOf,
  type LedgerApi,
  type OpenClientOptions,
  openClient,
  type RpcFailure,
} from "../support/clients.js";
import { absentId, uniqueKey, uniqueOwner } from "../support/fixtures.js";
import { useLedgerServer } from "../support/server.js";
import { expectRefusal, snapshot } from "../support/steps.js";

const TOKENS = {
  contentReader: newToken("content", "reader"),
  contentWriter: newToken("content", "writer"),
  contentAdmin: newToken("content", "admin"),
  learningAdmin: newToken("learning", "admin"),
};
type TokenName = keyof typeof TOKENS;

const harness = useLedgerServer({
  LEDGER_TOKENS: Object.values(TOKENS)
    .map((token) => token.line)
    .join(","),
});

const opened: LedgerApi[] = [];
function clientOf(name: ClientName, options: OpenClientOptions): LedgerApi {
  const client = openClient(name, harness.server().url, options);
  opened.push(client);
  return client;
}
function as(name: ClientName, token: TokenName): LedgerApi {
  return clientOf(name, { token: TOKENS[token].token });
}
afterAll(() => {
  for (const client of opened) {
    client.close();
  }
});

/** What the calls below need, made with the content admin's token. */
class ContentWorld {
  constructor(readonly admin: LedgerApi) {}

  source = "";

  async init(): Promise<void> {
    this.source = await this.ledger({ unbounded: true });
  }

  async ledger(options: { unbounded?: boolean } = {}): Promise<string> {
    const { value } = await this.admin.createLedger({
      app: "content",
      ownerId: uniqueOwner("access"),
      unit: "CREDITS",
      idempotencyKey: uniqueKey("create"),
      ...options,
    });
    return value.id;
  }

  /** A ledger holding 100 credits. */
  async funded(): Promise<string> {
    const id = await this.ledger();
    await this.admin.transfer({
      fromLedgerId: this.source,
      toLedgerId: id,
      amount: 100n,
      idempotencyKey: uniqueKey("fund"),
    });
    return id;
  }

  async entryTransaction(ledgerId: string): Promise<string> {
    const { value } = await this.admin.recordEntry({
      ledgerId,
      operation: "CREDIT_ADD",
      amount: 5n,
      idempotencyKey: uniqueKey("entry"),
      externalTransactionId: uniqueKey("ext"),
    });
    return value.transactionId;
  }

  async hold(ledgerId: string): Promise<string> {
    const { value } = await this.admin.recordEntry({
      ledgerId,
      operation: "CREDIT_SPEND",
      amount: -3n,
      idempotencyKey: uniqueKey("hold"),
      pending: true,
    });
    return value.id;
  }
}

type Call = (api: LedgerApi, world: ContentWorld) => Promise<unknown>;

function credit(ledgerId: string) {
  return { ledgerId, operation: "CREDIT_ADD", amount: 5n, idempotencyKey: uniqueKey("credit") };
}

/** One successful call of each RPC, in the proto's order, with its role. */
const CALLS: readonly { method: string; role: "reader" | "writer" | "admin"; call: Call }[] = [
  {
    method: "CreateLedger",
    role: "admin",
    call: (api) =>
      api.createLedger({
        app: "content",
        ownerId: uniqueOwner("access"),
        unit: "CREDITS",
        idempotencyKey: uniqueKey("create"),
      }),
  },
  { method: "GetLedger", role: "reader", call: async (api, w) => api.getLedger(await w.ledger()) },
  {
    method: "ListLedgers",
    role: "reader",
    call: (api) => api.listLedgers({ app: "content", pageSize: 1 }),
  },
  {
    method: "RecordEntry",
    role: "writer",
    call: async (api, w) => api.recordEntry(credit(await w.ledger())),
  },
  {
    method: "RecordEntries",
    role: "writer",
    call: async (api, w) =>
      api.recordEntries({ entries: [credit(await w.ledger())], atomic: true }),
  },
  {
    method: "Transfer",
    role: "writer",
    call: async (api, w) =>
      api.transfer({
        fromLedgerId: await w.funded(),
        toLedgerId: await w.ledger(),
        amount: 7n,
        idempotencyKey: uniqueKey("transfer"),
      }),
  },
  {
    method: "CreateTransfers",
    role: "writer",
    call: async (api, w) =>
      api.createTransfers({
        transfers: [
          {
            fromLedgerId: await w.funded(),
            toLedgerId: await w.ledger(),
            amount: 7n,
            idempotencyKey: uniqueKey("transfer"),
          },
        ],
        atomic: true,
      }),
  },
  {
    method: "ReverseTransaction",
    role: "writer",
    call: async (api, w) =>
      api.reverseTransaction({
        transactionId: await w.entryTransaction(await w.ledger()),
        idempotencyKey: uniqueKey("reverse"),
      }),
  },
  {
    method: "GetTransaction",
    role: "reader",
    call: async (api, w) =>
      api.getTransaction({ transactionId: await w.entryTransaction(await w.ledger()) }),
  },
  {
    method: "GetBalance",
    role: "reader",
    call: async (api, w) => api.getBalance({ ledgerId: await w.ledger() }),
  },
  {
    method: "ListEntries",
    role: "reader",
    call: async (api, w) => api.listEntries({ ledgerId: await w.funded() }),
  },
  {
    method: "TerminateLedger",
    role: "admin",
    call: async (api, w) => api.terminateLedger(await w.ledger()),
  },
  {
    method: "PostPendingTransaction",
    role: "writer",
    call: async (api, w) =>
      api.postPendingTransaction({
        transactionId: await w.hold(await w.funded()),
        idempotencyKey: uniqueKey("post"),
      }),
  },
  {
    method: "VoidPendingTransaction",
    role: "writer",
    call: async (api, w) =>
      api.voidPendingTransaction({
        transactionId: await w.hold(await w.funded()),
        idempotencyKey: uniqueKey("void"),
      }),
  },
  {
    method: "ListPendingTransactions",
    role: "reader",
    call: async (api, w) => api.listPendingTransactions({ ledgerId: await w.funded() }),
  },
  {
    method: "WatchEntries",
    role: "reader",
    // A terminated ledger's stream ends once its entries are sent.
    call: async (api, w) => {
      const ledgerId = await w.funded();
      await w.admin.terminateLedger(ledgerId);
      return drain(api.watchEntries({ ledgerId, afterSequence: 0n }));
    },
  },
];

/** Every message of a stream that ends. */
async function drain<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of stream) {
    all.push(item);
  }
  return all;
}

const ROLE_RANK = { reader: 0, writer: 1, admin: 2 } as const;
const ROLE_TOKENS = {
  reader: "contentReader",
  writer: "contentWriter",
  admin: "contentAdmin",
} as const;

it("covers every LedgerService RPC", async () => {
  const { LEDGER_METHODS } = await import("../support/fixtures.js");
  expect(CALLS.map((c) => c.method)).toEqual(LEDGER_METHODS);
});

describe.each(CLIENT_NAMES)("over %s", (clientName) => {
  let world: ContentWorld;
  beforeAll(async () => {
    world = new ContentWorld(as(clientName, "contentAdmin"));
    await world.init();
  });

  describe("authentication", () => {
    const refusals: readonly [string, OpenClientOptions, string][] = [
      ["no token", {}, "TOKEN_MISSING"],
      ["an unknown token", { token: newToken("content", "admin").token }, "TOKEN_INVALID"],
      ["a malformed token", { token: "sl_not-a-token" }, "TOKEN_INVALID"],
      [
        "a scheme other than Bearer",
        { authorization: "Basic Y29udGVudDphZG1pbg==" },
        "TOKEN_INVALID",
      ],
    ];
    it.each(refusals)("refuses every RPC with %s: UNAUTHENTICATED", async (_, options, reason) => {
      const api = clientOf(clientName, options);
      for (const { method, call } of CALLS) {
        const failure = await failureOf(call(api, world));
        expectRefusal(failure, "UNAUTHENTICATED", reason);
        expect(failure.rawMessage, method).toMatch(/bearer token/);
      }
    });

    it("records nothing for an unauthenticated write", async () => {
      const ledgerId = await world.funded();
      const before = await snapshot(world.admin, ledgerId);
      const anonymous = clientOf(clientName, {});
      await failureOf(anonymous.recordEntry(credit(ledgerId)));
      await failureOf(
        anonymous.transfer({
          fromLedgerId: ledgerId,
          toLedgerId: world.source,
          amount: 1n,
          idempotencyKey: uniqueKey("t"),
        }),
      );
      expect(await snapshot(world.admin, ledgerId)).toEqual(before);
    });
  });

  describe("roles", () => {
    it.each(["reader", "writer", "admin"] as const)(
      "role %s may call exactly the RPCs of its role and those below",
      async (role) => {
        const api = as(clientName, ROLE_TOKENS[role]);
        for (const { method, role: needed, call } of CALLS) {
          if (ROLE_RANK[role] >= ROLE_RANK[needed]) {
            await expect(call(api, world), `${role} ${method}`).resolves.toBeDefined();
          } else {
            const failure = await failureOf(call(api, world));
            expectRefusal(failure, "PERMISSION_DENIED", "ROLE_NOT_PERMITTED", {
              role,
              required_role: needed,
              method: `ledger.v1.LedgerService/${method}`,
            });
          }
        }
      },
    );

    it("a refused role writes nothing: a reader's entry, a writer's ledger or termination", async () => {
      const ledgerId = await world.funded();
      const before = await snapshot(world.admin, ledgerId);
      await failureOf(as(clientName, "contentReader").recordEntry(credit(ledgerId)));
      await failureOf(as(clientName, "contentWriter").terminateLedger(ledgerId));
      expect(await snapshot(world.admin, ledgerId)).toEqual(before);
      expect((await world.admin.getLedger(ledgerId)).status).toBe("ACTIVE");
      const ownerId = uniqueOwner("refused");
      await failureOf(
        as(clientName, "contentWriter").createLedger({
          app: "content",
          ownerId,
          unit: "CREDITS",
          idempotencyKey: uniqueKey("c"),
        }),
      );
      expect((await world.admin.listLedgers({ app: "content", ownerId })).items).toEqual([]);
    });

    it("backdating needs an admin, alone or as an item of RecordEntries", async () => {
      const ledgerId = await world.funded();
      const createdAt = new Date(Date.now() - 60_000);
      const writer = as(clientName, "contentWriter");
      const alone = await failureOf(writer.recordEntry({ ...credit(ledgerId), createdAt }));
      expectRefusal(alone, "PERMISSION_DENIED", "ROLE_NOT_PERMITTED", {
        role: "writer",
        required_role: "admin",
      });
      expect(alone.rawMessage).toMatch(/^backdating an entry \(created_at\)/);
      const inBulk = await failureOf(
        writer.recordEntries({
          entries: [credit(ledgerId), { ...credit(ledgerId), createdAt }],
          atomic: false,
        }),
      );
      expectRefusal(inBulk, "PERMISSION_DENIED", "ROLE_NOT_PERMITTED");
      const before = await snapshot(world.admin, ledgerId);
      expect(before.entryCount).toBe(1);
      const backdated = await world.admin.recordEntry({ ...credit(ledgerId), createdAt });
      expect(backdated.value.createdAt).toEqual(createdAt);
    });
  });

  describe("another app's token", () => {
    let learning: LedgerApi;
    let learningLedger: string;
    beforeAll(async () => {
      learning = as(clientName, "learningAdmin");
      const { value } = await learning.createLedger({
        app: "learning",
        ownerId: uniqueOwner("learner"),
        unit: "CREDITS",
        idempotencyKey: uniqueKey("create"),
        unbounded: true,
      });
      learningLedger = value.id;
    });

    /** The same answer as for an id that names nothing, the id aside. */
    async function expectSameAsAbsent(
      foreignId: string,
      foreign: () => Promise<unknown>,
      absent: (id: string) => Promise<unknown>,
    ): Promise<void> {
      const missingId = absentId();
      const seen = await failureOf(foreign());
      const expected = await failureOf(absent(missingId));
      expect(normalized(seen, foreignId)).toEqual(normalized(expected, missingId));
    }

    function normalized(failure: RpcFailure, id: string) {
      const hide = (text: string) => text.replaceAll(id, "<id>");
      return {
        code: failure.code,
        reason: failure.reason,
        message: hide(failure.rawMessage),
        metadata: Object.fromEntries(
          Object.entries(failure.metadata).map(([key, value]) => [key, hide(value)]),
        ),
      };
    }

    it("sees a ledger of the other app exactly as one that does not exist, by id", async () => {
      const id = await world.funded();
      const before = await snapshot(world.admin, id);
      const reads: ((ledgerId: string) => Promise<unknown>)[] = [
        (ledgerId) => learning.getLedger(ledgerId),
        (ledgerId) => learning.getBalance({ ledgerId }),
        (ledgerId) => learning.listEntries({ ledgerId }),
        (ledgerId) => learning.listPendingTransactions({ ledgerId }),
        (ledgerId) => drain(learning.watchEntries({ ledgerId, afterSequence: 0n })),
        (ledgerId) => learning.recordEntry(credit(ledgerId)),
        (ledgerId) => learning.recordEntries({ entries: [credit(ledgerId)], atomic: true }),
        (ledgerId) =>
          learning.transfer({
            fromLedgerId: learningLedger,
            toLedgerId: ledgerId,
            amount: 1n,
            idempotencyKey: uniqueKey("t"),
          }),
        (ledgerId) =>
          learning.transfer({
            fromLedgerId: ledgerId,
            toLedgerId: learningLedger,
            amount: 1n,
            idempotencyKey: uniqueKey("t"),
          }),
        (ledgerId) =>
          learning.createTransfers({
            transfers: [
              {
                fromLedgerId: ledgerId,
                toLedgerId: learningLedger,
                amount: 1n,
                idempotencyKey: uniqueKey("t"),
              },
            ],
            atomic: true,
          }),
        (ledgerId) => learning.terminateLedger(ledgerId),
        (ledgerId) =>
          learning.createLedger({
            app: "learning",
            ownerId: uniqueOwner("expiring"),
            unit: "CREDITS",
            idempotencyKey: uniqueKey("c"),
            validUntil: new Date(Date.now() + 3_600_000),
            expireToLedgerId: ledgerId,
          }),
      ];
      for (const call of reads) {
        await expectSameAsAbsent(id, () => call(id), call);
      }
      const doomed = await learning.createLedger({
        app: "learning",
        ownerId: uniqueOwner("doomed"),
        unit: "CREDITS",
        idempotencyKey: uniqueKey("c"),
      });
      await expectSameAsAbsent(
        id,
        () => learning.terminateLedger(doomed.value.id, { sweepToLedgerId: id }),
        (missing) => learning.terminateLedger(doomed.value.id, { sweepToLedgerId: missing }),
      );
      expect(await snapshot(world.admin, id)).toEqual(before);
      expect((await world.admin.getLedger(id)).status).toBe("ACTIVE");
    });

    it("sees a transaction of the other app exactly as one that does not exist, by id", async () => {
      const ledgerId = await world.funded();
      const posted = await world.entryTransaction(ledgerId);
      const held = await world.hold(ledgerId);
      const before = await snapshot(world.admin, ledgerId);
      await expectSameAsAbsent(
        posted,
        () => learning.getTransaction({ transactionId: posted }),
        (id) => learning.getTransaction({ transactionId: id }),
      );
      const reverse = (transactionId: string) =>
        learning.reverseTransaction({ transactionId, idempotencyKey: uniqueKey("r") });
      await expectSameAsAbsent(posted, () => reverse(posted), reverse);
      const postHold = (transactionId: string) =>
        learning.postPendingTransaction({ transactionId, idempotencyKey: uniqueKey("p") });
      await expectSameAsAbsent(held, () => postHold(held), postHold);
      const voidHold = (transactionId: string) =>
        learning.voidPendingTransaction({ transactionId, idempotencyKey: uniqueKey("v") });
      await expectSameAsAbsent(held, () => voidHold(held), voidHold);
      expect(await snapshot(world.admin, ledgerId)).toEqual(before);
      expect((await world.admin.getTransaction({ transactionId: held })).state).toBe("PENDING");
    });

    it("cannot name the other app: by owner, by external id, to list, to watch or to create", async () => {
      const ledgerId = await world.ledger();
      const ledger = await world.admin.getLedger(ledgerId);
      const calls: (() => Promise<unknown>)[] = [
        () => learning.getBalance({ app: "content", ownerId: ledger.ownerId, unit: "CREDITS" }),
        () => learning.getTransaction({ app: "content", externalTransactionId: "anything" }),
        () => learning.listLedgers({ app: "content" }),
        () => drain(learning.watchEvents({ app: "content" })),
        () =>
          learning.createLedger({
            app: "content",
            ownerId: uniqueOwner("intruder"),
            unit: "CREDITS",
            idempotencyKey: uniqueKey("c"),
          }),
      ];
      for (const call of calls) {
        expectRefusal(await failureOf(call()), "PERMISSION_DENIED", "APP_NOT_PERMITTED", {
          app: "content",
          caller_app: "learning",
        });
      }
    });

    it("keeps idempotency keys and external ids per app", async () => {
      const contentLedger = await world.ledger();
      const key = uniqueKey("shared-key");
      const externalTransactionId = uniqueKey("shared-ext");
      const first = await world.admin.recordEntry({
        ...credit(contentLedger),
        idempotencyKey: key,
        externalTransactionId,
      });
      const second = await learning.recordEntry({
        ...credit(learningLedger),
        idempotencyKey: key,
        externalTransactionId,
      });
      expect(second.replayed).toBe(false);
      expect(second.value.transactionId).not.toBe(first.value.transactionId);
      const mine = await learning.getTransaction({ app: "learning", externalTransactionId });
      expect(mine.id).toBe(second.value.transactionId);
    });

    it("cannot replay a page token of the other app", async () => {
      for (let i = 0; i < 2; i += 1) {
        await world.ledger();
      }
      const contentPage = await world.admin.listLedgers({ app: "content", pageSize: 1 });
      expect(contentPage.nextPageToken).not.toBe("");
      const replayed = await failureOf(
        learning.listLedgers({ app: "learning", pageToken: contentPage.nextPageToken }),
      );
      expectRefusal(replayed, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field: "page_token" });

      const contentLedger = await world.funded();
      await world.entryTransaction(contentLedger);
      const entries = await world.admin.listEntries({ ledgerId: contentLedger, pageSize: 1 });
      expect(entries.nextPageToken).not.toBe("");
      await learning.recordEntry(credit(learningLedger));
      const entryToken = await failureOf(
        learning.listEntries({ ledgerId: learningLedger, pageToken: entries.nextPageToken }),
      );
      expectRefusal(entryToken, "INVALID_ARGUMENT", "INVALID_ARGUMENT", { field: "page_token" });
    });
  });
});

describe("public endpoints", () => {
  it("health answers without a token", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: harness.server().url }));
    const answer = await health.check({ service: "" });
    expect(answer.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it("reflection lists the ledger without a token; buf curl then needs one to call it", async () => {
    const url = harness.server().url;
    const reflect = ["--reflect", "--http2-prior-knowledge"];
    const services = await bufCurl([...reflect, "--list-services", url]);
    expect(services.stdout).toContain("ledger.v1.LedgerService");
    const target = `${url}/ledger.v1.LedgerService/ListLedgers`;
    const body = ["-d", '{"app":"content","pageSize":1}'];
    const anonymous = await bufCurl([...reflect, ...body, target]);
    expect(anonymous.exitCode).not.toBe(0);
    expect(anonymous.stderr).toContain("unauthenticated");
    const header = ["-H", `Authorization: Bearer ${TOKENS.contentReader.token}`];
    const signed = await bufCurl([...reflect, ...header, ...body, target]);
    expect(signed.stderr).toBe("");
    expect(signed.exitCode).toBe(0);
    expect(JSON.parse(signed.stdout)).toBeTypeOf("object");
  });
});
