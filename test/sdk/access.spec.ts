/**
 * The SDK and the generated app clients with tokens, over gRPC, Connect and
 * gRPC-Web against a server that requires them: the token option opens the
 * door, and each refusal arrives as its typed error with its fields.
 */
import { afterAll, describe, expect, it } from "vitest";
import {
  AppNotPermittedError,
  createContentClient,
  createLedgerClient,
  type LedgerClient,
  PROTOCOLS,
  type Protocol,
  RoleNotPermittedError,
  TokenInvalidError,
  TokenMissingError,
  UnknownAppError,
} from "../../src/sdk/index.js";
import { newToken } from "../../src/server/credentials.js";
import { uniqueOwner } from "../support/fixtures.js";
import { useLedgerServer } from "../support/server.js";
import { rejection } from "./sdk-clients.js";

const ADMIN = newToken("content", "admin");
const READER = newToken("content", "reader");
const harness = useLedgerServer({ LEDGER_TOKENS: `${ADMIN.line},${READER.line}` });

const clients: LedgerClient[] = [];
function client(protocol: Protocol, token?: string): LedgerClient {
  const opened = createLedgerClient({ baseUrl: harness.server().url, protocol, token });
  clients.push(opened);
  return opened;
}
afterAll(() => {
  for (const opened of clients) {
    opened.close();
  }
});

describe.each(PROTOCOLS)("over %s", (protocol) => {
  it("a generated app client with an admin token opens a ledger and records", async () => {
    const content = createContentClient(client(protocol, ADMIN.token));
    const { ledger } = await content.createLedger({ ownerId: uniqueOwner("sdk"), unit: "CREDITS" });
    const { entry } = await content.signupCredit(ledger.id);
    expect(entry.balanceAfter).toBe(3n);
    const reader = createContentClient(client(protocol, READER.token));
    expect((await reader.getBalance(ledger.ownerId, "CREDITS")).balance).toBe(3n);
  });

  it("refuses with typed errors: no token, a wrong one, a role too low, another app, an undeclared app", async () => {
    const request = { app: "content", ownerId: uniqueOwner("sdk"), unit: "CREDITS" };
    expect(await rejection(client(protocol).createLedger(request))).toBeInstanceOf(
      TokenMissingError,
    );
    const wrong = client(protocol, newToken("content", "admin").token);
    expect(await rejection(wrong.createLedger(request))).toBeInstanceOf(TokenInvalidError);

    const role = await rejection(client(protocol, READER.token).createLedger(request));
    expect(role).toBeInstanceOf(RoleNotPermittedError);
    expect(role).toMatchObject({ role: "reader", requiredRole: "admin" });

    const admin = client(protocol, ADMIN.token);
    const app = await rejection(admin.listLedgers({ app: "learning" }));
    expect(app).toBeInstanceOf(AppNotPermittedError);
    expect(app).toMatchObject({ app: "learning", callerApp: "content" });

    const unknown = await rejection(admin.listLedgers({ app: "giftcards" }));
    expect(unknown).toBeInstanceOf(UnknownAppError);
    expect(unknown).toMatchObject({ app: "giftcards", declaredApps: ["content", "learning"] });
  });
});

it("refuses a token that could not be a header value", () => {
  expect(() =>
    createLedgerClient({ baseUrl: "http://localhost", protocol: "connect", token: "a\nb" }),
  ).toThrow(TypeError);
});
