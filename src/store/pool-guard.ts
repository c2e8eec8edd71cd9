import type { Pool, PoolClient } from "pg";

type Release = PoolClient["release"];

/**
 * kysely (under MikroORM) hands a transaction's connection back to the pool
 * only after a COMMIT or ROLLBACK succeeds. When the server drops the
 * connection mid-transaction (a restart, a failover, a killed backend) the
 * ROLLBACK fails too, the connection is never handed back, and the pool loses
 * a slot for good: a few such events starve every later call, and
 * `pool.end()` waits forever.
 *
 * This hands a checked-out connection back, as broken, as soon as it ends,
 * and makes a second hand-back of the same checkout harmless.
 */
export function releaseEndedConnections(pool: Pool): void {
  pool.on("connect", (client: PoolClient) => {
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
  });
}
