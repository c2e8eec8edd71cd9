/**
 * The console shows a failure by its ledger.v1 reason and the server's
 * message; for the hold and time reasons its own controls lead to (or
 * that a page left open meets), and for the access refusals, it adds what
 * the user can do about it. A missing or refused token asks for a token.
 * The failures are what the SDK client rejects with: LedgerRpcErrors
 * decoded by toLedgerRpcError from the server's ErrorInfo.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type LedgerRpcError, toLedgerRpcError } from "@shared-ledger/client";
import { describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { asksForToken, describeError } from "./errors.js";
import { AmountSyntaxError } from "./format.js";

/** A refusal as the SDK client rejects with it: the server's ErrorInfo decoded. */
function refused(reason: string, message: string): LedgerRpcError {
  const info = create(ErrorInfoSchema, { reason, domain: "ledger.v1" });
  return toLedgerRpcError(
    new ConnectError(message, Code.FailedPrecondition, undefined, [
      { desc: ErrorInfoSchema, value: info },
    ]),
  );
}

/** The SDK's message of a FAILED_PRECONDITION: the server's, after the code. */
const failedPrecondition = (message: string) => `[failed_precondition] ${message}`;

describe("describeError", () => {
  it("shows the reason and the server's message, with no advice for most reasons", () => {
    expect(describeError(refused("INSUFFICIENT_FUNDS", "below the floor"))).toEqual({
      reason: "INSUFFICIENT_FUNDS",
      message: failedPrecondition("below the floor"),
    });
  });

  it.each([
    ["HOLD_NOT_PENDING", /already posted, voided or expired/],
    ["HOLD_EXPIRED", /passed its expiry/],
    ["HOLD_AMOUNT_EXCEEDED", /at most the amount held/],
    ["LEDGER_HAS_PENDING_TRANSACTIONS", /void open holds/],
    ["LEDGER_EXPIRED", /valid until has passed/],
    ["LEDGER_NOT_YET_VALID", /from its valid from on/],
    ["BACKDATE_TOO_FAR", /backdate it less far/],
    ["TOKEN_MISSING", /sign in with one/],
    ["TOKEN_INVALID", /refused .*enter another/],
    ["ROLE_NOT_PERMITTED", /creating or terminating ledgers needs an admin token/],
    ["APP_NOT_PERMITTED", /belongs to another app/],
    ["UNKNOWN_APP", /pick one of the listed apps/],
  ])("adds advice to %s", (reason, hint) => {
    expect(describeError(refused(reason, "refused"))).toEqual({
      reason,
      message: failedPrecondition("refused"),
      hint: expect.stringMatching(hint),
    });
  });

  it("asks for a token on TOKEN_MISSING and TOKEN_INVALID only", () => {
    expect(asksForToken(describeError(refused("TOKEN_MISSING", "no token")))).toBe(true);
    expect(asksForToken(describeError(refused("TOKEN_INVALID", "unknown")))).toBe(true);
    expect(asksForToken(describeError(refused("ROLE_NOT_PERMITTED", "reader")))).toBe(false);
    const bare = toLedgerRpcError(new ConnectError("no", Code.Unauthenticated));
    expect(asksForToken(describeError(bare))).toBe(false);
  });

  it("names the code when there is no ledger reason, and reads a typo'd amount as INVALID_AMOUNT", () => {
    const down = toLedgerRpcError(new ConnectError("down", Code.Unavailable));
    expect(describeError(down).reason).toBe("UNAVAILABLE");
    expect(describeError(new AmountSyntaxError("no")).reason).toBe("INVALID_AMOUNT");
  });
});
