/**
 * createLedgerClient refuses bad options at once (an unknown protocol, a
 * deadline or retry bound out of range), not at the first call; a token
 * given as a function is asked for at every request.
 */
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createLedgerClient } from "./ledger-client.js";
import type { Protocol } from "./transport.js";

const baseUrl = "http://127.0.0.1:1";

describe("createLedgerClient options", () => {
  it("accepts each protocol and refuses any other", () => {
    for (const protocol of ["grpc", "connect", "grpc-web"] as const) {
      const client = createLedgerClient({ baseUrl, protocol });
      expect(client.protocol).toBe(protocol);
      client.close();
    }
    expect(() => createLedgerClient({ baseUrl, protocol: "http" as Protocol })).toThrow(
      /protocol must be one of grpc, connect, grpc-web, got http/,
    );
  });

  it("refuses a deadline or retry bound out of range", () => {
    expect(() => createLedgerClient({ baseUrl, protocol: "connect", timeoutMs: 0 })).toThrow(
      RangeError,
    );
    expect(() => createLedgerClient({ baseUrl, protocol: "connect", timeoutMs: 600_001 })).toThrow(
      /timeoutMs/,
    );
    expect(() =>
      createLedgerClient({ baseUrl, protocol: "connect", retry: { attemptsMax: 100 } }),
    ).toThrow(/attemptsMax/);
  });
});

/** A fetch that answers every Connect call with an empty ledger, and keeps each authorization header sent. */
function recordingFetch(): { fetch: typeof globalThis.fetch; authorizations: (string | null)[] } {
  const authorizations: (string | null)[] = [];
  const fetch: typeof globalThis.fetch = async (_input, init) => {
    authorizations.push(new Headers(init?.headers).get("authorization"));
    return new Response(JSON.stringify({ ledger: { id: "l1" } }), {
      status: 200,
      headers: { "content-type": "application/json" },
    });
  };
  return { fetch, authorizations };
}

describe("createLedgerClient token", () => {
  it("asks a token function at every call, and sends none while it returns undefined or empty", async () => {
    const { fetch, authorizations } = recordingFetch();
    let current: string | undefined;
    const client = createLedgerClient({
      baseUrl,
      protocol: "connect",
      fetch,
      token: () => current,
    });
    await client.getLedger("l1");
    current = "sl_first";
    await client.getLedger("l1");
    current = "sl_second ";
    await client.getLedger("l1");
    current = "";
    await client.getLedger("l1");
    expect(authorizations).toEqual([null, "Bearer sl_first", "Bearer sl_second", null]);
  });

  it("refuses a function's token that could not be a header value, as INVALID_ARGUMENT, unsent", async () => {
    const { fetch, authorizations } = recordingFetch();
    const client = createLedgerClient({ baseUrl, protocol: "connect", fetch, token: () => "a\nb" });
    await expect(client.getLedger("l1")).rejects.toMatchObject({
      code: Code.InvalidArgument,
      message: expect.stringMatching(/single-line/),
    });
    expect(authorizations).toEqual([]);
  });
});
