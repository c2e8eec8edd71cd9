import pino from "pino";
import { migrate } from "./migrate.js";
import { type LogFn, resolveDatabase } from "./resolve-database.js";

/** `npm run migrate`: the database the server would use, migrated, then stopped. */
const logger = pino({ name: "migrate" });
const log: LogFn = (message, fields, level = "info") => logger[level](fields ?? {}, message);

const database = await resolveDatabase(process.env, log).catch((error: unknown) => {
  logger.error({ err: error }, "the database could not be started");
  process.stderr.write(`the database could not be started: ${(error as Error).message}\n`);
  process.exit(1);
});
let exitCode = 0;
try {
  await migrate(database.url);
  log("migrations applied");
} catch (error) {
  logger.error({ err: error }, "migration failed");
  exitCode = 1;
} finally {
  await database.stop();
}
// Explicitly: the pool's idle timers would otherwise keep the process alive a while.
process.exit(exitCode);
