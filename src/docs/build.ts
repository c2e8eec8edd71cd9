/**
 * `npm run build:docs`: bundles the API reference page (Swagger UI from npm's
 * swagger-ui-dist, src/docs/main.ts) with esbuild into dist/docs (or the
 * directory given), which the server serves at /docs. No CDN.
 *
 * With `--if-changed` (and in `npm start`, through buildDocsIfChanged) an
 * existing build is kept when none of its inputs changed: each build records
 * the hash of every file that went into it beside the output directory.
 */
import { copyFile, mkdir, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { DOCS_DIR_DEFAULT } from "../server/api-reference.js";
import { buildIfChanged, recordBuild, runBuildCommand, SITE_BUNDLE } from "../server/site-build.js";

const SOURCE_DIR = fileURLToPath(new URL(".", import.meta.url));
/** Swagger UI's icon, linked from index.html: else the browser asks for /favicon.ico. */
const FAVICON = createRequire(import.meta.url).resolve("swagger-ui-dist/favicon-32x32.png");
/** What a build is made of besides the bundle's own inputs. */
const EXTRA_INPUTS = [join(SOURCE_DIR, "index.html"), FAVICON, fileURLToPath(import.meta.url)];

/** Writes index.html, docs.js, docs.css and favicon.png into `outDir`, replacing it. */
export async function buildDocs(outDir: string = DOCS_DIR_DEFAULT): Promise<void> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const result = await build({
    entryPoints: { docs: join(SOURCE_DIR, "main.ts") },
    outdir: outDir,
    ...SITE_BUNDLE,
    // Swagger UI's bundle is minified already; its map would be 8 MB of noise.
    sourcemap: false,
    // swagger-ui-dist's icons and fonts, if any, inlined: the page loads nothing else.
    loader: { ".svg": "dataurl", ".png": "dataurl", ".woff": "dataurl", ".woff2": "dataurl" },
  });
  await copyFile(join(SOURCE_DIR, "index.html"), join(outDir, "index.html"));
  await copyFile(FAVICON, join(outDir, "favicon.png"));
  await recordBuild(outDir, result.metafile.inputs, EXTRA_INPUTS);
}

/** Builds into `outDir` unless the build there is current. */
export function buildDocsIfChanged(
  outDir: string = DOCS_DIR_DEFAULT,
): Promise<"built" | "current"> {
  return buildIfChanged(outDir, buildDocs);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runBuildCommand(
    process.argv.slice(2),
    { name: "API reference", outDirDefault: DOCS_DIR_DEFAULT },
    buildDocs,
  );
}
