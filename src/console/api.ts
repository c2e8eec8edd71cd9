import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { type Entry, LedgerService } from "../../gen/ledger/v1/ledger_pb.js";

export type LedgerApi = ReturnType<typeof createClient<typeof LedgerService>>;

/** What the calls know of the tab's sign-in. */
export interface ApiSession {
  /** The bearer token to send, read on every call. */
  token(): string | undefined;
  /** Told after each call that succeeded, and whether it carried a token. */
  succeeded(withToken: boolean): void;
}

/**
 * Calls go to the server that served the page, over the Connect protocol
 * (JSON), each with the session's current token as `authorization: Bearer`.
 */
export function createLedgerApi(baseUrl: string, session: ApiSession): LedgerApi {
  return createClient(
    LedgerService,
    createConnectTransport({ baseUrl, interceptors: [bearerInterceptor(session)] }),
  );
}

/** Sends the token in a header (never in the URL), and reports each call that succeeded. */
function bearerInterceptor(session: ApiSession): Interceptor {
  return (next) => async (request) => {
    const token = session.token();
    if (token !== undefined) {
      request.header.set("authorization", `Bearer ${token}`);
    }
    const response = await next(request);
    session.succeeded(token !== undefined);
    return response;
  };
}

/**
 * A fresh idempotency key per user action: a double click or a retry after a
 * network failure sends the same key only when the caller reuses it.
 */
export function newIdempotencyKey(action: string): string {
  return `console-${action}-${crypto.randomUUID()}`;
}

/** A ledger's latest entries, newest first as ListEntries returns them. */
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
  api: LedgerApi,
  ledgerId: string,
  limit: number,
): Promise<LatestEntries> {
  const entries: Entry[] = [];
  let pageToken = "";
  let read = 0;
  do {
    const page = await api.listEntries({ ledgerId, pageSize: limit - entries.length, pageToken });
    entries.push(...page.entries);
    pageToken = page.nextPageToken;
    read = page.entries.length;
  } while (pageToken !== "" && read > 0 && entries.length < limit);
  return { entries, truncated: pageToken !== "" };
}
