/**
 * `npm run build:sdk [-- <outDir>] [--pack]`: the SDK as the installable
 * package @shared-ledger/client, versioned with the service, in .build/client
 * (gitignored) unless told otherwise. tsc compiles src/sdk and the generated
 * code it reaches (src/sdk/tsconfig.package.json) to ESM and .d.ts under dist/;
 * this script writes the package.json, whose `exports` has the main entry and
 * one subpath per app of gen/apps/registry.ts. With --pack (`npm run pack:sdk`)
 * it also runs `npm pack` there and prints the tarball's path.
 *
 * Inside the package the generated app clients import "@shared-ledger/client"
 * as in this repository: Node, TypeScript and bundlers resolve it to the
 * package itself through its `exports` (a self-reference).
 */
import { execFile } from "node:child_process";
import { copyFile, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { APPS } from "../../gen/apps/registry.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const SDK_PACKAGE_NAME = "@shared-ledger/client";
export const SDK_OUT_DIR_DEFAULT = join(ROOT, ".build", "client");
const TSCONFIG = join(ROOT, "src", "sdk", "tsconfig.package.json");

/**
 * Every package the built JavaScript imports, and nothing else: the build
 * fails if the two differ, so no server package (MikroORM, pg, pino) can
 * slip into the SDK. connect-node is only reached by the Node build of
 * the "grpc" transport.
 */
const RUNTIME_DEPENDENCIES = [
  "@bufbuild/protobuf",
  "@connectrpc/connect",
  "@connectrpc/connect-node",
  "@connectrpc/connect-web",
] as const;

const run = promisify(execFile);

/** dist paths of a module compiled from `source` (relative to the repository root, .ts). */
function compiled(source: string): { types: string; default: string } {
  const base = `./dist/${source.replace(/\.ts$/, "")}`;
  return { types: `${base}.d.ts`, default: `${base}.js` };
}

/** The `exports` map: ".", "./apps/<app>" for each declared app, and package.json. */
function exportsMap(): Record<string, unknown> {
  const apps = APPS.map((app) => [
    `./apps/${app.app}`,
    compiled(`gen/${app.protoFile.replace(/\.proto$/, "_client.ts")}`),
  ]);
  return {
    ".": compiled("src/sdk/index.ts"),
    ...Object.fromEntries(apps),
    "./package.json": "./package.json",
  };
}

/** `#grpc-transport` as in the root package.json, pointed at the compiled files. */
function importsMap(): Record<string, unknown> {
  const node = compiled("src/sdk/grpc-transport.node.ts");
  const browser = compiled("src/sdk/grpc-transport.browser.ts").default;
  return {
    "#grpc-transport": { types: node.types, browser, node: node.default, default: browser },
  };
}

interface RootPackage {
  readonly version: string;
  readonly description?: string;
}

interface PackageLock {
  readonly packages: Record<string, { readonly version?: string }>;
}

/** The exact version the root package-lock.json installs of each runtime dependency. */
async function pinnedDependencies(): Promise<Record<string, string>> {
  const lock = JSON.parse(await readFile(join(ROOT, "package-lock.json"), "utf8")) as PackageLock;
  const pins = RUNTIME_DEPENDENCIES.map((name) => {
    const version = lock.packages[`node_modules/${name}`]?.version;
    if (version === undefined) {
      throw new Error(`package-lock.json has no node_modules/${name}`);
    }
    return [name, version] as const;
  });
  return Object.fromEntries(pins);
}

async function packageJson(): Promise<string> {
  const root = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as RootPackage;
  const entry = compiled("src/sdk/index.ts");
  const manifest = {
    name: SDK_PACKAGE_NAME,
    version: root.version,
    description:
      "Typed client of the Shared Ledger service for Node and browsers (gRPC, Connect, gRPC-Web)",
    type: "module",
    main: entry.default,
    types: entry.types,
    exports: exportsMap(),
    imports: importsMap(),
    sideEffects: false,
    files: ["dist", "CHANGELOG.md", "README.md"],
    dependencies: await pinnedDependencies(),
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** The package's short README: the full one is the service's. */
function readme(version: string): string {
  const subpaths = APPS.map((app) => `\`${SDK_PACKAGE_NAME}/apps/${app.app}\``).join(", ");
  return [
    `# ${SDK_PACKAGE_NAME} ${version}`,
    "",
    "The typed client of the Shared Ledger service, for Node and browsers.",
    "Main entry: createLedgerClient, the typed errors, Hold, the app clients;",
    `one subpath per app: ${subpaths}.`,
    'See the service\'s README ("Install the client", "SDK") and CHANGELOG.md.',
    "",
  ].join("\n");
}

async function javaScriptFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith(".js"))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** The packages (not files, not node: builtins, not #imports) the built JavaScript imports. */
async function importedPackages(distDir: string): Promise<Set<string>> {
  const found = new Set<string>();
  for (const file of await javaScriptFiles(distDir)) {
    const code = await readFile(file, "utf8");
    const statics = code.matchAll(/^(?:import|export)\s[^;]*?from\s*"([^"]+)";/gm);
    const dynamics = code.matchAll(/\bimport\("([^"]+)"\)/g);
    for (const match of [...statics, ...dynamics]) {
      const specifier = match[1] ?? "";
      if (/^[./#]/.test(specifier) || specifier.startsWith("node:")) {
        continue;
      }
      const parts = specifier.split("/");
      found.add(specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? ""));
    }
  }
  found.delete(SDK_PACKAGE_NAME);
  return found;
}

async function assertDependenciesMatch(distDir: string): Promise<void> {
  const imported = [...(await importedPackages(distDir))].sort();
  const declared = [...RUNTIME_DEPENDENCIES].sort();
  if (imported.join() !== declared.join()) {
    throw new Error(
      `the SDK imports ${imported.join(", ")} but declares ${declared.join(", ")}: update RUNTIME_DEPENDENCIES`,
    );
  }
}

/** Compiles and writes the package into `outDir`, replacing it. */
export async function buildSdkPackage(outDir: string = SDK_OUT_DIR_DEFAULT): Promise<void> {
  await rm(outDir, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const distDir = join(outDir, "dist");
  await run(process.execPath, [tsc, "-p", TSCONFIG, "--outDir", distDir], { cwd: ROOT });
  await assertDependenciesMatch(distDir);
  const manifest = await packageJson();
  await writeFile(join(outDir, "package.json"), manifest);
  await writeFile(join(outDir, "README.md"), readme((JSON.parse(manifest) as RootPackage).version));
  await copyFile(join(ROOT, "docs", "CHANGELOG.md"), join(outDir, "CHANGELOG.md"));
}

/** `npm pack` of a built package into `destination`: the tarball's absolute path. */
export async function packSdkPackage(outDir: string, destination: string): Promise<string> {
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", destination], {
    cwd: outDir,
  });
  const [packed] = JSON.parse(stdout) as { filename: string }[];
  if (packed === undefined) {
    throw new Error(`npm pack in ${outDir} reported no tarball`);
  }
  return join(destination, packed.filename);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const outDir = resolve(args.find((arg) => !arg.startsWith("--")) ?? SDK_OUT_DIR_DEFAULT);
  await buildSdkPackage(outDir);
  process.stdout.write(
    `${SDK_PACKAGE_NAME} built into ${relative(process.cwd(), outDir) || "."}\n`,
  );
  if (args.includes("--pack")) {
    const tarball = await packSdkPackage(outDir, outDir);
    process.stdout.write(`packed: ${relative(process.cwd(), tarball)}\n`);
  }
}
