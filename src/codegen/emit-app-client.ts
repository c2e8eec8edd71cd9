/**
 * gen/apps/<app>/v1/<app>_client.ts: a typed client per app whose operation
 * parameters (record, recordEntries, transfer, createTransfers) admit
 * exactly that app's operations, with one method per operation (which holds
 * instead, returning a Hold, with `pending: true`); and gen/apps/clients.ts
 * re-exporting them all.
 */
import { posix } from "node:path";
import type { GeneratedFile, ImportSymbol } from "@bufbuild/protoplugin";
import { describeBounds } from "../domain/operations.js";
import type { AppModel, LedgerAppsModel, OperationModel } from "./app-model.js";
import { appConstName, appOperationTypeName, REGISTRY_FILE } from "./emit-registry.js";
import { camelCase, pascalCase } from "./names.js";

/** The module re-exporting every app client (src/sdk/index.ts re-exports it). */
export const CLIENTS_FILE = "apps/clients.ts";

/** Where an app's client goes, next to protoc-gen-es's <app>_pb.ts. */
export function appClientFile(app: AppModel): string {
  return app.protoFile.replace(/\.proto$/, "_client.ts");
}

/** The package generated clients import the SDK runtime from, as protobuf-es code imports @bufbuild/protobuf. */
export const SDK_PACKAGE = "@shared-ledger/client";

/**
 * An app's client module: a class extending the SDK's AppClient with one
 * method per operation, and its create<App>Client factory. Its imports go
 * through `f.import`, so the plugin writes them (and only the used ones).
 *
 * @param sdkImport where AppClient and the SDK's types come from: a package
 *   name (default SDK_PACKAGE) or a file under the output directory, as "./path.js".
 */
export function printAppClient(f: GeneratedFile, app: AppModel, sdkImport: string): void {
  const className = `${pascalCase(app.name)}Client`;
  const sdk = sdkSymbols(f, sdkImport);
  const registry = `./${REGISTRY_FILE.replace(/\.ts$/, ".js")}`;
  const spec = f.import(appConstName(app), registry);
  const operationType = f.import(appOperationTypeName(app), registry, true);
  f.print(
    `/** An item of ${className}.recordEntries: its operation is one of app "${app.name}"'s. */`,
  );
  f.print`export type ${pascalCase(app.name)}RecordItem = ${sdk.AppRecordItem}<${operationType}>;`;
  f.print();
  f.print(
    `/** An item of ${className}.createTransfers: its operation, if any, is one of app "${app.name}"'s. */`,
  );
  f.print`export type ${pascalCase(app.name)}TransferItem = ${sdk.AppTransferItem}<${operationType}>;`;
  f.print();
  f.print(
    `/** A client of app "${app.name}" (${app.protoFile}): it records and transfers with only the app's operations. */`,
  );
  f.print`export class ${className} extends ${sdk.AppClient}<${operationType}> {`;
  app.operations.forEach((op, index) => {
    if (index > 0) {
      f.print();
    }
    printOperationMethod(f, op, sdk);
  });
  f.print("}");
  f.print();
  f.print(
    `/** The typed client of app "${app.name}" on top of a LedgerClient (see createLedgerClient). */`,
  );
  f.print`export function create${className}(ledger: ${sdk.LedgerClient}): ${className} {`;
  f.print`  return new ${className}(ledger, ${spec});`;
  f.print("}");
}

/** gen/apps/clients.ts: `export *` of every app client. */
export function clientsIndexSource(model: LedgerAppsModel, header: string): string {
  const lines = [header, ""];
  for (const app of model.apps) {
    const path = relativeTo(CLIENTS_FILE, appClientFile(app).replace(/\.ts$/, ".js"));
    lines.push(`export * from "${path}";`);
  }
  if (model.apps.length === 0) {
    lines.push("export {};");
  }
  lines.push("");
  return lines.join("\n");
}

/** The SDK names a generated client uses: AppClient is a value, the rest are types. */
const SDK_TYPE_NAMES = [
  "AppFixedHoldOptions",
  "AppFixedRecordOptions",
  "AppHoldOptions",
  "AppRecordItem",
  "AppRecordOptions",
  "AppTransferItem",
  "Hold",
  "LedgerClient",
  "RecordedEntry",
] as const;

type SdkSymbols = Record<(typeof SDK_TYPE_NAMES)[number] | "AppClient", ImportSymbol>;

/** Import symbols of the SDK; the plugin writes an import only for those printed. */
function sdkSymbols(f: GeneratedFile, from: string): SdkSymbols {
  const types = SDK_TYPE_NAMES.map((name) => [name, f.import(name, from, true)] as const);
  return { AppClient: f.import("AppClient", from), ...Object.fromEntries(types) } as SdkSymbols;
}

/**
 * One operation's method: it records, or with `pending: true` holds and
 * returns a Hold (the record overload last, so ReturnType is RecordedEntry).
 * A fixed operation's options have no amount: passing one does not compile.
 */
function printOperationMethod(f: GeneratedFile, op: OperationModel, sdk: SdkSymbols): void {
  const method = camelCase(op.name);
  const [record, hold] = op.fixed
    ? [sdk.AppFixedRecordOptions, sdk.AppFixedHoldOptions]
    : [sdk.AppRecordOptions, sdk.AppHoldOptions];
  const { Hold, RecordedEntry } = sdk;
  f.print(
    `  /** Holds ${op.name} (\`pending: true\`, \`pendingExpiresAt\`): a Hold to post or void before it expires. */`,
  );
  f.print`  ${method}(ledgerId: string, options: ${hold}): Promise<${Hold}>;`;
  f.print(`  /** ${operationDoc(op)} */`);
  f.print`  ${method}(ledgerId: string, options?: ${record}): Promise<${RecordedEntry}>;`;
  f.print`  ${method}(ledgerId: string, options?: ${record} | ${hold}): Promise<${RecordedEntry} | ${Hold}> {`;
  f.print(`    return this.recordOrHold(ledgerId, ${JSON.stringify(op.name)}, options);`);
  f.print("  }");
}

function operationDoc(op: OperationModel): string {
  const kind = op.shared ? "shared operation" : "operation";
  const what = op.description.length > 0 ? ` ${op.description.replace(/\*\//g, "* /")}` : "";
  return `Records ${op.name} (${kind}, ${op.direction.toLowerCase()}, ${amountDoc(op)}).${what}`;
}

/** "fixed at +1: it takes no amount", "default -1, |amount| from 1 to 100" (the server's words), "default +10". */
function amountDoc(op: OperationModel): string {
  const amount = signed(op.defaultAmountMinor);
  if (op.fixed) {
    return `fixed at ${amount}: it takes no amount`;
  }
  const bounded = op.amountMinAbsMinor !== undefined || op.amountMaxAbsMinor !== undefined;
  return bounded ? `default ${amount}, ${describeBounds(op)}` : `default ${amount}`;
}

function signed(amountMinor: bigint): string {
  return amountMinor > 0n ? `+${amountMinor}` : `${amountMinor}`;
}

/** An import specifier from one generated file to a path relative to the output directory. */
function relativeTo(fromFile: string, target: string): string {
  const specifier = posix.relative(posix.dirname(fromFile), target);
  return specifier.startsWith(".") ? specifier : `./${specifier}`;
}
