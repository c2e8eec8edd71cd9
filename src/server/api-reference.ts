import { fileURLToPath } from "node:url";
import { loadStaticSite, type StaticSite } from "./static.js";

/** The OpenAPI document `npm run generate` writes (src/codegen/protoc-gen-openapi.ts). */
export const OPENAPI_FILE_DEFAULT = fileURLToPath(
  new URL("../../gen/openapi/ledger.openapi.json", import.meta.url),
);
/** Where `npm run build:docs` writes the reference page. */
export const DOCS_DIR_DEFAULT = fileURLToPath(new URL("../../dist/docs", import.meta.url));
export const OPENAPI_PATH = "/openapi.json";
export const DOCS_PATH = "/docs";

/**
 * The API reference: the OpenAPI document at /openapi.json and the page
 * that renders it at /docs. Public like the console's files: they describe
 * the API and hold no data; every call made from the page still needs a
 * token. Swagger UI runs under the console's content security policy (own
 * origin only; test/browser/docs.spec.ts sees no violation).
 */
export function loadApiReference(
  docsDir: string = DOCS_DIR_DEFAULT,
  openApiFile: string = OPENAPI_FILE_DEFAULT,
): Promise<StaticSite> {
  return loadStaticSite(docsDir, {
    mountPath: DOCS_PATH,
    files: { [OPENAPI_PATH]: openApiFile },
  });
}
