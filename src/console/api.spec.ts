/**
 * The console's client is the SDK's: it sends the tab's token as it stands
 * at each call (none before sign-in or after "forget token"), and tells the
 * session of each call that succeeded, with or without a token; a refusal
 * is no success. latestEntries reads page after page up to its limit.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { base64Encode } from "@bufbuild/protobuf/wire";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { createConsoleClient, latestEntries } from "./api.js";

interface Sent {
  readonly path: string;
  readonly authorization: string | null;
  readonly body: Record<string, unknown>;
}

/** Stubs the page's fetch: `answer` gives each call's HTTP status and JSON body. */
function stubFetch(answer: (sent: Sent) => { status: number; body: unknown }): Sent[] {
  const sent: Sent[] = [];
  vi.stubGlobal("fetch", async (input: RequestInfo | URL, init?: RequestInit) => {
    const call: Sent = {
      path: new URL(String(input)).pathname,
      authorization: new Headers(init?.headers).get("authorization"),
      body: JSON.parse(new TextDecoder().decode(init?.body as Uint8Array)) as Record<
        string,
        unknown
      >,
    };
    sent.push(call);
    const { status, body } = answer(call);
    return new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json" },
    });
  });
  return sent;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("createConsoleClient", () => {
  it("sends the token current at each call, and reports each success with whether it had one", async () => {
    const sent = stubFetch(() => ({ status: 200, body: { ledger: { id: "l1" } } }));
    let token: string | undefined;
    const successes: boolean[] = [];
    const client = createConsoleClient("http://console.test", {
      token: () => token,
      succeeded: (withToken) => successes.push(withToken),
    });

    await client.getLedger("l1");
    token = "sl_tab";
    await client.getLedger("l1");
    token = undefined;
    await client.getLedger("l1");

    expect(sent.map((call) => call.authorization)).toEqual([null, "Bearer sl_tab", null]);
    expect(sent[0]?.path).toBe("/ledger.v1.LedgerService/GetLedger");
    expect(successes).toEqual([false, true, false]);
  });

  it("reports no success for a refused call, which rejects with the SDK's typed error", async () => {
    stubFetch(() => ({
      status: 401,
      body: {
        code: "unauthenticated",
        message: "no token",
        details: [
          {
            type: "google.rpc.ErrorInfo",
            value: base64Encode(
              toBinary(
                ErrorInfoSchema,
                create(ErrorInfoSchema, { reason: "TOKEN_MISSING", domain: "ledger.v1" }),
              ),
              "std_raw",
            ),
          },
        ],
      },
    }));
    const successes: boolean[] = [];
    const client = createConsoleClient("http://console.test", {
      token: () => undefined,
      succeeded: (withToken) => successes.push(withToken),
    });
    await expect(client.getLedger("l1")).rejects.toMatchObject({
      name: "TokenMissingError",
      reason: "TOKEN_MISSING",
    });
    expect(successes).toEqual([]);
  });
});

describe("latestEntries", () => {
  it("reads pages until the limit, and says whether older entries remain", async () => {
    const sent = stubFetch(({ body }) => {
      const sequence = body.pageToken === "p2" ? "1" : "3";
      return {
        status: 200,
        body: { entries: [{ sequence }], nextPageToken: body.pageToken === "p2" ? "p3" : "p2" },
      };
    });
    const client = createConsoleClient("http://console.test", {
      token: () => undefined,
      succeeded: () => undefined,
    });

    const latest = await latestEntries(client, "l1", 2);

    expect(latest.entries.map((entry) => entry.sequence)).toEqual([3n, 1n]);
    expect(latest.truncated).toBe(true);
    expect(sent.map((call) => call.body.pageSize)).toEqual([2, 1]);
  });
});
