/**
 * Reads the shared operations and every app's operations from the schema and
 * checks them, so a broken declaration fails `buf generate` with a message
 * naming the app, the file and the operation.
 */
import {
  type DescEnum,
  type DescEnumValue,
  type DescExtension,
  type DescFile,
  getOption,
  hasOption,
  type Message,
} from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import { getComments } from "@bufbuild/protoplugin";
import {
  BUILT_IN_OPERATIONS,
  matchesDirection,
  policyProblems,
  samePolicy,
} from "../domain/operations.js";
import {
  AppDeclarationError,
  type AppModel,
  type DirectionName,
  type LedgerAppsModel,
  type OperationModel,
} from "./app-model.js";
import { camelCase, enumValuePrefix, RESERVED_METHOD_NAMES } from "./names.js";

const APP_OPTION = "ledger.v1.app";
const POLICY_OPTION = "ledger.v1.policy";
const SHARED_ENUM = "ledger.v1.SharedOperation";
/** As the server's app check (src/domain/validation.ts), with its 64-character limit. */
const APP_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;
const DIRECTION_PREFIX = "OPERATION_DIRECTION_";

interface Policy {
  readonly direction: DirectionName;
  readonly defaultAmountMinor: bigint;
  readonly fixed: boolean;
  readonly amountMinAbsMinor: bigint | undefined;
  readonly amountMaxAbsMinor: bigint | undefined;
}

interface Extensions {
  readonly app: DescExtension;
  readonly policy: DescExtension & { fieldKind: "message" };
}

/**
 * Returns undefined when the schema does not contain ledger/v1/operations.proto
 * (buf ran the plugin on unrelated files): there is nothing to generate.
 * Throws one AppDeclarationError listing every problem found.
 */
export function readLedgerApps(
  allFiles: readonly DescFile[],
  filesToGenerate: readonly DescFile[],
): LedgerAppsModel | undefined {
  const extensions = findExtensions(allFiles);
  if (extensions === undefined) {
    return undefined;
  }
  const problems: string[] = [];
  const sharedEnum = allFiles.flatMap((file) => file.enums).find((e) => e.typeName === SHARED_ENUM);
  if (sharedEnum === undefined) {
    throw new AppDeclarationError(`${SHARED_ENUM} is missing: it defines the shared operations`);
  }
  const shared = readSharedOperations(sharedEnum, extensions, problems);
  const apps = filesToGenerate
    .flatMap((file) => file.enums)
    .filter((e) => hasOption(e, extensions.app))
    .map((e) => readApp(e, shared, extensions, problems))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  checkUniqueAppNames(apps, problems);
  if (problems.length > 0) {
    throw new AppDeclarationError(
      `refusing to generate the ledger apps:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
  return { shared, apps };
}

function findExtensions(allFiles: readonly DescFile[]): Extensions | undefined {
  const all = allFiles.flatMap((file) => file.extensions);
  const app = all.find((ext) => ext.typeName === APP_OPTION);
  const policy = all.find((ext) => ext.typeName === POLICY_OPTION);
  if (app === undefined || policy === undefined || policy.fieldKind !== "message") {
    return undefined;
  }
  return { app, policy };
}

function readSharedOperations(
  sharedEnum: DescEnum,
  extensions: Extensions,
  problems: string[],
): OperationModel[] {
  const prefix = enumValuePrefix(sharedEnum.name);
  const operations: OperationModel[] = [];
  for (const value of operationValues(sharedEnum)) {
    const where = `${sharedEnum.file.proto.name}: ${value.name}`;
    const name = wireName(value, prefix, where, problems);
    const policy = readPolicy(value, extensions, where, problems);
    if (name === undefined) {
      continue;
    }
    if (policy === "absent") {
      problems.push(`${where}: a shared operation needs a (ledger.v1.policy)`);
    }
    if (typeof policy === "string") {
      continue;
    }
    operations.push({ name, ...policy, shared: true, description: describe(value) });
  }
  return operations;
}

function readApp(
  appEnum: DescEnum,
  shared: readonly OperationModel[],
  extensions: Extensions,
  problems: string[],
): AppModel {
  const name = getOption(appEnum, extensions.app);
  const label = `app "${String(name)}" (${appEnum.file.proto.name}, enum ${appEnum.typeName})`;
  if (typeof name !== "string" || !APP_NAME_PATTERN.test(name)) {
    problems.push(
      `${label}: the app name must be 1 to 64 lowercase letters, digits, '-' or '_', starting with a letter`,
    );
  }
  const prefix = enumValuePrefix(appEnum.name);
  const sharedByName = new Map(shared.map((op) => [op.name, op]));
  const operations: OperationModel[] = [];
  const methods = new Map<string, string>();
  for (const value of operationValues(appEnum)) {
    const where = `${label}, ${value.name}`;
    const opName = wireName(value, prefix, where, problems);
    if (opName === undefined) {
      continue;
    }
    if (BUILT_IN_OPERATIONS.has(opName)) {
      problems.push(
        `${label} declares ${opName}, the built-in operation of ReverseTransaction: remove it`,
      );
      continue;
    }
    const policy = readPolicy(value, extensions, where, problems);
    const sharedOp = sharedByName.get(opName);
    if (sharedOp !== undefined) {
      if (typeof policy !== "string" && !samePolicy({ name: opName, ...policy }, sharedOp)) {
        problems.push(
          `${label}: ${opName} is a shared operation (${formatPolicy(sharedOp)}); the app repeats it as ${formatPolicy(policy)}: remove the option or make it identical`,
        );
      }
      operations.push(sharedOp);
    } else if (policy === "absent") {
      problems.push(
        `${label}: ${opName} needs a (ledger.v1.policy) with direction and default_amount`,
      );
    } else if (policy !== "invalid") {
      operations.push({ name: opName, ...policy, shared: false, description: describe(value) });
    }
    const method = camelCase(opName);
    if (RESERVED_METHOD_NAMES.has(method)) {
      problems.push(
        `${label}: ${opName} would generate method ${method}(), which the SDK's AppClient already has`,
      );
    }
    const clash = methods.get(method);
    if (clash !== undefined) {
      problems.push(`${label}: ${opName} and ${clash} would both generate method ${method}()`);
    }
    methods.set(method, opName);
  }
  const declared = new Set(operations.map((op) => op.name));
  for (const op of shared) {
    if (!declared.has(op.name)) {
      problems.push(
        `${label} lacks the shared operation ${op.name}: add ${prefix}${op.name} to the enum`,
      );
    }
  }
  return {
    name: String(name),
    protoFile: appEnum.file.proto.name,
    enumTypeName: appEnum.typeName,
    operations,
  };
}

/** Every value but the zero value (X_UNSPECIFIED, required by buf lint). */
function operationValues(e: DescEnum): DescEnumValue[] {
  return e.values.filter((value) => value.number !== 0);
}

function wireName(
  value: DescEnumValue,
  prefix: string,
  where: string,
  problems: string[],
): string | undefined {
  if (!value.name.startsWith(prefix) || value.name.length === prefix.length) {
    problems.push(`${where}: the value must be named ${prefix}<OPERATION>`);
    return undefined;
  }
  return value.name.slice(prefix.length);
}

function readPolicy(
  value: DescEnumValue,
  extensions: Extensions,
  where: string,
  problems: string[],
): Policy | "absent" | "invalid" {
  if (!hasOption(value, extensions.policy)) {
    return "absent";
  }
  const policy = reflect(extensions.policy.message, getOption(value, extensions.policy) as Message);
  const field = (name: string) => {
    const found = policy.fields.find((f) => f.name === name);
    if (found === undefined) {
      throw new AppDeclarationError(`ledger.v1.OperationPolicy lacks ${name}`);
    }
    return found;
  };
  const directionField = field("direction");
  const amountField = field("default_amount");
  if (directionField.fieldKind !== "enum" || amountField.fieldKind !== "scalar") {
    throw new AppDeclarationError("ledger.v1.OperationPolicy lacks direction or default_amount");
  }
  const int64 = (name: string): bigint | undefined => {
    const f = field(name);
    return policy.isSet(f) ? BigInt(policy.get(f) as bigint | string) : undefined;
  };
  const directionNumber = policy.get(directionField);
  const directionValue = directionField.enum.values.find((v) => v.number === directionNumber);
  const direction = directionValue?.name.slice(DIRECTION_PREFIX.length);
  if (direction !== "CREDIT" && direction !== "DEBIT" && direction !== "EITHER") {
    problems.push(
      `${where}: the policy needs a direction (OPERATION_DIRECTION_CREDIT, _DEBIT or _EITHER)`,
    );
    return "invalid";
  }
  const defaultAmountMinor = int64("default_amount");
  if (defaultAmountMinor === undefined) {
    problems.push(`${where}: the policy needs a default_amount`);
    return "invalid";
  }
  if (!matchesDirection(direction, defaultAmountMinor)) {
    problems.push(
      `${where}: default_amount ${defaultAmountMinor} disagrees with direction ${direction} (a credit is > 0, a debit < 0)`,
    );
    return "invalid";
  }
  const read: Policy = {
    direction,
    defaultAmountMinor,
    fixed: policy.get(field("fixed")) === true,
    amountMinAbsMinor: int64("amount_min_abs"),
    amountMaxAbsMinor: int64("amount_max_abs"),
  };
  const contradictions = policyProblems(read);
  if (contradictions.length > 0) {
    problems.push(...contradictions.map((problem) => `${where}: ${problem}`));
    return "invalid";
  }
  return read;
}

function formatPolicy(p: Policy): string {
  const bounds = [
    p.amountMinAbsMinor === undefined ? "" : ` amount_min_abs ${p.amountMinAbsMinor}`,
    p.amountMaxAbsMinor === undefined ? "" : ` amount_max_abs ${p.amountMaxAbsMinor}`,
  ].join("");
  return `${p.direction} default ${p.defaultAmountMinor}${p.fixed ? " fixed" : ""}${bounds}`;
}

function checkUniqueAppNames(apps: readonly AppModel[], problems: string[]): void {
  const seen = new Map<string, AppModel>();
  for (const app of apps) {
    const first = seen.get(app.name);
    if (first !== undefined) {
      problems.push(
        `app "${app.name}" is declared twice: ${first.enumTypeName} (${first.protoFile}) and ${app.enumTypeName} (${app.protoFile})`,
      );
    }
    seen.set(app.name, app);
  }
}

function describe(value: DescEnumValue): string {
  return (getComments(value).leading ?? "").trim().replace(/\s+/g, " ");
}
