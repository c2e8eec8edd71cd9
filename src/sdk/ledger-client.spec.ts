/**
 * createLedgerClient refuses bad options at once (an unknown protocol, a
 * deadline or retry bound out of range), not at the first call.
 */
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
