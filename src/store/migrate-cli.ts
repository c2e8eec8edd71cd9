import pino from "pino";
import { migrate } from "./migrate.js";
import { resolveDatabase } from "./resolve-database.js";

/** `npm run migrate`: the database the server would use, migrated, then stopped. */
const logger = pino({ name: "migrate" });
const log = (message: string, fields?: object) => logger.info(fields ?? {}, message);

const database = await resolveDatabase(process.env, log);
try {
  await migrate(database.url);
  log("migrations applied");
} catch (error) {
  logger.error({ err: error }, "migration failed");
  process.exitCode = 1;
} finally {
  await database.stop();
}
