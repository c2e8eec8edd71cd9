import { fileURLToPath } from "node:url";
import { configDefaults, defineConfig } from "vitest/config";

/** The repository root: the layout keeps this config in test/. */
const root = fileURLToPath(new URL("..", import.meta.url));

export default defineConfig({
  root,
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
