import { readdir, readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { HttpRequest, HttpResponse } from "./http-types.js";

/** Where `npm run build:console` writes the web console. */
export const CONSOLE_DIR_DEFAULT = fileURLToPath(new URL("../../dist/console", import.meta.url));

/** The console is a handful of small files: anything bigger is not ours. */
const ASSET_BYTES_MAX = 16 * 1024 * 1024;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
};

/** The page may load and call only its own origin. */
const SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "Content-Security-Policy":
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  "Referrer-Policy": "no-referrer",
};

interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
}

export interface StaticSite {
  /** Files served, by URL path ("/" is index.html); empty when the directory is missing. */
  readonly paths: readonly string[];
  /** Answers a GET or HEAD for one of `paths` and returns true; otherwise returns false. */
  serve(req: HttpRequest, res: HttpResponse): boolean;
}

export interface StaticSiteOptions {
  /** The URL path of the directory's index.html: "/" (the default), or e.g. "/docs". */
  readonly mountPath?: string;
  /** Single files served beside the directory, by URL path, e.g. { "/openapi.json": file }; missing ones are left out. */
  readonly files?: Readonly<Record<string, string>>;
}

/**
 * A directory's files (the web console's, the API reference's), read into
 * memory once: only files present at startup are served, under their exact
 * names, so no request path ever reaches the file system.
 */
export async function loadStaticSite(
  dir: string,
  options: StaticSiteOptions = {},
): Promise<StaticSite> {
  const mountPath = options.mountPath ?? "/";
  const prefix = mountPath === "/" ? "" : mountPath;
  const assets = new Map<string, Asset>();
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") {
      return [];
    }
    throw error;
  });
  for (const name of names) {
    const contentType = CONTENT_TYPES[extname(name)];
    if (contentType === undefined) {
      continue;
    }
    const path = name === "index.html" ? mountPath : `${prefix}/${name}`;
    assets.set(path, await readAsset(join(dir, name), contentType));
  }
  for (const [path, file] of Object.entries(options.files ?? {})) {
    const asset = await readAsset(file, CONTENT_TYPES[extname(file)] ?? "text/plain").catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") {
          return undefined; // Not there at startup: 404, as a missing directory is.
        }
        throw error;
      },
    );
    if (asset !== undefined) {
      assets.set(path, asset);
    }
  }
  const aliases = new Set([`${prefix}/index.html`, `${prefix}/`]);
  return {
    paths: [...assets.keys()].sort(),
    serve(req, res) {
      if (req.method !== "GET" && req.method !== "HEAD") {
        return false;
      }
      const path = (req.url ?? "").split("?", 1)[0] ?? "";
      const asset = assets.get(aliases.has(path) ? mountPath : path);
      if (asset === undefined) {
        return false;
      }
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        "Content-Type": asset.contentType,
        "Content-Length": String(asset.body.length),
        "Cache-Control": "no-cache",
      });
      if (req.method === "HEAD") {
        res.end();
      } else {
        res.end(asset.body);
      }
      return true;
    },
  };
}

async function readAsset(file: string, contentType: string): Promise<Asset> {
  const body = await readFile(file);
  if (body.length > ASSET_BYTES_MAX) {
    throw new Error(`static file ${file} is larger than ${ASSET_BYTES_MAX} bytes`);
  }
  return { body, contentType };
}
