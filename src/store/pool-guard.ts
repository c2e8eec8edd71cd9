import type { Pool, PoolClient } from "pg";

type Release = PoolClient["release"];

/** pg gave up waiting for an answer (query_timeout): the server is frozen or cut off. */
export function isQueryReadTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === "Query read timeout";
}

/**
 * Keeps the pool's slots honest when connections go bad while checked out.
 *
 * kysely (under MikroORM) hands a transaction's connection back to the pool
 * only after a COMMIT or ROLLBACK succeeds. When the server drops the
 * connection mid-transaction (a restart, a failover, a killed backend) the
 * ROLLBACK fails too, the connection is never handed back, and the pool loses
 * a slot for good: a few such events starve every later call, and
 * `pool.end()` waits forever. So a checked-out connection that ends is handed
 * back, as broken, at once, and a second hand-back of the same checkout is
 * harmless.
 *
 * A server that stops answering without closing the connection (frozen, or
 * cut off by the network) is bounded by pg's `query_timeout`, which rejects
 * the query but leaves it active on its connection: every later query there
 * (the ROLLBACK) would queue behind it forever. So a read timeout ends the
 * connection, which the first rule then hands back.
 */
export function guardPoolConnections(pool: Pool): void {
  pool.on("connect", (client: PoolClient) => {
    handBackWhenEnded(client);
    endOnReadTimeout(client);
  });
}

function handBackWhenEnded(client: PoolClient): void {
  let release: Release | undefined;
  // pg-pool assigns `client.release` on every checkout; wrap each one.
  Object.defineProperty(client, "release", {
    configurable: true,
    enumerable: true,
    get: () => release,
    set: (poolRelease: Release) => {
      let released = false;
      release = (error) => {
        if (released) {
          return;
        }
        released = true;
        poolRelease(error);
      };
    },
  });
  client.on("end", () => {
    release?.(new Error("the connection ended while checked out"));
  });
}

type LooseQuery = (...args: unknown[]) => unknown;

function endOnReadTimeout(client: PoolClient): void {
  const query = client.query.bind(client) as LooseQuery;
  const endIfTimedOut = (error: unknown): void => {
    if (isQueryReadTimeout(error)) {
      // With a query still active, end() destroys the socket rather than waiting.
      client.end().catch(() => {});
    }
  };
  const guarded: LooseQuery = (...args) => {
    const callback = args.at(-1);
    if (typeof callback === "function") {
      args[args.length - 1] = (error: unknown, result: unknown) => {
        endIfTimedOut(error);
        callback(error, result);
      };
      return query(...args);
    }
    const result = query(...args);
    if (result instanceof Promise) {
      result.catch(endIfTimedOut);
    }
    return result;
  };
  (client as unknown as { query: LooseQuery }).query = guarded;
}
