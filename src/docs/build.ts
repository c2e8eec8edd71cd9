/**
 * `npm run build:docs`: bundles the API reference page (Swagger UI from npm's
 * swagger-ui-dist, src/docs/main.ts) with esbuild into dist/docs (or the
 * directory given), which the server serves at /docs. No CDN.
 *
 * With `--if-changed` (and in `npm start`, through buildDocsIfChanged) an
 * existing build is kept when none of its inputs changed: each build records
 * the hash of every file that went into it beside the output directory.
 */
import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, version as esbuildVersion } from "esbuild";
import { DOCS_DIR_DEFAULT } from "../server/api-reference.js";

const SOURCE_DIR = fileURLToPath(new URL(".", import.meta.url));
/** Swagger UI's icon, linked from index.html: else the browser asks for /favicon.ico. */
const FAVICON = createRequire(import.meta.url).resolve("swagger-ui-dist/favicon-32x32.png");
/** What a build is made of besides the bundle's own inputs. */
const EXTRA_INPUTS = [join(SOURCE_DIR, "index.html"), FAVICON, fileURLToPath(import.meta.url)];

interface BuildRecord {
  readonly esbuild: string;
  readonly inputs: Readonly<Record<string, string>>;
}

/** Writes index.html, docs.js, docs.css and favicon.png into `outDir`, replacing it. */
export async function buildDocs(outDir: string = DOCS_DIR_DEFAULT): Promise<void> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const result = await build({
    entryPoints: { docs: join(SOURCE_DIR, "main.ts") },
    outdir: outDir,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    minify: true,
    // Swagger UI's bundle is minified already; its map would be 8 MB of noise.
    sourcemap: false,
    logLevel: "warning",
    metafile: true,
    // swagger-ui-dist's icons and fonts, if any, inlined: the page loads nothing else.
    loader: { ".svg": "dataurl", ".png": "dataurl", ".woff": "dataurl", ".woff2": "dataurl" },
  });
  await copyFile(join(SOURCE_DIR, "index.html"), join(outDir, "index.html"));
  await copyFile(FAVICON, join(outDir, "favicon.png"));
  const files = [
    ...Object.keys(result.metafile.inputs).map((file) => resolve(file)),
    ...EXTRA_INPUTS,
  ];
  const record: BuildRecord = { esbuild: esbuildVersion, inputs: await hashes(files) };
  await writeFile(recordFile(outDir), `${JSON.stringify(record, null, 1)}\n`);
}

/** Builds the page into `outDir` unless the build there is current. */
export async function buildDocsIfChanged(
  outDir: string = DOCS_DIR_DEFAULT,
): Promise<"built" | "current"> {
  if (await docsAreCurrent(outDir)) {
    return "current";
  }
  await buildDocs(outDir);
  return "built";
}

async function docsAreCurrent(outDir: string): Promise<boolean> {
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
  const outDir = args.find((arg) => !arg.startsWith("--")) ?? DOCS_DIR_DEFAULT;
  const outcome = args.includes("--if-changed")
    ? await buildDocsIfChanged(outDir)
    : await buildDocs(outDir).then(() => "built" as const);
  process.stdout.write(
    outcome === "built"
      ? `API reference built into ${outDir}\n`
      : `API reference in ${outDir} is up to date\n`,
  );
}
