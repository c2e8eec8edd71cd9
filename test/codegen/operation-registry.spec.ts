/**
 * The server's operation registry comes from the generated proto
 * declarations: each declared app has exactly its operations with the
 * proto's policies, an undeclared app only the shared ones, REVERSAL belongs
 * to no app; and the domain refuses to build an incoherent registry (a
 * programming error, whatever its source).
 */
import { describe, expect, it } from "vitest";
import { APPS, CONTENT_APP, LEARNING_APP } from "../../gen/apps/registry.js";
import {
  createOperationRegistry,
  InvariantViolation,
  type OperationPolicy,
  resolveEntryAmount,
} from "../../src/domain/index.js";
import { appOperationRegistry, SHARED_OPERATIONS } from "../../src/store/app-operations.js";

const registry = appOperationRegistry();
const policies = (app: string) =>
  [...registry.operationsFor(app).values()].map((p) => [p.name, p.direction, p.defaultAmountMinor]);

describe("the generated registry", () => {
  it("gives content and learning their proto operations, the shared ones included", () => {
    expect(APPS.map((app) => app.app)).toEqual(["content", "learning"]);
    expect(policies("content")).toEqual([
      ["DAILY_REWARD", "CREDIT", 1n],
      ["SIGNUP_CREDIT", "CREDIT", 3n],
      ["CREDIT_SPEND", "DEBIT", -1n],
      ["CREDIT_ADD", "CREDIT", 10n],
      ["CONTENT_CREATION", "DEBIT", -5n],
      ["CONTENT_ACCESS", "EITHER", 0n],
    ]);
    expect(policies("learning").slice(4)).toEqual([
      ["COURSE_ENROLLMENT", "DEBIT", -1n],
      ["SEAT_PURCHASE", "CREDIT", 1n],
    ]);
    expect(CONTENT_APP.protoFile).toBe("apps/content/v1/content.proto");
    expect(LEARNING_APP.operations.filter((op) => op.shared)).toHaveLength(
      SHARED_OPERATIONS.length,
    );
  });

  it("gives an app not declared in proto only the shared operations, and REVERSAL to nobody", () => {
    expect(policies("some-new-app")).toEqual(policies("content").slice(0, 4));
    for (const app of ["content", "learning", "some-new-app"]) {
      expect(registry.operationsFor(app).has("REVERSAL")).toBe(false);
    }
    expect(() =>
      resolveEntryAmount(registry, "some-new-app", "CONTENT_CREATION", undefined),
    ).toThrow(expect.objectContaining({ reason: "UNKNOWN_OPERATION" }));
    expect(resolveEntryAmount(registry, "content", "CONTENT_ACCESS", undefined)).toBe(0n);
    expect(resolveEntryAmount(registry, "content", "CONTENT_CREATION", undefined)).toBe(-5n);
  });
});

describe("createOperationRegistry refuses an incoherent catalog", () => {
  const shared: OperationPolicy[] = [
    { name: "DAILY_REWARD", direction: "CREDIT", defaultAmountMinor: 1n },
  ];
  const cases: [string, Parameters<typeof createOperationRegistry>[0], RegExp][] = [
    [
      "a missing shared operation",
      { shared, apps: [{ app: "a", operations: [] }] },
      /lacks the shared operation DAILY_REWARD/,
    ],
    [
      "a changed shared policy",
      {
        shared,
        apps: [
          { app: "a", operations: [{ ...shared[0], defaultAmountMinor: 2n } as OperationPolicy] },
        ],
      },
      /changes the policy of the shared operation DAILY_REWARD/,
    ],
    [
      "REVERSAL",
      {
        shared,
        apps: [
          {
            app: "a",
            operations: [
              ...shared,
              { name: "REVERSAL", direction: "EITHER", defaultAmountMinor: 0n },
            ],
          },
        ],
      },
      /declares the built-in REVERSAL/,
    ],
    [
      "a default against the direction",
      { shared: [{ name: "X", direction: "DEBIT", defaultAmountMinor: 1n }], apps: [] },
      /X's default amount 1 is not a DEBIT/,
    ],
    [
      "an app declared twice",
      {
        shared,
        apps: [
          { app: "a", operations: shared },
          { app: "a", operations: shared },
        ],
      },
      /app "a" is declared twice/,
    ],
  ];
  it.each(cases)("%s", (_name, catalog, message) => {
    expect(() => createOperationRegistry(catalog)).toThrow(InvariantViolation);
    expect(() => createOperationRegistry(catalog)).toThrow(message);
  });
});
