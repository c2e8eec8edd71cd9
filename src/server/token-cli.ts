/**
 * `npm run token -- --app content --role writer`: makes a new bearer token
 * for one declared app and one role. Prints the token (shown once: the
 * server keeps only its SHA-256) and the line that admits it, for
 * LEDGER_TOKENS_FILE or LEDGER_TOKENS. Exits 2 on a bad argument.
 *
 * With `--json` it prints
 * one JSON object {app, role, token, line}, for scripts.
 */
import { parseArgs } from "node:util";
import { DECLARED_APPS, ROLES, type Role } from "../rpc/index.js";
import { newToken } from "./credentials.js";

const USAGE = `usage: npm run token -- --app <${DECLARED_APPS.join("|")}> --role <${ROLES.join("|")}> [--json]`;

function fail(problem: string): never {
  process.stderr.write(`${problem}\n${USAGE}\n`);
  process.exit(2);
}

function readArgs(): { app: string; role: Role; json: boolean } {
  let values: { app?: string | undefined; role?: string | undefined; json?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      options: {
        app: { type: "string" },
        role: { type: "string" },
        json: { type: "boolean" },
      },
      strict: true,
    }));
  } catch (error) {
    fail((error as Error).message);
  }
  const { app, role, json = false } = values;
  if (app === undefined || !DECLARED_APPS.includes(app)) {
    fail(
      `--app: expected one of the declared apps (${DECLARED_APPS.join(", ")}), got ${app ?? "nothing"}`,
    );
  }
  const known = ROLES.find((candidate) => candidate === role);
  if (known === undefined) {
    fail(`--role: expected one of ${ROLES.join(", ")}, got ${role ?? "nothing"}`);
  }
  return { app, role: known, json };
}

const { app, role, json } = readArgs();
const { token, line } = newToken(app, role);
process.stdout.write(
  json
    ? `${JSON.stringify({ app, role, token, line })}\n`
    : [
        `A new ${role} token for app "${app}". Give it to the app now: it is not stored anywhere, the server keeps only its hash.`,
        "",
        `  ${token}`,
        "",
        "Add this line to LEDGER_TOKENS_FILE (or, comma-separated, to LEDGER_TOKENS), then send the server SIGHUP or restart it:",
        "",
        `  ${line}`,
        "",
        "Clients send it as the header  authorization: Bearer <token>",
        "",
      ].join("\n"),
);
