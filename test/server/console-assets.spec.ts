/**
 * The server serves the built web console at "/" on its one port, over
 * HTTP/1.1 and HTTP/2, with the right content types and a strict content
 * security policy; only the built files are served (no path reaches the file
 * system), everything else that is not an RPC is 404, and RPCs keep working
 * beside it. Without a built console, "/" is 404 and the API still works.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConsoleServer, startConsoleServer } from "./console-server.js";
import { h2c, http1, type RawRequest } from "./raw-http.js";

const get = (path: string): RawRequest => ({ method: "GET", path });

describe("the built console", () => {
  let server: ConsoleServer;
  beforeAll(async () => {
    server = await startConsoleServer();
  });
  afterAll(() => server?.close());

  it.each([
    ["HTTP/1.1", http1],
    ["HTTP/2", h2c],
  ] as const)("serves index.html, console.js and console.css over %s", async (_, send) => {
    const page = await send(server.url, get("/"));
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.body.toString()).toEqual(
      await readFile(join(server.consoleDir, "index.html"), "utf8"),
    );
    expect(page.body.toString()).toContain('<script type="module" src="/console.js">');
    expect(page.headers["content-security-policy"]).toContain("default-src 'self'");
    expect(page.headers["x-content-type-options"]).toBe("nosniff");

    const script = await send(server.url, get("/console.js"));
    expect(script.status).toBe(200);
    expect(script.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(script.body.length).toBeGreaterThan(1000);
    expect(script.body.toString()).not.toMatch(/https?:\/\/(cdn|unpkg|jsdelivr)/);

    const styles = await send(server.url, get("/console.css?v=1"));
    expect(styles.status).toBe(200);
    expect(styles.headers["content-type"]).toBe("text/css; charset=utf-8");
  });

  it("answers HEAD with the headers and no body, and /index.html as /", async () => {
    const head = await http1(server.url, { method: "HEAD", path: "/" });
    expect(head.status).toBe(200);
    expect(Number(head.headers["content-length"])).toBeGreaterThan(0);
    expect(head.body.length).toBe(0);
    const index = await http1(server.url, get("/index.html"));
    expect(index.headers["content-type"]).toBe("text/html; charset=utf-8");
  });

  it("answers 404 to anything else that is not an RPC", async () => {
    for (const path of [
      "/nope",
      "/console.ts",
      "/main.ts",
      "/../package.json",
      "/%2e%2e/package.json",
      "//etc/passwd",
      "/ledger.v1.LedgerService",
    ]) {
      const response = await http1(server.url, get(path));
      expect(response.status, path).toBe(404);
    }
    const post = await http1(server.url, { method: "POST", path: "/", body: "x" });
    expect(post.status).toBe(404);
    const h2 = await h2c(server.url, get("/nope"));
    expect(h2.status).toBe(404);
  });

  it("keeps RPCs working beside it, including Connect GET for side-effect-free methods", async () => {
    const message = encodeURIComponent(JSON.stringify({ app: "content", owner_id: "nobody" }));
    const response = await http1(
      server.url,
      get(`/ledger.v1.LedgerService/ListLedgers?connect=v1&encoding=json&message=${message}`),
    );
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body.toString())).toEqual({});
  });
});

describe("a server whose console is not built", () => {
  let server: ConsoleServer;
  beforeAll(async () => {
    server = await startConsoleServer({ buildConsole: false });
  });
  afterAll(() => server?.close());

  it("answers 404 at / and still serves the API", async () => {
    expect((await http1(server.url, get("/"))).status).toBe(404);
    const call = await http1(server.url, {
      method: "POST",
      path: "/ledger.v1.LedgerService/ListLedgers",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ app: "content" }),
    });
    expect(call.status).toBe(200);
  });
});
