import pino from "pino";
import { migrate } from "./migrate.js";
import { resolveDatabaseOrExit } from "./resolve-database.js";

/** `npm run migrate`: the database the server would use, migrated, then stopped. */
const logger = pino({ name: "migrate" });
const database = await resolveDatabaseOrExit(process.env, logger, 1);
let exitCode = 0;
try {
  await migrate(database.url);
  logger.info("migrations applied");
} catch (error) {
  logger.error({ err: error }, "migration failed");
  exitCode = 1;
} finally {
  await database.stop();
}
// Explicitly, whatever a library may have left open.
process.exit(exitCode);
