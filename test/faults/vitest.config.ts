import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/** The repository root: this config lives in test/faults/. */
const root = fileURLToPath(new URL("../..", import.meta.url));

/**
 * The generated app clients import the SDK by its package name; in this
 * repository that name is src/sdk/index.ts, as tsconfig.json's `paths` says
 * for tsc, tsx and esbuild (Vite reads no `paths`).
 */
const SDK_PACKAGE_ALIAS = {
  find: /^@shared-ledger\/client$/,
  replacement: fileURLToPath(new URL("../../src/sdk/index.ts", import.meta.url)),
};

/**
 * `npm run test:faults`: each spec kills a PostgreSQL or a service process
 * of its own, so they run one at a time and outside `npm test`.
 */
export default defineConfig({
  root,
  resolve: { alias: [SDK_PACKAGE_ALIAS] },
  test: {
    include: ["test/faults/**/*.spec.ts"],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: "forks",
    fileParallelism: false,
  },
});
