import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";

export type LedgerApi = ReturnType<typeof createClient<typeof LedgerService>>;

/** Calls go to the server that served the page, over the Connect protocol (JSON). */
export function createLedgerApi(baseUrl: string): LedgerApi {
  return createClient(LedgerService, createConnectTransport({ baseUrl }));
}

/**
 * A fresh idempotency key per user action: a double click or a retry after a
 * network failure sends the same key only when the caller reuses it.
 */
export function newIdempotencyKey(action: string): string {
  return `console-${action}-${crypto.randomUUID()}`;
}
