/**
 * The SDK is one import for browsers too: esbuild bundles src/sdk/index.ts
 * for the browser without error (a static import of the Node gRPC transport
 * would fail it: node:http2 does not exist there), `#grpc-transport`
 * resolving to its browser build under the "browser" condition.
 */
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));

describe("the SDK in a browser bundle", () => {
  it("bundles for the browser without Node's HTTP/2 transport", async () => {
    const result = await build({
      absWorkingDir: root,
      entryPoints: ["src/sdk/index.ts"],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      logLevel: "silent",
    });
    expect(result.errors).toEqual([]);
    const code = result.outputFiles.map((file) => file.text).join("\n");
    expect(code).toContain("createLedgerClient");
    expect(code).toContain("CONTENT_CREATION");
    // @connectrpc/connect-node would fail this very build (node:http2, node:https...
    // do not exist in browsers); the browser's "grpc" transport only throws.
    expect(code).not.toContain("node:http2");
    expect(code).not.toContain("@connectrpc/connect-node");
    expect(code).toContain("needs Node.js (HTTP/2 trailers)");
  });
});
