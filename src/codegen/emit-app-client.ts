/**
 * gen/apps/<app>/v1/<app>_client.ts: a typed client per app whose operation
 * parameters (record, recordEntries, transfer, createTransfers) admit
 * exactly that app's operations, with one method per operation (which holds
 * instead, returning a Hold, with `pending: true`); and gen/apps/clients.ts
 * re-exporting them all.
 */
import { posix } from "node:path";
import type { AppModel, LedgerAppsModel, OperationModel } from "./app-model.js";
import { appConstName, appOperationTypeName, REGISTRY_FILE } from "./emit-registry.js";
import { camelCase, pascalCase } from "./names.js";

/** The module re-exporting every app client (src/sdk/index.ts re-exports it). */
export const CLIENTS_FILE = "apps/clients.ts";

/** Where an app's client goes, next to protoc-gen-es's <app>_pb.ts. */
export function appClientFile(app: AppModel): string {
  return app.protoFile.replace(/\.proto$/, "_client.ts");
}

/**
 * An app's client module: a class extending the SDK's AppClient with one
 * method per operation, and its create<App>Client factory.
 *
 * @param sdkImport the SDK's app-client module, relative to the output
 *   directory (e.g. ../src/sdk/app-client.js for out: gen).
 */
export function appClientSource(app: AppModel, header: string, sdkImport: string): string {
  const file = appClientFile(app);
  const className = `${pascalCase(app.name)}Client`;
  const typeName = appOperationTypeName(app);
  const lines = [
    header,
    "",
    `import { AppClient, type AppHoldOptions, type AppRecordItem, type AppRecordOptions, type AppTransferItem, type Hold, type LedgerClient, type RecordedEntry } from "${relativeTo(file, sdkImport)}";`,
    `import { ${appConstName(app)}, type ${typeName} } from "${relativeTo(file, REGISTRY_FILE.replace(/\.ts$/, ".js"))}";`,
    "",
    `/** An item of ${className}.recordEntries: its operation is one of app "${app.name}"'s. */`,
    `export type ${pascalCase(app.name)}RecordItem = AppRecordItem<${typeName}>;`,
    "",
    `/** An item of ${className}.createTransfers: its operation, if any, is one of app "${app.name}"'s. */`,
    `export type ${pascalCase(app.name)}TransferItem = AppTransferItem<${typeName}>;`,
    "",
    `/** A client of app "${app.name}" (${app.protoFile}): it records and transfers with only the app's operations. */`,
    `export class ${className} extends AppClient<${typeName}> {`,
  ];
  app.operations.forEach((op, index) => {
    lines.push(...(index === 0 ? [] : [""]), ...operationMethod(op));
  });
  lines.push(
    "}",
    "",
    `/** The typed client of app "${app.name}" on top of a LedgerClient (see createLedgerClient). */`,
    `export function create${className}(ledger: LedgerClient): ${className} {`,
    `  return new ${className}(ledger, ${appConstName(app)});`,
    "}",
    "",
  );
  return lines.join("\n");
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

/**
 * One operation's method: it records, or with `pending: true` holds and
 * returns a Hold (the record overload last, so ReturnType is RecordedEntry).
 */
function operationMethod(op: OperationModel): string[] {
  const method = camelCase(op.name);
  return [
    `  /** Holds ${op.name} (\`pending: true\`, \`pendingExpiresAt\`): a Hold to post or void before it expires. */`,
    `  ${method}(ledgerId: string, options: AppHoldOptions): Promise<Hold>;`,
    `  /** ${operationDoc(op)} */`,
    `  ${method}(ledgerId: string, options?: AppRecordOptions): Promise<RecordedEntry>;`,
    `  ${method}(ledgerId: string, options?: AppRecordOptions | AppHoldOptions): Promise<RecordedEntry | Hold> {`,
    `    return this.recordOrHold(ledgerId, ${JSON.stringify(op.name)}, options);`,
    "  }",
  ];
}

function operationDoc(op: OperationModel): string {
  const sign = op.defaultAmountMinor > 0n ? "+" : "";
  const kind = op.shared ? "shared operation" : "operation";
  const what = op.description.length > 0 ? ` ${op.description.replace(/\*\//g, "* /")}` : "";
  return `Records ${op.name} (${kind}, ${op.direction.toLowerCase()}, default ${sign}${op.defaultAmountMinor}).${what}`;
}

/** An import specifier from one generated file to a path relative to the output directory. */
function relativeTo(fromFile: string, target: string): string {
  const specifier = posix.relative(posix.dirname(fromFile), target);
  return specifier.startsWith(".") ? specifier : `./${specifier}`;
}
