/**
 * protoc-gen-openapi: a protoc plugin, run by `buf generate` (see
 * buf.gen.yaml) under tsx. Writes openapi/ledger.openapi.json, the OpenAPI
 * 3.1 document of ledger.v1.LedgerService's Connect JSON endpoints
 * (openapi-document.ts), which the server serves at /openapi.json.
 *
 * Needs `strategy: all`, so that the service and the google.rpc error types
 * arrive in one request. Skips quietly when the service is not in the
 * files to generate (buf ran it on other inputs).
 */
import type { DescEnum, DescFile, DescMessage } from "@bufbuild/protobuf";
import { createEcmaScriptPlugin, runNodeJs, type Schema } from "@bufbuild/protoplugin";
import { openApiDocument } from "./openapi-document.js";

const NAME = "protoc-gen-openapi";
const VERSION = "v1.0.0";
const SERVICE = "ledger.v1.LedgerService";
const OUTPUT_FILE = "openapi/ledger.openapi.json";
/** The document's info.version: the API's version, as its package says (ledger.v1). */
const API_VERSION = "v1";

function generate(schema: Schema): void {
  const service = schema.files.flatMap((file) => file.services).find((s) => s.typeName === SERVICE);
  if (service === undefined) {
    return;
  }
  const document = openApiDocument({
    service,
    errorReasons: findEnum(schema.allFiles, "ledger.v1.ErrorReason"),
    retryInfo: findMessage(schema.allFiles, "google.rpc.RetryInfo"),
    version: API_VERSION,
  });
  schema.generateFile(OUTPUT_FILE).print(JSON.stringify(document, null, 2));
}

function findEnum(files: readonly DescFile[], typeName: string): DescEnum {
  const found = files.flatMap((file) => file.enums).find((e) => e.typeName === typeName);
  if (found === undefined) {
    throw new Error(`${NAME}: ${typeName} is not in the schema`);
  }
  return found;
}

function findMessage(files: readonly DescFile[], typeName: string): DescMessage {
  const found = files.flatMap((file) => file.messages).find((m) => m.typeName === typeName);
  if (found === undefined) {
    throw new Error(`${NAME}: ${typeName} is not in the schema`);
  }
  return found;
}

/** The plugin; runNodeJs below makes this file the executable buf runs. */
export const openApiPlugin = createEcmaScriptPlugin({
  name: NAME,
  version: VERSION,
  generateTs: generate,
  generateJs: () => {
    throw new Error(`${NAME} runs with opt target=ts only`);
  },
  generateDts: () => {
    throw new Error(`${NAME} runs with opt target=ts only`);
  },
});

runNodeJs(openApiPlugin);
