/**
 * gen/apps/<app>/v1/<app>_client.ts: a typed client per app whose operation
 * parameters (record, recordEntries, transfer, createTransfers) admit
 * exactly that app's operations, with one method per operation (which holds
 * instead, returning a Hold, with `pending: true`); and gen/apps/clients.ts
 * re-exporting them all.
 */
import { posix } from "node:path";
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
    `import { ${sdkImports(app).join(", ")} } from "${relativeTo(file, sdkImport)}";`,
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

/** The SDK names an app's client module imports: the fixed options only when it has a fixed operation. */
function sdkImports(app: AppModel): string[] {
  const fixed = app.operations.some((op) => op.fixed)
    ? ["type AppFixedHoldOptions", "type AppFixedRecordOptions"]
    : [];
  return [
    "AppClient",
    ...fixed,
    "type AppHoldOptions",
    "type AppRecordItem",
    "type AppRecordOptions",
    "type AppTransferItem",
    "type Hold",
    "type LedgerClient",
    "type RecordedEntry",
  ];
}

/**
 * One operation's method: it records, or with `pending: true` holds and
 * returns a Hold (the record overload last, so ReturnType is RecordedEntry).
 * A fixed operation's options have no amount: passing one does not compile.
 */
function operationMethod(op: OperationModel): string[] {
  const method = camelCase(op.name);
  const [record, hold] = op.fixed
    ? ["AppFixedRecordOptions", "AppFixedHoldOptions"]
    : ["AppRecordOptions", "AppHoldOptions"];
  return [
    `  /** Holds ${op.name} (\`pending: true\`, \`pendingExpiresAt\`): a Hold to post or void before it expires. */`,
    `  ${method}(ledgerId: string, options: ${hold}): Promise<Hold>;`,
    `  /** ${operationDoc(op)} */`,
    `  ${method}(ledgerId: string, options?: ${record}): Promise<RecordedEntry>;`,
    `  ${method}(ledgerId: string, options?: ${record} | ${hold}): Promise<RecordedEntry | Hold> {`,
    `    return this.recordOrHold(ledgerId, ${JSON.stringify(op.name)}, options);`,
    "  }",
  ];
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
