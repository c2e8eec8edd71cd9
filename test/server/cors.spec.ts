/**
 * CORS over real HTTP: with CORS_ALLOWED_ORIGINS set, a preflight from an
 * allowed origin is answered with the methods and every header the Connect,
 * gRPC-Web and gRPC protocols send; actual calls (successes and errors, both
 * protocols) expose the status, error-detail and request-id headers; an
 * origin that is not allowed, or a server with no allowed origins, gets no
 * CORS header at all. Bad settings stop the server at startup.
 */
import { cors } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/server/index.js";
import { type ConsoleServer, startConsoleServer } from "./console-server.js";
import { corsHeaders, h2c, http1 } from "./raw-http.js";

const ALLOWED = "https://console.example.com";
const ALSO_ALLOWED = "http://localhost:5173";
const FOREIGN = "https://evil.example.net";
const MISSING_LEDGER = JSON.stringify({ ledger_id: "00000000-0000-4000-8000-000000000000" });

const preflight = (origin: string, requestHeaders = "content-type,connect-protocol-version") => ({
  method: "OPTIONS",
  path: "/ledger.v1.LedgerService/GetBalance",
  headers: {
    origin,
    "access-control-request-method": "POST",
    "access-control-request-headers": requestHeaders,
  },
});

const connectCall = (origin: string | undefined, body: string) => ({
  method: "POST",
  path: "/ledger.v1.LedgerService/GetBalance",
  headers: {
    "content-type": "application/json",
    "connect-protocol-version": "1",
    ...(origin === undefined ? {} : { origin }),
  },
  body,
});

function listOf(header: string | undefined): string[] {
  return (header ?? "").split(",").map((item) => item.trim().toLowerCase());
}

describe("CORS with allowed origins", () => {
  let server: ConsoleServer;
  beforeAll(async () => {
    server = await startConsoleServer({
      corsAllowedOrigins: `${ALLOWED}, ${ALSO_ALLOWED}`,
      buildConsole: false,
    });
  });
  afterAll(() => server?.close());

  it("answers a preflight from an allowed origin with the Connect, gRPC-Web and gRPC request headers", async () => {
    for (const origin of [ALLOWED, ALSO_ALLOWED]) {
      const response = await http1(server.url, preflight(origin));
      expect(response.status).toBe(204);
      expect(response.headers["access-control-allow-origin"]).toBe(origin);
      expect(listOf(response.headers["access-control-allow-methods"])).toEqual(
        expect.arrayContaining(["post", "get"]),
      );
      expect(listOf(response.headers["access-control-allow-headers"])).toEqual(
        expect.arrayContaining([
          ...cors.allowedHeaders.map((h) => h.toLowerCase()),
          "content-type",
          "connect-protocol-version",
          "connect-timeout-ms",
          "x-grpc-web",
          "x-user-agent",
          "grpc-timeout",
          "x-request-id",
        ]),
      );
      expect(Number(response.headers["access-control-max-age"])).toBeGreaterThan(0);
      expect(listOf(response.headers.vary)).toContain("origin");
    }
  });

  it("answers a preflight over HTTP/2 the same way", async () => {
    const response = await h2c(server.url, preflight(ALLOWED));
    expect(response.status).toBe(204);
    expect(response.headers["access-control-allow-origin"]).toBe(ALLOWED);
  });

  it("exposes the status, error-detail and request-id headers on a Connect call and its errors", async () => {
    const failed = await http1(server.url, connectCall(ALLOWED, MISSING_LEDGER));
    expect(failed.status).toBe(404);
    expect(JSON.parse(failed.body.toString())).toMatchObject({ code: "not_found" });
    expect(failed.headers["access-control-allow-origin"]).toBe(ALLOWED);
    expect(listOf(failed.headers["access-control-expose-headers"])).toEqual(
      expect.arrayContaining([
        ...cors.exposedHeaders.map((h) => h.toLowerCase()),
        "grpc-status",
        "grpc-message",
        "grpc-status-details-bin",
        "x-request-id",
      ]),
    );
    expect(failed.headers["x-request-id"]).toBeTruthy();
  });

  it("exposes them on a gRPC-Web call too", async () => {
    const response = await http1(server.url, {
      method: "POST",
      path: "/ledger.v1.LedgerService/GetBalance",
      headers: { origin: ALLOWED, "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
      body: "\x00\x00\x00\x00\x00",
    });
    expect(response.status).toBe(200);
    expect(response.headers["access-control-allow-origin"]).toBe(ALLOWED);
    expect(listOf(response.headers["access-control-expose-headers"])).toContain("grpc-status");
  });

  it("gives an origin that is not allowed no CORS headers, on preflight and on calls", async () => {
    const refused = await http1(server.url, preflight(FOREIGN));
    expect(refused.status).toBe(403);
    expect(corsHeaders(refused)).toEqual({});
    const call = await http1(server.url, connectCall(FOREIGN, MISSING_LEDGER));
    expect(corsHeaders(call)).toEqual({});
    // A look-alike of an allowed origin is another origin.
    const lookAlike = await http1(server.url, preflight(`${ALLOWED}.evil.example.net`));
    expect(corsHeaders(lookAlike)).toEqual({});
    const otherScheme = await http1(server.url, preflight("http://console.example.com"));
    expect(corsHeaders(otherScheme)).toEqual({});
  });

  it("adds nothing to a request without an Origin (not from a browser)", async () => {
    const call = await http1(server.url, connectCall(undefined, MISSING_LEDGER));
    expect(call.status).toBe(404);
    expect(corsHeaders(call)).toEqual({});
  });
});

describe("CORS with every origin allowed (*)", () => {
  let server: ConsoleServer;
  beforeAll(async () => {
    server = await startConsoleServer({ corsAllowedOrigins: "*", buildConsole: false });
  });
  afterAll(() => server?.close());

  it("allows any origin with a wildcard, on preflight and on calls", async () => {
    const response = await http1(server.url, preflight(FOREIGN));
    expect(response.status).toBe(204);
    expect(response.headers["access-control-allow-origin"]).toBe("*");
    const call = await http1(server.url, connectCall(FOREIGN, MISSING_LEDGER));
    expect(call.headers["access-control-allow-origin"]).toBe("*");
    expect(listOf(call.headers["access-control-expose-headers"])).toContain("grpc-status");
  });
});

describe("CORS by default (CORS_ALLOWED_ORIGINS unset)", () => {
  let server: ConsoleServer;
  beforeAll(async () => {
    server = await startConsoleServer({ buildConsole: false });
  });
  afterAll(() => server?.close());

  it("sends no CORS header to anyone", async () => {
    const response = await http1(server.url, preflight(ALLOWED));
    expect(corsHeaders(response)).toEqual({});
    expect(response.status).not.toBe(204);
    const call = await http1(server.url, connectCall(ALLOWED, MISSING_LEDGER));
    expect(corsHeaders(call)).toEqual({});
  });
});

describe("CORS_ALLOWED_ORIGINS", () => {
  const problemsOf = (value: string): readonly string[] => {
    try {
      loadConfig({ CORS_ALLOWED_ORIGINS: value });
      return [];
    } catch (error) {
      if (error instanceof ConfigError) {
        return error.problems;
      }
      throw error;
    }
  };

  it("reads a comma-separated list of origins, or *, and nothing by default", () => {
    expect(loadConfig({}).corsAllowedOrigins).toEqual([]);
    expect(
      loadConfig({ CORS_ALLOWED_ORIGINS: " https://a.example.com ,http://localhost:3000," })
        .corsAllowedOrigins,
    ).toEqual(["https://a.example.com", "http://localhost:3000"]);
    expect(loadConfig({ CORS_ALLOWED_ORIGINS: "*" }).corsAllowedOrigins).toEqual(["*"]);
  });

  it("refuses what a browser would never send as an Origin, naming the variable", () => {
    for (const bad of [
      "https://a.example.com/",
      "https://a.example.com/app",
      "a.example.com",
      "ftp://a.example.com",
      "https://A.example.com",
    ]) {
      const problems = problemsOf(bad);
      expect(problems, bad).toHaveLength(1);
      expect(problems[0]).toContain("CORS_ALLOWED_ORIGINS");
      expect(problems[0]).toContain(bad);
    }
    expect(problemsOf("*,https://a.example.com")[0]).toContain('"*"');
  });
});
