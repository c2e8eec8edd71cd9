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
import { copyFile, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { buildIfChanged, recordBuild, runBuildCommand, SITE_BUNDLE } from "../server/site-build.js";
import { CONSOLE_DIR_DEFAULT } from "../server/static.js";

const SOURCE_DIR = fileURLToPath(new URL(".", import.meta.url));
/** What a build is made of besides the bundle's own inputs. */
const EXTRA_INPUTS = [join(SOURCE_DIR, "index.html"), fileURLToPath(import.meta.url)];

/** Writes index.html, console.js and console.css (with source maps) into `outDir`, replacing it. */
export async function buildConsole(outDir: string = CONSOLE_DIR_DEFAULT): Promise<void> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const result = await build({
    entryPoints: { console: join(SOURCE_DIR, "main.ts") },
    outdir: outDir,
    ...SITE_BUNDLE,
    sourcemap: "linked",
  });
  await copyFile(join(SOURCE_DIR, "index.html"), join(outDir, "index.html"));
  await recordBuild(outDir, result.metafile.inputs, EXTRA_INPUTS);
}

/** Builds into `outDir` unless the build there is current. */
export function buildConsoleIfChanged(
  outDir: string = CONSOLE_DIR_DEFAULT,
): Promise<"built" | "current"> {
  return buildIfChanged(outDir, buildConsole);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runBuildCommand(
    process.argv.slice(2),
    { name: "web console", outDirDefault: CONSOLE_DIR_DEFAULT },
    buildConsole,
  );
}
