/**
 * One real server for an SDK spec file, and SDK clients of it over any
 * protocol, each closed after the file's last test (before the server).
 */
import { afterAll } from "vitest";
import {
  createLedgerClient,
  type LedgerClient,
  type LedgerRpcError,
  type Protocol,
} from "../../src/sdk/index.js";
import { useLedgerServer } from "../support/server.js";

export function useSdkClients(): (protocol: Protocol) => LedgerClient {
  const harness = useLedgerServer();
  const clients: LedgerClient[] = [];
  afterAll(() => {
    for (const client of clients) {
      client.close();
    }
  });
  return (protocol) => {
    const client = createLedgerClient({ baseUrl: harness.server().url, protocol });
    clients.push(client);
    return client;
  };
}

/** An item of a bulk call: made or recorded, or refused with its typed error. */
type BulkItem = { readonly ok: true } | { readonly ok: false; readonly error: LedgerRpcError };

/** An item of a bulk call that must have succeeded. */
export function okItem<I extends BulkItem>(item: I | undefined): Extract<I, { ok: true }> {
  if (item?.ok !== true) {
    throw new Error(`expected a successful item, got ${item?.error.message ?? "nothing"}`);
  }
  return item as Extract<I, { ok: true }>;
}

/** The error of an item of a bulk call that must have been refused. */
export function refusedItem(item: BulkItem | undefined): LedgerRpcError {
  if (item?.ok !== false) {
    throw new Error("expected a refused item, got a successful one");
  }
  return item.error;
}

/** What a call that must fail rejects with. */
export async function rejection(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => {
      throw new Error("the call should have failed");
    },
    (error: unknown) => error,
  );
}
