import pino from "pino";
import { resolveDatabaseOrExit } from "./resolve-database.js";
import { verifyInvariants } from "./verify.js";

/**
 * `npm run verify`: audits every ledger of the database the server would use
 * (DATABASE_URL, or the embedded one in LEDGER_DATA_DIR). Prints each breach
 * on stdout, one per line; exits 1 on any breach, 2 when the audit itself
 * could not run, 0 when every invariant holds.
 */
const logger = pino({ name: "verify" }, pino.destination(2));
const database = await resolveDatabaseOrExit(process.env, logger, 2);
let exitCode = 0;
try {
  const breaches = await verifyInvariants(database.url);
  for (const breach of breaches) {
    process.stdout.write(`${breach.check} ${breach.subjectId}: ${breach.detail}\n`);
  }
  if (breaches.length > 0) {
    process.stdout.write(`${breaches.length} invariant breach(es) found\n`);
    exitCode = 1;
  } else {
    process.stdout.write("every invariant holds\n");
  }
} catch (error) {
  logger.error({ err: error }, "the audit could not run");
  exitCode = 2;
} finally {
  await database.stop();
}
// Explicitly, whatever a library may have left open.
process.exit(exitCode);
