/**
 * gen/apps/registry.ts: every app's operations and policies as plain data,
 * for the server's registry (src/store/app-operations.ts), the SDK and any UI.
 */
import type { AppModel, LedgerAppsModel, OperationModel } from "./app-model.js";
import { pascalCase } from "./names.js";

/** The registry's path under the output directory. */
export const REGISTRY_FILE = "apps/registry.ts";

/** UPPER_SNAKE name of an app's constant: "content" → CONTENT_APP. */
export function appConstName(app: AppModel): string {
  return `${app.name.replace(/-/g, "_").toUpperCase()}_APP`;
}

/** The union type of an app's operation names: "content" → ContentOperationName. */
export function appOperationTypeName(app: AppModel): string {
  return `${pascalCase(app.name)}OperationName`;
}

/** The registry module: types, SHARED_OPERATIONS, one <APP>_APP per app and APPS. */
export function registrySource(model: LedgerAppsModel, header: string): string {
  const lines = [
    header,
    "",
    "/** Which sign an operation's amount must have: CREDIT > 0, DEBIT < 0, EITHER any (0 too). */",
    'export type OperationDirection = "CREDIT" | "DEBIT" | "EITHER";',
    "",
    "/**",
    " * One operation and its policy, from its (ledger.v1.policy) option: the server",
    " * checks the direction (AMOUNT_DIRECTION_MISMATCH), then fixed or the bounds",
    " * (AMOUNT_NOT_ALLOWED).",
    " */",
    "export interface OperationSpec<Name extends string = string> {",
    "  /** The wire name, sent in RecordEntryRequest.operation. */",
    "  readonly name: Name;",
    "  readonly direction: OperationDirection;",
    "  /** Signed minor units, used when a request leaves the amount out. */",
    "  readonly defaultAmountMinor: bigint;",
    "  /** Only defaultAmountMinor is accepted: a request leaves the amount out or sends exactly it. */",
    "  readonly fixed: boolean;",
    "  /** Inclusive lower bound of |amount| in minor units; undefined: none. */",
    "  readonly amountMinAbsMinor: bigint | undefined;",
    "  /** Inclusive upper bound of |amount| in minor units; undefined: none. */",
    "  readonly amountMaxAbsMinor: bigint | undefined;",
    "  /** True for the operations every app has (ledger.v1.SharedOperation). */",
    "  readonly shared: boolean;",
    "  /** The proto comment of the operation. */",
    "  readonly description: string;",
    "}",
    "",
    "/** An app and its operations: the shared ones and its own, in declaration order. */",
    "export interface AppSpec<Name extends string = string> {",
    "  /** As in Ledger.app. */",
    "  readonly app: string;",
    "  /** The proto file that declares it. */",
    "  readonly protoFile: string;",
    "  readonly operations: readonly OperationSpec<Name>[];",
    "}",
    "",
    "/** The operations every app supports. */",
    `export type SharedOperationName = ${unionOf(model.shared)};`,
    "",
    "/** The shared operations (ledger.v1.SharedOperation); apps that are not declared get only these. */",
    "export const SHARED_OPERATIONS: readonly OperationSpec<SharedOperationName>[] = [",
    ...model.shared.map((op) => `  ${operationLiteral(op)},`),
    "];",
  ];
  for (const app of model.apps) {
    lines.push(
      "",
      `/** The operations of app "${app.name}" (${app.protoFile}). */`,
      `export type ${appOperationTypeName(app)} = ${unionOf(app.operations)};`,
      "",
      `/** App "${app.name}": ${app.enumTypeName} in ${app.protoFile}. */`,
      `export const ${appConstName(app)}: AppSpec<${appOperationTypeName(app)}> = {`,
      `  app: ${JSON.stringify(app.name)},`,
      `  protoFile: ${JSON.stringify(app.protoFile)},`,
      "  operations: [",
      ...app.operations.map((op) => `    ${operationLiteral(op)},`),
      "  ],",
      "};",
    );
  }
  lines.push(
    "",
    "/** The apps declared under proto/apps, by name. */",
    `export type AppName = ${model.apps.length === 0 ? "never" : model.apps.map((a) => JSON.stringify(a.name)).join(" | ")};`,
    "",
    "/** Every declared app with its operations, sorted by name: what the server enforces. */",
    `export const APPS: readonly AppSpec[] = [${model.apps.map(appConstName).join(", ")}];`,
    "",
  );
  return lines.join("\n");
}

function unionOf(operations: readonly OperationModel[]): string {
  return operations.length === 0
    ? "never"
    : operations.map((op) => JSON.stringify(op.name)).join(" | ");
}

function operationLiteral(op: OperationModel): string {
  return [
    `{ name: ${JSON.stringify(op.name)}`,
    `direction: ${JSON.stringify(op.direction)}`,
    `defaultAmountMinor: ${op.defaultAmountMinor}n`,
    `fixed: ${op.fixed}`,
    `amountMinAbsMinor: ${bigintLiteral(op.amountMinAbsMinor)}`,
    `amountMaxAbsMinor: ${bigintLiteral(op.amountMaxAbsMinor)}`,
    `shared: ${op.shared}`,
    `description: ${JSON.stringify(op.description)} }`,
  ].join(", ");
}

function bigintLiteral(value: bigint | undefined): string {
  return value === undefined ? "undefined" : `${value}n`;
}
