/**
 * One real server for an SDK spec file, and SDK clients of it over any
 * protocol, each closed after the file's last test (before the server).
 */
import { afterAll } from "vitest";
import { createLedgerClient, type LedgerClient, type Protocol } from "../../src/sdk/index.js";
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
