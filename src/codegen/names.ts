/** UPPER_SNAKE → camelCase: CONTENT_CREATION → contentCreation. */
export function camelCase(upperSnake: string): string {
  const [first = "", ...rest] = upperSnake.toLowerCase().split("_");
  return first + rest.map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join("");
}

/** lower-kebab or snake → PascalCase: "content" → Content, "my-app" → MyApp. */
export function pascalCase(name: string): string {
  return name
    .split(/[-_]/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("");
}

/** PascalCase enum name → the prefix of its values: ContentOperation → CONTENT_OPERATION_. */
export function enumValuePrefix(enumName: string): string {
  return `${enumName.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()}_`;
}

/**
 * Members of the SDK's AppClient (src/sdk/app-client.ts): an operation whose
 * method name would shadow one of them is refused.
 */
export const RESERVED_METHOD_NAMES: ReadonlySet<string> = new Set([
  "app",
  "ledger",
  "record",
  "recordOrHold",
  "recordEntries",
  "transfer",
  "createTransfers",
  "createLedger",
  "listLedgers",
  "getBalance",
  "constructor",
]);
