/**
 * recordEntries through the SDK and the real server, over each protocol: one
 * result per item, recorded (recordEntry's shape) or refused with the typed
 * error a recordEntry of that item alone rejects with; an atomic failure
 * rejects with that typed error and its `index`, leaving nothing written;
 * keys are generated once per item and replayed; a request refused as a
 * whole names the item's field. The content app's client takes only its own
 * operations (the server refuses another app's per item).
 */
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  type ContentOperationName,
  type ContentRecordItem,
  createContentClient,
  InsufficientFundsError,
  InvalidArgumentError,
  PROTOCOLS,
  UnknownOperationError,
} from "../../src/sdk/index.js";
import { okItem, refusedItem, rejection, useSdkClients } from "./sdk-clients.js";

const ledgerClient = useSdkClients();

describe.each(PROTOCOLS)("recordEntries over %s", (protocol) => {
  let serial = 0;
  const setup = async () => {
    const client = ledgerClient(protocol);
    const content = createContentClient(client);
    serial += 1;
    const ownerId = `bulk-${protocol}-${serial}`;
    const { ledger } = await content.createLedger({ ownerId, unit: "CREDITS" });
    return { client, content, ledger };
  };

  it("not atomic: each item recorded or refused with its typed error, as recordEntry alone", async () => {
    const { client, ledger } = await setup();
    const key = `given-${randomUUID()}`;
    const items = await client.recordEntries(
      [
        { ledgerId: ledger.id, operation: "CREDIT_ADD", amountMinor: 10n, idempotencyKey: key },
        { ledgerId: ledger.id, operation: "CREDIT_SPEND", amountMinor: -50n },
        { ledgerId: ledger.id, operation: "CREDIT_SPEND", amountMinor: -4n },
      ],
      { atomic: false },
    );

    expect(items.map((item) => item.ok)).toEqual([true, false, true]);
    expect(okItem(items[0])).toMatchObject({
      idempotencyKey: key,
      replayed: false,
      entry: { operation: "CREDIT_ADD", amount: 10n, balanceAfter: 10n },
    });
    expect(okItem(items[2]).entry.balanceAfter).toBe(6n);
    const error = refusedItem(items[1]);
    expect(error).toBeInstanceOf(InsufficientFundsError);
    expect(error).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "INSUFFICIENT_FUNDS",
      ledgerId: ledger.id,
      balanceMinor: 10n,
      amountMinor: -50n,
    });
    expect(items[1]?.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);

    // The same item alone fails with the same class and fields.
    const alone = await rejection(
      client.recordEntry({ ledgerId: ledger.id, operation: "CREDIT_SPEND", amountMinor: -50n }),
    );
    expect(alone).toBeInstanceOf(InsufficientFundsError);
    expect(alone).toMatchObject({ code: error.code, reason: error.reason, amountMinor: -50n });
  });

  it("atomic: the failing item rejects the call with its typed error and index; nothing is written", async () => {
    const { client, ledger } = await setup();
    const items = [
      { ledgerId: ledger.id, operation: "CREDIT_ADD", amountMinor: 3n },
      { ledgerId: ledger.id, operation: "CREDIT_SPEND", amountMinor: -5n },
    ];
    const error = await rejection(client.recordEntries(items, { atomic: true }));
    expect(error).toBeInstanceOf(InsufficientFundsError);
    expect(error).toMatchObject({ index: 1, balanceMinor: 3n, amountMinor: -5n });
    expect((await client.getLedger(ledger.id)).version).toBe(0n);
  });

  it("atomic: every item recorded; the same items again are replayed, keys and entries alike", async () => {
    const { client, ledger } = await setup();
    const items = [
      {
        ledgerId: ledger.id,
        operation: "CREDIT_ADD",
        amountMinor: 7n,
        idempotencyKey: randomUUID(),
      },
      { ledgerId: ledger.id, operation: "DAILY_REWARD", idempotencyKey: randomUUID() },
    ];
    const first = (await client.recordEntries(items, { atomic: true })).map(okItem);
    const again = (await client.recordEntries(items, { atomic: true })).map(okItem);

    expect(
      first.map((item) => [item.entry.amount, item.entry.balanceAfter, item.replayed]),
    ).toEqual([
      [7n, 7n, false],
      [1n, 8n, false],
    ]);
    expect(again.map((item) => item.replayed)).toEqual([true, true]);
    expect(again.map((item) => item.entry.id)).toEqual(first.map((item) => item.entry.id));
    expect(again.map((item) => item.idempotencyKey)).toEqual(items.map((i) => i.idempotencyKey));
    expect((await client.getLedger(ledger.id)).balance).toBe(8n);
  });

  it("a request refused as a whole rejects with InvalidArgumentError naming entries[i]", async () => {
    const { client, ledger } = await setup();
    const error = await rejection(
      client.recordEntries(
        [
          { ledgerId: ledger.id, operation: "CREDIT_ADD" },
          { ledgerId: "not-a-uuid", operation: "CREDIT_ADD" },
        ],
        { atomic: false },
      ),
    );
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ field: "entries[1].ledger_id", index: undefined });
    const empty = await rejection(client.recordEntries([], { atomic: true }));
    expect(empty).toMatchObject({ field: "entries" });
  });

  it("the content app's recordEntries records its operations, defaults included", async () => {
    const { content, ledger } = await setup();
    const items: ContentRecordItem[] = [
      { ledgerId: ledger.id, operation: "CREDIT_ADD", amountMinor: 8n },
      { ledgerId: ledger.id, operation: "CONTENT_CREATION" },
      { ledgerId: ledger.id, operation: "COURSE_ENROLLMENT" as ContentOperationName },
      { ledgerId: ledger.id, operation: "CONTENT_ACCESS", amountMinor: -1n },
    ];
    const results = await content.recordEntries(items, { atomic: false });

    expect(results.map((r) => r.ok)).toEqual([true, true, false, true]);
    expect([0, 1, 3].map((i) => okItem(results[i]).entry.balanceAfter)).toEqual([8n, 3n, 2n]);
    expect(okItem(results[1]).entry.amount).toBe(-5n);
    expect(refusedItem(results[2])).toBeInstanceOf(UnknownOperationError);
    expect(refusedItem(results[2])).toMatchObject({
      operation: "COURSE_ENROLLMENT",
      app: "content",
    });
  });
});
