import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/** The repository root: this config lives in test/faults/. */
const root = fileURLToPath(new URL("../..", import.meta.url));

/**
 * `npm run test:faults`: each spec kills a PostgreSQL or a service process
 * of its own, so they run one at a time and outside `npm test`.
 */
export default defineConfig({
  root,
  test: {
    include: ["test/faults/**/*.spec.ts"],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: "forks",
    fileParallelism: false,
  },
});
