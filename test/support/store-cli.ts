/**
 * The store's command-line tools as processes: `npm run verify`
 * (src/store/verify-cli.ts) and `npm run migrate` (src/store/migrate-cli.ts).
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface CliOutcome {
  readonly code: number | null;
  readonly stdout: string;
}

/** Runs the audit on `databaseUrl`; its exit code and what it printed on stdout. */
export function runVerifyCli(databaseUrl: string): Promise<CliOutcome> {
  return runStoreCli("src/store/verify-cli.ts", databaseUrl);
}

export function runMigrateCli(databaseUrl: string): Promise<CliOutcome> {
  return runStoreCli("src/store/migrate-cli.ts", databaseUrl);
}

async function runStoreCli(script: string, databaseUrl: string): Promise<CliOutcome> {
  const child = spawn(`${ROOT}node_modules/.bin/tsx`, [script], {
    cwd: ROOT,
    env: {
      PATH: `${ROOT}node_modules/.bin:${process.env.PATH ?? ""}`,
      DATABASE_URL: databaseUrl,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  child.stderr?.resume();
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { code, stdout };
}
