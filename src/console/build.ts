/**
 * `npm run build:console`: bundles the web console with esbuild into
 * dist/console (or the directory given), which the server serves at "/".
 * No CDN: everything the page loads comes from that directory.
 */
import { copyFile, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { CONSOLE_DIR_DEFAULT } from "../server/static.js";

const SOURCE_DIR = fileURLToPath(new URL(".", import.meta.url));

/** Writes index.html, console.js and console.css (with source maps) into `outDir`, replacing it. */
export async function buildConsole(outDir: string = CONSOLE_DIR_DEFAULT): Promise<void> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: { console: join(SOURCE_DIR, "main.ts") },
    outdir: outDir,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    minify: true,
    sourcemap: "linked",
    logLevel: "warning",
  });
  await copyFile(join(SOURCE_DIR, "index.html"), join(outDir, "index.html"));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outDir = process.argv[2] ?? CONSOLE_DIR_DEFAULT;
  await buildConsole(outDir);
  process.stdout.write(`web console built into ${outDir}\n`);
}
