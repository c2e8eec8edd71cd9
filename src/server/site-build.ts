/**
 * The one rule of the static sites' builds (the console, the API reference):
 * each build records, beside its output directory (not in it: that one is
 * served), the hash of every file that went into it and the bundler's
 * version; a build is current while every one of them is unchanged, so
 * `npm start` rebuilds only when a source changed.
 */
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type BuildOptions, version as esbuildVersion } from "esbuild";

/** How both sites are bundled: one minified ES module for browsers, with the metafile recordBuild reads. */
export const SITE_BUNDLE = {
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"],
  minify: true,
  logLevel: "warning",
  metafile: true,
} as const satisfies BuildOptions;

/** The files a build was made from, with their hashes, and the bundler's version. */
interface BuildRecord {
  readonly esbuild: string;
  readonly inputs: Readonly<Record<string, string>>;
}

/** Records what the build in `outDir` was made of: esbuild's inputs and `extraInputs`. */
export async function recordBuild(
  outDir: string,
  metafileInputs: Readonly<Record<string, unknown>>,
  extraInputs: readonly string[],
): Promise<void> {
  const files = [...Object.keys(metafileInputs).map((file) => resolve(file)), ...extraInputs];
  const record: BuildRecord = { esbuild: esbuildVersion, inputs: await hashes(files) };
  await writeFile(recordFile(outDir), `${JSON.stringify(record, null, 1)}\n`);
}

/** True when `outDir` holds a build (its index.html) whose every input is unchanged. */
export async function buildIsCurrent(outDir: string): Promise<boolean> {
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

/** Builds into `outDir` unless the build there is current. */
export async function buildIfChanged(
  outDir: string,
  build: (outDir: string) => Promise<void>,
): Promise<"built" | "current"> {
  if (await buildIsCurrent(outDir)) {
    return "current";
  }
  await build(outDir);
  return "built";
}

/** A build script's command line: `[outDir] [--if-changed]`; says what it did. */
export async function runBuildCommand(
  args: readonly string[],
  site: { readonly name: string; readonly outDirDefault: string },
  build: (outDir: string) => Promise<void>,
): Promise<void> {
  const outDir = args.find((arg) => !arg.startsWith("--")) ?? site.outDirDefault;
  const outcome = args.includes("--if-changed")
    ? await buildIfChanged(outDir, build)
    : await build(outDir).then(() => "built" as const);
  process.stdout.write(
    outcome === "built"
      ? `${site.name} built into ${outDir}\n`
      : `${site.name} in ${outDir} is up to date\n`,
  );
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
