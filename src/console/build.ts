/**
 * `npm run build:console`: bundles the web console with esbuild into
 * dist/console (or the directory given), which the server serves at "/".
 * No CDN: everything the page loads comes from that directory.
 *
 * With `--if-changed` (and in `npm start`, through buildConsoleIfChanged) an
 * existing build is kept when none of its inputs changed: each build records
 * the hash of every file that went into it beside the output directory (not
 * in it: that one is served).
 */
import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, version as esbuildVersion } from "esbuild";
import { CONSOLE_DIR_DEFAULT } from "../server/static.js";

const SOURCE_DIR = fileURLToPath(new URL(".", import.meta.url));
/** What a build is made of besides the bundle's own inputs. */
const EXTRA_INPUTS = [join(SOURCE_DIR, "index.html"), fileURLToPath(import.meta.url)];

/** The files a build was made from, with their hashes, and the bundler's version. */
interface BuildRecord {
  readonly esbuild: string;
  readonly inputs: Readonly<Record<string, string>>;
}

/** Writes index.html, console.js and console.css (with source maps) into `outDir`, replacing it. */
export async function buildConsole(outDir: string = CONSOLE_DIR_DEFAULT): Promise<void> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const result = await build({
    entryPoints: { console: join(SOURCE_DIR, "main.ts") },
    outdir: outDir,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    minify: true,
    sourcemap: "linked",
    logLevel: "warning",
    metafile: true,
  });
  await copyFile(join(SOURCE_DIR, "index.html"), join(outDir, "index.html"));
  const files = [
    ...Object.keys(result.metafile.inputs).map((file) => resolve(file)),
    ...EXTRA_INPUTS,
  ];
  const record: BuildRecord = { esbuild: esbuildVersion, inputs: await hashes(files) };
  await writeFile(recordFile(outDir), `${JSON.stringify(record, null, 1)}\n`);
}

/** True when `outDir` holds a build whose every input is unchanged. */
export async function consoleIsCurrent(outDir: string = CONSOLE_DIR_DEFAULT): Promise<boolean> {
  let record: BuildRecord;
  try {
    record = JSON.parse(await readFile(recordFile(outDir), "utf8")) as BuildRecord;
    await readFile(join(outDir, "index.html"));
  } catch {
    return false;
  }
  if (record.esbuild !== esbuildVersion) {
    return false;
  }
  const now = await hashes(Object.keys(record.inputs)).catch(() => undefined);
  return (
    now !== undefined && Object.entries(record.inputs).every(([file, hash]) => now[file] === hash)
  );
}

/** Builds the console into `outDir` unless the build there is current. */
export async function buildConsoleIfChanged(
  outDir: string = CONSOLE_DIR_DEFAULT,
): Promise<"built" | "current"> {
  if (await consoleIsCurrent(outDir)) {
    return "current";
  }
  await buildConsole(outDir);
  return "built";
}

function recordFile(outDir: string): string {
  return `${resolve(outDir)}.inputs.json`;
}

async function hashes(files: readonly string[]): Promise<Record<string, string>> {
  const entries = await Promise.all(
    files.map(async (file) => {
      const digest = createHash("sha256")
        .update(await readFile(file))
        .digest("hex");
      return [file, digest] as const;
    }),
  );
  return Object.fromEntries(entries);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const outDir = args.find((arg) => !arg.startsWith("--")) ?? CONSOLE_DIR_DEFAULT;
  let outcome: "built" | "current" = "built";
  if (args.includes("--if-changed")) {
    outcome = await buildConsoleIfChanged(outDir);
  } else {
    await buildConsole(outDir);
  }
  process.stdout.write(
    outcome === "built"
      ? `web console built into ${outDir}\n`
      : `web console in ${outDir} is up to date\n`,
  );
}
