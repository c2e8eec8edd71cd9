/**
 * The console's one client: the SDK package's LedgerClient over the Connect
 * protocol (JSON, readable in devtools), to the server that served the page.
 */
import { createLedgerClient, type Entry, type LedgerClient } from "@shared-ledger/client";

/** What the calls know of the tab's sign-in. */
export interface ApiSession {
  /** The bearer token to send, read before every request: the user may sign in or out at any time. */
  token(): string | undefined;
  /** Told after each call that the server answered, and whether it carried a token. */
  succeeded(withToken: boolean): void;
}

/**
 * The SDK client for `baseUrl`, with the session's current token. The page's
 * fetch is wrapped only to watch the answers: a call that succeeded without
 * a token tells the sign-in that the server runs in development mode, and
 * one that succeeded at all tells an action refused for its token later
 * that it already changed something (see main.ts).
 */
export function createConsoleClient(baseUrl: string, session: ApiSession): LedgerClient {
  return createLedgerClient({
    baseUrl,
    protocol: "connect",
    token: () => session.token(),
    fetch: observingFetch(session),
  });
}

/**
 * The browser's fetch, reporting each success: a Connect call answers 200
 * exactly when it succeeded (a stream: when it opened), and the request's
 * headers say whether the SDK sent a token.
 */
function observingFetch(session: ApiSession): typeof globalThis.fetch {
  return async (input, init) => {
    const response = await globalThis.fetch(input, init);
    if (response.ok) {
      session.succeeded(new Headers(init?.headers).has("authorization"));
    }
    return response;
  };
}

/**
 * A fresh idempotency key per user action (console-<action>-<uuid>), so a
 * key read back from a transaction names where it came from; the SDK reuses
 * it across its retries of that call.
 */
export function newIdempotencyKey(action: string): string {
  return `console-${action}-${crypto.randomUUID()}`;
}

/** A ledger's latest entries, newest first as listEntries returns them. */
export interface LatestEntries {
  readonly entries: readonly Entry[];
  /** Older entries exist beyond the ones read. */
  readonly truncated: boolean;
}

/**
 * Reads at most `limit` of the ledger's entries in history order, newest
 * first, page after page: the server may cap a page below what is asked.
 */
export async function latestEntries(
  client: LedgerClient,
  ledgerId: string,
  limit: number,
): Promise<LatestEntries> {
  const entries: Entry[] = [];
  let pageToken = "";
  let read = 0;
  do {
    const page = await client.listEntries({
      ledgerId,
      pageSize: limit - entries.length,
      pageToken,
    });
    entries.push(...page.entries);
    pageToken = page.nextPageToken;
    read = page.entries.length;
  } while (pageToken !== "" && read > 0 && entries.length < limit);
  return { entries, truncated: pageToken !== "" };
}
