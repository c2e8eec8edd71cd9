import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/** The repository root: the layout keeps this config in test/. */
const root = fileURLToPath(new URL("..", import.meta.url));

export default defineConfig({
  root,
  test: {
    include: ["test/**/*.spec.ts", "src/**/*.spec.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
    fileParallelism: true,
  },
});
