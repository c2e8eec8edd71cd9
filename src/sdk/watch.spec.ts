/**
 * watchEvents tells its caller about each reconnect (`onReconnect`), with
 * the failure and the backoff it waits, before resuming from the last
 * cursor; a refusal that retrying cannot cure is thrown, not announced.
 */
import { create } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  EntrySchema,
  type LedgerService,
  type WatchEntriesRequest,
  type WatchEntriesResponse,
  WatchEntriesResponseSchema,
} from "../../gen/ledger/v1/ledger_pb.js";
import type { LedgerRpcError } from "./errors.js";
import { resolveRetryPolicy } from "./retry.js";
import { type WatchEvent, watchEvents } from "./watch.js";

const checkpoint = (cursor: string) => create(WatchEntriesResponseSchema, { cursor });
const entry = (cursor: string, sequence: bigint) =>
  create(WatchEntriesResponseSchema, {
    cursor,
    event: { case: "entry", value: create(EntrySchema, { sequence }) },
  });

/** A service whose successive WatchEntries streams send `messages`, then fail with `failure` if any. */
function fakeService(streams: { messages: WatchEntriesResponse[]; failure?: ConnectError }[]) {
  const requests: WatchEntriesRequest[] = [];
  const rpc = {
    async *watchEntries(request: WatchEntriesRequest) {
      requests.push(request);
      const stream = streams.shift();
      if (stream === undefined) {
        return;
      }
      yield* stream.messages;
      if (stream.failure !== undefined) {
        throw stream.failure;
      }
    },
  } as unknown as Client<typeof LedgerService>;
  return { rpc, requests };
}

const policy = resolveRetryPolicy({ backoffMsInitial: 1, backoffMsMax: 1 });

async function collect(events: AsyncIterable<WatchEvent>): Promise<string[]> {
  const kinds: string[] = [];
  for await (const event of events) {
    kinds.push(`${event.kind}@${event.cursor}`);
  }
  return kinds;
}

describe("watchEvents onReconnect", () => {
  it("is told of a lost stream and its backoff, then the stream resumes from the cursor", async () => {
    const { rpc, requests } = fakeService([
      {
        messages: [checkpoint("c0"), entry("c1", 1n)],
        failure: new ConnectError("gone", Code.Unavailable),
      },
      { messages: [checkpoint("c1"), entry("c2", 2n)] },
    ]);
    const reconnects: { reason: string; code: Code; delayMs: number }[] = [];
    const onReconnect = (failure: LedgerRpcError, delayMs: number) =>
      reconnects.push({ reason: String(failure.reason), code: failure.code, delayMs });

    const kinds = await collect(
      watchEvents({ rpc, policy }, { ledgerId: "l1" }, { fromSequence: 0n, onReconnect }),
    );

    expect(kinds).toEqual(["checkpoint@c0", "entry@c1", "checkpoint@c1", "entry@c2"]);
    expect(reconnects).toEqual([
      { reason: "undefined", code: Code.Unavailable, delayMs: expect.any(Number) },
    ]);
    expect(reconnects[0]?.delayMs).toBeLessThanOrEqual(1);
    expect(requests.map((request) => request.cursor)).toEqual(["", "c1"]);
  });

  it("is not told of a refusal, which ends the iteration with its error", async () => {
    const { rpc } = fakeService([
      { messages: [], failure: new ConnectError("no such ledger", Code.NotFound) },
    ]);
    const reconnects: LedgerRpcError[] = [];
    const events = watchEvents(
      { rpc, policy },
      { ledgerId: "l1" },
      { onReconnect: (failure) => reconnects.push(failure) },
    );
    await expect(collect(events)).rejects.toMatchObject({ code: Code.NotFound });
    expect(reconnects).toEqual([]);
  });
});
