/**
 * Ledger lifecycle through each client against the real server and database:
 * CreateLedger (default floor, credit limit, unbounded funding source),
 * GetLedger, ListLedgers (pages, owner filter) and TerminateLedger (idempotent,
 * final: writes and balances refused afterwards, the ledger still readable).
 */
import { describe, expect, it } from "vitest";
import { CLIENT_NAMES, ERROR_DOMAIN, failureOf, type Ledger } from "../support/clients.js";
import { CONTENT, declaredApp, LEARNING, uniqueKey, uniqueOwner } from "../support/fixtures.js";
import { useLedgerServer } from "../support/server.js";
import { openLedger, post, snapshot } from "../support/steps.js";

const harness = useLedgerServer();

describe.each(CLIENT_NAMES)("ledger lifecycle through %s", (clientName) => {
  const api = () => harness.client(clientName);

  it("CreateLedger opens an active, empty ledger with the default floor of 0", async () => {
    const app = declaredApp();
    const ownerId = uniqueOwner();
    const before = Date.now();
    const { value: ledger, replayed } = await api().createLedger({
      app,
      ownerId,
      unit: "CREDITS",
      description: "main wallet",
      reference: "ref-1",
      metadata: { plan: "pro", region: "eu" },
      idempotencyKey: uniqueKey(),
    });

    expect(replayed).toBe(false);
    expect(ledger.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(ledger).toMatchObject({
      app,
      ownerId,
      unit: "CREDITS",
      description: "main wallet",
      reference: "ref-1",
      metadata: { plan: "pro", region: "eu" },
      status: "ACTIVE",
      balance: 0n,
      minBalance: 0n,
      version: 0n,
      unbounded: false,
      terminatedAt: undefined,
    });
    expect(ledger.createdAt?.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(ledger.createdAt?.getTime()).toBeLessThanOrEqual(Date.now() + 1000);

    const spend = await failureOf(post(api(), ledger.id, "CREDIT_SPEND"));
    expect(spend).toMatchObject({ code: "FAILED_PRECONDITION", reason: "INSUFFICIENT_FUNDS" });
  });

  it("a negative min_balance is a credit limit: debits may reach it and go no further", async () => {
    const ledger = await openLedger(api(), { minBalance: -100n });
    expect(ledger.minBalance).toBe(-100n);
    expect(ledger.unbounded).toBe(false);

    const toLimit = await post(api(), ledger.id, "CREDIT_SPEND", -100n);
    expect(toLimit.balanceAfter).toBe(-100n);

    const beyond = await failureOf(post(api(), ledger.id, "CREDIT_SPEND", -1n));
    expect(beyond).toMatchObject({
      code: "FAILED_PRECONDITION",
      reason: "INSUFFICIENT_FUNDS",
      domain: ERROR_DOMAIN,
    });
    expect((await api().getLedger(ledger.id)).balance).toBe(-100n);
  });

  it("an unbounded ledger is a funding source with no floor and no min_balance", async () => {
    const ledger = await openLedger(api(), { unbounded: true, unit: "USD_CENTS" });
    expect(ledger.unbounded).toBe(true);
    expect(ledger.minBalance).toBeUndefined();

    const issued = await post(api(), ledger.id, "CREDIT_SPEND", -1_000_000_000_000n);
    expect(issued.balanceAfter).toBe(-1_000_000_000_000n);
    const again = await post(api(), ledger.id, "CREDIT_SPEND");
    expect(again.balanceAfter).toBe(-1_000_000_000_001n);
  });

  it("GetLedger returns the ledger with its balance and version following its entries", async () => {
    const created = await openLedger(api(), { description: "d", metadata: { k: "v" } });
    await post(api(), created.id, "CREDIT_ADD");
    await post(api(), created.id, "CREDIT_SPEND", -4n);

    const fetched = await api().getLedger(created.id);
    expect(fetched).toEqual({ ...created, balance: 6n, version: 2n, available: 6n });
  });

  it("ListLedgers pages through an app's ledgers oldest first, and owner_id filters", async () => {
    // The app is shared with the file's other tests: its pages hold their ledgers too,
    // so the app-wide listing is checked for the order of ours, an owner's exactly.
    const app = CONTENT;
    const alice = uniqueOwner("alice");
    const bob = uniqueOwner("bob");
    const plan: [string, string][] = [
      [alice, "CREDITS"],
      [bob, "CREDITS"],
      [alice, "USD_CENTS"],
      [bob, "SEATS"],
      [alice, "SEATS"],
    ];
    const created: Ledger[] = [];
    for (const [ownerId, unit] of plan) {
      created.push(await openLedger(api(), { app, ownerId, unit }));
    }
    const elsewhere = await openLedger(api(), { app: LEARNING, ownerId: alice });

    const pages: Ledger[][] = [];
    let pageToken = "";
    do {
      const page = await api().listLedgers({ app, pageSize: 2, pageToken });
      pages.push([...page.items]);
      pageToken = page.nextPageToken;
    } while (pageToken !== "" && pages.length < 1000);

    expect(pageToken, "ListLedgers did not end").toBe("");
    expect(pages.slice(0, -1).every((p) => p.length === 2)).toBe(true);
    const listed = pages.flat();
    expect(listed.every((l) => l.app === app)).toBe(true);
    expect(new Set(listed.map((l) => l.id)).size).toBe(listed.length);
    const ids = new Set(created.map((l) => l.id));
    expect(listed.filter((l) => ids.has(l.id))).toEqual(created);
    expect(listed.map((l) => l.id)).not.toContain(elsewhere.id);

    const alices = await api().listLedgers({ app, ownerId: alice });
    expect(alices.nextPageToken).toBe("");
    expect(alices.items.map((l) => l.unit)).toEqual(["CREDITS", "USD_CENTS", "SEATS"]);
    expect(alices.items.every((l) => l.ownerId === alice && l.app === app)).toBe(true);

    const bobsPages: Ledger[][] = [];
    pageToken = "";
    do {
      const page = await api().listLedgers({ app, ownerId: bob, pageSize: 1, pageToken });
      bobsPages.push([...page.items]);
      pageToken = page.nextPageToken;
    } while (pageToken !== "" && bobsPages.length < 10);
    expect(bobsPages.flat()).toEqual(created.filter((l) => l.ownerId === bob));

    const nobody = await api().listLedgers({ app, ownerId: uniqueOwner("nobody") });
    expect(nobody).toEqual({ items: [], nextPageToken: "" });
  });

  it("TerminateLedger is final and idempotent; the ledger stays readable and listed for audit", async () => {
    const ledger = await openLedger(api());
    const credit = await post(api(), ledger.id, "CREDIT_ADD", 40n);

    const terminated = await api().terminateLedger(ledger.id);
    expect(terminated).toMatchObject({
      id: ledger.id,
      status: "TERMINATED",
      balance: 40n,
      version: 1n,
    });
    expect(terminated.terminatedAt).toBeInstanceOf(Date);

    const again = await api().terminateLedger(ledger.id);
    expect(again).toEqual(terminated);
    expect(await api().getLedger(ledger.id)).toEqual(terminated);
    const before = await snapshot(api(), ledger.id);

    const refusals = [
      await failureOf(post(api(), ledger.id, "DAILY_REWARD")),
      await failureOf(post(api(), ledger.id, "CREDIT_SPEND")),
      await failureOf(
        api().reverseTransaction({
          transactionId: credit.transactionId,
          idempotencyKey: uniqueKey(),
        }),
      ),
      await failureOf(api().getBalance({ ledgerId: ledger.id })),
      await failureOf(
        api().getBalance({ app: ledger.app, ownerId: ledger.ownerId, unit: ledger.unit }),
      ),
    ];
    for (const refusal of refusals) {
      expect(refusal).toMatchObject({
        code: "FAILED_PRECONDITION",
        reason: "LEDGER_TERMINATED",
        domain: ERROR_DOMAIN,
        metadata: expect.objectContaining({ ledger_id: ledger.id }),
      });
    }
    expect(await snapshot(api(), ledger.id)).toEqual(before);
    const listed = await api().listLedgers({ app: ledger.app, ownerId: ledger.ownerId });
    expect(listed.items).toEqual([terminated]);
  });

  it("after termination the owner may open a new ledger in that unit, found by (app, owner_id, unit)", async () => {
    const first = await openLedger(api());
    await api().terminateLedger(first.id);

    const second = await openLedger(api(), {
      app: first.app,
      ownerId: first.ownerId,
      unit: first.unit,
    });
    expect(second.id).not.toBe(first.id);
    await post(api(), second.id, "SIGNUP_CREDIT");

    const balance = await api().getBalance({
      app: first.app,
      ownerId: first.ownerId,
      unit: first.unit,
    });
    expect(balance).toEqual({
      ledgerId: second.id,
      balance: 3n,
      unit: first.unit,
      version: 1n,
      pendingDebits: 0n,
      pendingCredits: 0n,
      available: 3n,
    });
    expect((await api().getLedger(first.id)).status).toBe("TERMINATED");
  });
});
