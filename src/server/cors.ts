import { cors } from "@connectrpc/connect";
import { REQUEST_ID_HEADER } from "../rpc/index.js";
import type { HttpRequest, HttpResponse } from "./http-types.js";

/** How long a browser may cache a preflight answer. */
const PREFLIGHT_MAX_AGE_S = 7200;

/** "*": any origin; otherwise exact origins such as https://console.example.com. */
export type AllowedOrigins = readonly string[];

/**
 * CORS for browsers on other origins: a preflight from an allowed origin is
 * answered with the methods and headers the Connect, gRPC-Web and gRPC
 * protocols send (plus x-request-id); an actual request from one gets the
 * status, error-detail and x-request-id headers exposed. A request from any
 * other origin gets no CORS headers at all, so the browser refuses it.
 *
 * Returns true when it answered the request (a preflight) itself.
 */
export function createCorsHandler(
  allowedOrigins: AllowedOrigins,
): (req: HttpRequest, res: HttpResponse) => boolean {
  const anyOrigin = allowedOrigins.includes("*");
  const origins = new Set(allowedOrigins);
  const allowHeaders = [...cors.allowedHeaders, REQUEST_ID_HEADER, "Authorization"].join(", ");
  const exposeHeaders = [...cors.exposedHeaders, REQUEST_ID_HEADER].join(", ");
  const allowMethods = cors.allowedMethods.join(", ");

  return (req, res) => {
    if (allowedOrigins.length === 0) {
      return false;
    }
    const origin = req.headers.origin;
    const isPreflight =
      req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
    if (!anyOrigin) {
      // The answer depends on the Origin header: shared caches must key on it.
      res.setHeader("Vary", "Origin");
    }
    const allowed = origin !== undefined && (anyOrigin || origins.has(origin));
    if (!allowed) {
      if (isPreflight) {
        res.writeHead(403);
        res.end();
        return true;
      }
      return false;
    }
    res.setHeader("Access-Control-Allow-Origin", anyOrigin ? "*" : origin);
    if (!isPreflight) {
      res.setHeader("Access-Control-Expose-Headers", exposeHeaders);
      return false;
    }
    res.writeHead(204, {
      "Access-Control-Allow-Methods": allowMethods,
      "Access-Control-Allow-Headers": allowHeaders,
      "Access-Control-Max-Age": String(PREFLIGHT_MAX_AGE_S),
    });
    res.end();
    return true;
  };
}
