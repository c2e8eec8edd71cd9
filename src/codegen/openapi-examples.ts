/**
 * One example request per method, written in the proto beside the method as
 * the last part of its comment:
 *
 *     // Returns a ledger, terminated ones included (for audit).
 *     //
 *     // Example request: {"ledgerId": "{{ledgerId}}"}
 *
 * The plugin cannot know real ids, so examples name them by placeholders
 * `{{name}}` inside JSON strings, from the closed set below. The document
 * lists that set under `x-ledger-placeholders`; a reader (or the test,
 * test/server/openapi.spec.ts) replaces each by a real value before sending.
 * Generation fails on an example that is not JSON, names an unknown
 * placeholder, or would not decode as the method's request.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { checkJsonMessage } from "../rpc/strict-json.js";

const EXAMPLE_MARKER = /^Example request:\s*/m;
const PLACEHOLDER = /\{\{([A-Za-z]+)\}\}/g;

/** The placeholders an example may use, with what a reader puts in their place. */
export const PLACEHOLDERS: Readonly<Record<string, string>> = {
  ledgerId: "An active ledger of app `content`, unit CREDITS, with a balance of at least 10.",
  ownerId: "The owner of that ledger.",
  otherLedgerId: "Another active ledger of the same app and unit.",
  newOwnerId: "An owner with no ledger yet in unit CREDITS.",
  transactionId: "A posted CREDIT_ADD entry's transaction on `ledgerId`, not yet reversed.",
  pendingTransactionId: "An open hold (a PENDING CREDIT_SPEND of at least 2) on `ledgerId`.",
  key: "A fresh idempotency key (any string unique per app, e.g. a UUID).",
};

export interface MethodComment {
  /** The comment without its example: the method's description. */
  readonly description: string;
  /** The example request, placeholders kept; undefined when the comment has none. */
  readonly example: unknown;
}

/** Splits a method's comment into its description and its example request. */
export function splitMethodComment(method: DescMethod, comment: string): MethodComment {
  const marker = EXAMPLE_MARKER.exec(comment);
  if (marker === null) {
    return { description: comment, example: undefined };
  }
  const source = comment.slice(marker.index + marker[0].length);
  return {
    description: comment.slice(0, marker.index).trim(),
    example: parseExample(method, source),
  };
}

function parseExample(method: DescMethod, source: string): unknown {
  const where = `the example request of ${method.parent.typeName}.${method.name}`;
  let example: unknown;
  try {
    example = JSON.parse(source);
  } catch (error) {
    throw new Error(`${where} is not JSON: ${String(error)}`);
  }
  for (const [, name] of source.matchAll(PLACEHOLDER)) {
    if (name === undefined || !(name in PLACEHOLDERS)) {
      throw new Error(`${where} uses {{${name}}}, not one of ${Object.keys(PLACEHOLDERS)}`);
    }
  }
  try {
    checkJsonMessage(
      method.input,
      fillPlaceholders(example, () => "placeholder"),
    );
  } catch (error) {
    throw new Error(`${where} is not a valid ${method.input.typeName}: ${String(error)}`);
  }
  return example;
}

/**
 * The example with every `{{name}}` in its strings replaced by `fill(name)`.
 * Shared with the test, which fills in real ids.
 */
export function fillPlaceholders(example: unknown, fill: (name: string) => string): unknown {
  if (typeof example === "string") {
    return example.replace(PLACEHOLDER, (_, name: string) => fill(name));
  }
  if (Array.isArray(example)) {
    return example.map((item: unknown) => fillPlaceholders(item, fill));
  }
  if (typeof example === "object" && example !== null) {
    return Object.fromEntries(
      Object.entries(example).map(([key, value]) => [key, fillPlaceholders(value, fill)]),
    );
  }
  return example;
}
