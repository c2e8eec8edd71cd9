import pino from "pino";
import { openStore } from "./postgres-ledger-store.js";
import { resolveDatabaseOrExit } from "./resolve-database.js";

/**
 * `npm run expire`: one expiry sweep of the database the server would use
 * (DATABASE_URL, or the embedded one in LEDGER_DATA_DIR), the cron job of a
 * deployment that runs the server with EXPIRY_SWEEP_INTERVAL_MS=0. Closes
 * every ledger past its valid_until (holds voided, remainder moved to its
 * expire_to_ledger_id, terminated) and prints one line per ledger closed;
 * exits 0, or 2 when the sweep could not run. Safe beside running servers:
 * each ledger is closed once.
 */
const logger = pino({ name: "expire" }, pino.destination(2));
const database = await resolveDatabaseOrExit(process.env, logger, 2);
let exitCode = 0;
try {
  const store = await openStore({ databaseUrl: database.url });
  try {
    const closed = await store.expireLedgers();
    for (const { ledger, remainingMinor, sweep } of closed) {
      const moved = sweep === undefined ? "nothing moved" : `moved ${sweep.amountMinor}`;
      process.stdout.write(
        `${ledger.id} ${ledger.app} ${ledger.unit}: expired, ${moved} to ${ledger.expireToLedgerId}, ${remainingMinor} left\n`,
      );
    }
    process.stdout.write(`${closed.length} ledger(s) expired\n`);
  } finally {
    await store.close();
  }
} catch (error) {
  logger.error({ err: error }, "the expiry sweep could not run");
  exitCode = 2;
} finally {
  await database.stop();
}
// Explicitly, whatever a library may have left open; once stdout is flushed (a pipe is written asynchronously).
await new Promise((resolve) => process.stdout.write("", resolve));
process.exit(exitCode);
