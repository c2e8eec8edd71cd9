import { fileURLToPath } from "node:url";
import { configDefaults, defineConfig } from "vitest/config";

/** The repository root: the layout keeps this config in test/. */
const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * The generated app clients import the SDK by its package name; in this
 * repository that name is src/sdk/index.ts, as tsconfig.json's `paths` says
 * for tsc, tsx and esbuild (Vite reads no `paths`).
 */
const SDK_PACKAGE_ALIAS = {
  find: /^@shared-ledger\/client$/,
  replacement: fileURLToPath(new URL("../src/sdk/index.ts", import.meta.url)),
};

export default defineConfig({
  root,
  resolve: { alias: [SDK_PACKAGE_ALIAS] },
  test: {
    include: ["test/**/*.spec.ts", "src/**/*.spec.ts"],
    // Kills PostgreSQL and the service: `npm run test:faults`, one spec at a time.
    exclude: [...configDefaults.exclude, "test/faults/**"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
    fileParallelism: true,
  },
});
