/**
 * A request whose body is not valid protobuf is answered INVALID_ARGUMENT,
 * and its one log line says so too (at info level, with the decoder's
 * message), not "internal" at error level as if the server had failed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PlumbingServer, startPlumbingServer } from "./harness.js";
import { rpcLines } from "./log-capture.js";

let s: PlumbingServer;
beforeAll(async () => {
  s = await startPlumbingServer();
});
afterAll(async () => {
  await s?.close();
});

describe("the call log of an undecodable request", () => {
  it("logs the INVALID_ARGUMENT the client received", async () => {
    const response = await fetch(`${s.url}/ledger.v1.LedgerService/GetLedger`, {
      method: "POST",
      headers: { "content-type": "application/proto", "x-request-id": "log-malformed" },
      body: new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
    });
    const body = (await response.json()) as { code: string; message: string };
    expect(body.code).toBe("invalid_argument");
    const lines = rpcLines(s.log.lines()).filter((line) => line.request_id === "log-malformed");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      method: "ledger.v1.LedgerService/GetLedger",
      code: "invalid_argument",
      level: 30,
      error_message: body.message,
    });
  });
});
