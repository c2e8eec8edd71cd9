/**
 * The SDK from outside, as an app in another repository gets it: the package
 * built and packed by build-package.ts is installed from its tarball into a
 * fresh project, offline; the README's "Install the client" app type-checks
 * there with `tsc --strict` (and another app's operation does not), runs with
 * node against the real server over each protocol, and bundles for browsers
 * with no Node-only module in the bundle.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSdkPackage, packSdkPackage, SDK_PACKAGE_NAME } from "../../src/sdk/build-package.js";
import { PROTOCOLS } from "../../src/sdk/index.js";
import { newToken } from "../../src/server/credentials.js";
import { README, ROOT } from "../support/readme.js";
import { useLedgerServer } from "../support/server.js";

const run = promisify(execFile);
const STEP_TIMEOUT_MS = 60_000;
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");

/** The ```ts block of the README's "## Install the client": the app under test. */
function readmeApp(): string {
  const start = README.indexOf("\n## Install the client\n");
  const end = README.indexOf("\n## ", start + 1);
  const match = /```ts\n([\s\S]*?)```/.exec(README.slice(start, end));
  if (start < 0 || match?.[1] === undefined) {
    throw new Error('README.md has no ts block under "## Install the client"');
  }
  return match[1];
}

/** The text after "// →" on each line, in order. */
function expectedOutput(snippet: string): string[] {
  return [...snippet.matchAll(/\/\/ → (.*)$/gm)].map((match) => (match[1] ?? "").trim());
}

/** Uses another app's operations on the content client: each line must fail to compile. */
const WRONG_APP = `import { createLedgerClient } from "${SDK_PACKAGE_NAME}";
import { createContentClient } from "${SDK_PACKAGE_NAME}/apps/content";

const content = createContentClient(
  createLedgerClient({ baseUrl: "http://localhost:8080", protocol: "connect" }),
);
// @ts-expect-error COURSE_ENROLLMENT is an operation of app learning
void content.courseEnrollment("ledger-1");
// @ts-expect-error SEAT_PURCHASE is an operation of app learning
void content.record("ledger-1", "SEAT_PURCHASE");
`;

const TSCONFIG = {
  compilerOptions: {
    strict: true,
    module: "nodenext",
    moduleResolution: "nodenext",
    target: "es2023",
    lib: ["es2023", "dom"],
    // The app's own Node types; borrowed from this repository, not installed.
    types: ["node"],
    typeRoots: [join(ROOT, "node_modules", "@types")],
    outDir: "build",
    skipLibCheck: false,
  },
  include: ["*.ts"],
};

interface LockEntry {
  readonly version?: string;
  readonly dev?: boolean;
  readonly devOptional?: boolean;
}

/** What the spec reads of the built package's package.json. */
interface SdkManifest {
  readonly version: string;
  readonly dependencies: Record<string, string>;
  readonly exports: Record<string, unknown>;
}

/**
 * The app's package.json and a package-lock.json that pins the SDK's
 * dependencies as this repository's lock does. `npm ci` put their tarballs
 * in the npm cache but not the registry's metadata, which an offline
 * `npm install` of a version range would need; with the lock it needs none.
 */
function seedProject(dir: string, tarball: string, sdk: SdkManifest): void {
  const rootLock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, LockEntry>;
  };
  const spec = `file:${basename(tarball)}`;
  const integrity = `sha512-${createHash("sha512").update(readFileSync(tarball)).digest("base64")}`;
  const packages: Record<string, unknown> = {
    "": { name: "app", dependencies: { [SDK_PACKAGE_NAME]: spec } },
    [`node_modules/${SDK_PACKAGE_NAME}`]: {
      version: sdk.version,
      resolved: spec,
      integrity,
      dependencies: sdk.dependencies,
    },
  };
  for (const name of Object.keys(sdk.dependencies)) {
    const {
      dev: _dev,
      devOptional: _devOptional,
      ...entry
    } = rootLock.packages[`node_modules/${name}`] ?? {};
    packages[`node_modules/${name}`] = entry;
  }
  const manifest = { name: "app", private: true, type: "module" };
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  const lock = { name: "app", lockfileVersion: 3, requires: true, packages };
  writeFileSync(join(dir, "package-lock.json"), `${JSON.stringify(lock, null, 2)}\n`);
}

/** Runs this repository's tsc on a project: its exit code and output. */
async function tsc(project: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout } = await run(process.execPath, [TSC, "-p", project], { cwd: project });
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string };
    return { code: failed.code ?? 1, output: failed.stdout ?? String(error) };
  }
}

const admin = newToken("content", "admin");
const harness = useLedgerServer({ LEDGER_TOKENS: admin.line });
const dir = mkdtempSync(join(tmpdir(), "ledger-sdk-package-"));
const app = join(dir, "app");
const snippet = readmeApp();
let tarball = "";

beforeAll(() => mkdirSync(app));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe(`${SDK_PACKAGE_NAME} installed from its tarball`, () => {
  it(
    "packs, and installs offline with only its runtime dependencies",
    async () => {
      const built = join(dir, "package");
      await buildSdkPackage(built);
      tarball = await packSdkPackage(built, app);
      const manifest = JSON.parse(readFileSync(join(built, "package.json"), "utf8")) as SdkManifest;
      const rootVersion = (
        JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }
      ).version;
      expect(manifest.version).toBe(rootVersion);
      expect(Object.keys(manifest.exports)).toEqual(
        expect.arrayContaining([".", "./apps/content", "./apps/learning"]),
      );
      expect(Object.keys(manifest.dependencies).sort()).toEqual([
        "@bufbuild/protobuf",
        "@connectrpc/connect",
        "@connectrpc/connect-node",
        "@connectrpc/connect-web",
      ]);
      seedProject(app, tarball, manifest);
      await run("npm", ["install", "--offline", "--no-audit", "--no-fund", tarball], {
        cwd: app,
      });
      const installed = JSON.parse(
        readFileSync(join(app, "node_modules", SDK_PACKAGE_NAME, "package.json"), "utf8"),
      ) as { version: string };
      expect(installed.version).toBe(rootVersion);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "type-checks the README's app with tsc --strict, and refuses another app's operations",
    async () => {
      writeFileSync(join(app, "app.ts"), snippet);
      writeFileSync(join(app, "wrong-app.ts"), WRONG_APP);
      writeFileSync(join(app, "tsconfig.json"), JSON.stringify(TSCONFIG, null, 2));
      const checked = await tsc(app);
      expect(checked.output).toBe("");
      expect(checked.code).toBe(0);

      // Without the directives, the same lines are errors: the expectations are not vacuous.
      const unchecked = join(dir, "unchecked");
      mkdirSync(unchecked);
      writeFileSync(
        join(unchecked, "wrong-app.ts"),
        WRONG_APP.replace(/\/\/ @ts-expect-error.*\n/g, ""),
      );
      const tsconfig = {
        extends: join(app, "tsconfig.json"),
        // The libraries' .d.ts were checked above: only this file's errors matter here.
        compilerOptions: { noEmit: true, skipLibCheck: true },
        include: ["*.ts"],
      };
      writeFileSync(join(unchecked, "tsconfig.json"), JSON.stringify(tsconfig));
      // Resolved from the app's node_modules, as the app would.
      writeFileSync(join(unchecked, "package.json"), '{ "type": "module" }');
      symlinkSync(join(app, "node_modules"), join(unchecked, "node_modules"));
      const failed = await tsc(unchecked);
      expect(failed.code).not.toBe(0);
      expect(failed.output).toContain("Property 'courseEnrollment' does not exist");
      expect(failed.output).toContain('"SEAT_PURCHASE"');
    },
    STEP_TIMEOUT_MS,
  );

  it.each(PROTOCOLS)(
    "runs the README's app with node over %s against the real server",
    async (protocol) => {
      const { stdout } = await run(process.execPath, [join(app, "build", "app.js")], {
        cwd: app,
        timeout: STEP_TIMEOUT_MS,
        env: {
          ...process.env,
          LEDGER_URL: harness.server().url,
          LEDGER_TOKEN: admin.token,
          LEDGER_PROTOCOL: protocol,
        },
      });
      expect(stdout.trim().split("\n")).toEqual(expectedOutput(snippet));
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "bundles the app for browsers with no Node-only module",
    async () => {
      const result = await build({
        absWorkingDir: app,
        entryPoints: ["app.ts"],
        bundle: true,
        platform: "browser",
        format: "esm",
        write: false,
        metafile: true,
        logLevel: "silent",
      });
      expect(result.errors).toEqual([]);
      const inputs = Object.keys(result.metafile.inputs);
      expect(inputs.some((input) => input.includes(`node_modules/${SDK_PACKAGE_NAME}/`))).toBe(
        true,
      );
      expect(inputs.filter((input) => /connect-node|grpc-transport\.node/.test(input))).toEqual([]);
      const code = result.outputFiles.map((file) => file.text).join("\n");
      expect(code).not.toMatch(/["']node:/);
      expect(code).not.toContain("http2");
      expect(code).toContain("needs Node.js (HTTP/2 trailers)");
    },
    STEP_TIMEOUT_MS,
  );
});
