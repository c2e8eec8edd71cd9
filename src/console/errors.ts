/**
 * How the console shows a failure. The SDK decodes it (LedgerRpcError: its
 * code, and the reason of its ErrorInfo); the console adds only its advice.
 */
import { Code } from "@connectrpc/connect";
import { type LedgerRpcError, toLedgerRpcError } from "@shared-ledger/client";
import { AmountSyntaxError } from "./format.js";

export interface ShownError {
  /** The SDK error's reason (INSUFFICIENT_FUNDS...), else its code's name. */
  readonly reason: string;
  readonly message: string;
  /** What the user can do about it, for the reasons the console has advice for. */
  readonly hint?: string;
}

/** Advice for reasons the console's own controls lead to, or that a page left open meets. */
const HINTS: Readonly<Record<string, string>> = {
  HOLD_NOT_PENDING:
    "This hold was already posted, voided or expired: the pending holds list shows the open ones.",
  HOLD_EXPIRED: "This hold passed its expiry and can no longer be posted; it releases its amount.",
  HOLD_AMOUNT_EXCEEDED:
    "Post at most the amount held, or leave the amount empty to post all of it.",
  LEDGER_HAS_PENDING_TRANSACTIONS:
    'This ledger has open holds: post or void them, or tick "void open holds" to terminate anyway.',
  LEDGER_EXPIRED:
    "This ledger's valid until has passed: it takes no more writes, and the expiry sweep moves what is left to its expire-to ledger.",
  LEDGER_NOT_YET_VALID:
    "This ledger's window has not opened yet: it takes writes from its valid from on.",
  BACKDATE_TOO_FAR:
    "A backdated entry may recompute at most 100,000 later entries: backdate it less far, or record it now.",
  TOKEN_MISSING: "This server needs a token: sign in with one.",
  TOKEN_INVALID: "Your token was refused (mistyped, unknown or revoked): enter another.",
  ROLE_NOT_PERMITTED:
    "This token's role cannot do that: recording needs a writer token, and creating or terminating ledgers needs an admin token.",
  APP_NOT_PERMITTED:
    "This token belongs to another app: pick its app, or sign in with a token of this app.",
  UNKNOWN_APP:
    "The server does not declare this app: pick one of the listed apps, or reload the page if the server was updated.",
};

/** The refusals that a token, entered or entered anew, answers. */
const TOKEN_REASONS: ReadonlySet<string> = new Set(["TOKEN_MISSING", "TOKEN_INVALID"]);

/** True when the console should ask for a token: the call had none, or a refused one. */
export function asksForToken(shown: ShownError): boolean {
  return TOKEN_REASONS.has(shown.reason);
}

/**
 * What the console shows for a failure: its stable reason first, then the
 * server's message, then the console's advice when it has some.
 */
export function describeError(error: unknown): ShownError {
  if (error instanceof AmountSyntaxError) {
    return { reason: "INVALID_AMOUNT", message: error.message };
  }
  // The client's calls reject with LedgerRpcError already; anything else
  // (a bug of the page) is shown as the SDK would decode it.
  const failure: LedgerRpcError = toLedgerRpcError(error);
  const reason = failure.reason ?? codeName(failure.code);
  const hint = HINTS[reason];
  return {
    reason,
    message: failure.message,
    ...(hint === undefined ? {} : { hint }),
  };
}

/** "FAILED_PRECONDITION" for Code.FailedPrecondition, as gRPC spells codes. */
function codeName(code: Code): string {
  return (Code[code] ?? "UNKNOWN").replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}
