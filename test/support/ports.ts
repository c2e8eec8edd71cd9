/**
 * Local ports for specs: one that was free a moment ago (a process started on
 * it, or restarted on the same one, can take it), and a database URL on such a
 * port, where nothing answers.
 */
import { createServer } from "node:net";

/** A local port with nothing listening now: its probe socket is already closed. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") {
    throw new Error("could not read the port of a probe socket");
  }
  return address.port;
}

/** A PostgreSQL URL for `database` on a local port where no server listens. */
export async function unreachableDatabaseUrl(database: string): Promise<string> {
  return `postgres://postgres:postgres@127.0.0.1:${await freePort()}/${database}`;
}
