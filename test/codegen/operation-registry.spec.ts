/**
 * The server's operation registry comes from the generated proto
 * declarations: each declared app has exactly its operations with the
 * proto's policies (DAILY_REWARD, SIGNUP_CREDIT and CONTENT_CREATION fixed),
 * an undeclared app only the shared ones, REVERSAL belongs to no app; the
 * domain refuses to build an incoherent registry (a programming error,
 * whatever its source); and resolving an amount checks the direction, then
 * the fixed amount or the bounds (AMOUNT_NOT_ALLOWED), on the magnitude for
 * a transfer.
 */
import { describe, expect, it } from "vitest";
import { APPS, CONTENT_APP, LEARNING_APP } from "../../gen/apps/registry.js";
import {
  createOperationRegistry,
  InvariantViolation,
  LedgerError,
  type OperationPolicy,
  resolveEntryAmount,
  resolveTransferOperation,
} from "../../src/domain/index.js";
import { appOperationRegistry, SHARED_OPERATIONS } from "../../src/store/app-operations.js";

const registry = appOperationRegistry();
const policies = (app: string) =>
  [...registry.operationsFor(app).values()].map((p) => [
    p.name,
    p.direction,
    p.defaultAmountMinor,
    ...(p.fixed === true ? ["fixed"] : []),
    ...(p.amountMinAbsMinor === undefined && p.amountMaxAbsMinor === undefined
      ? []
      : [p.amountMinAbsMinor, p.amountMaxAbsMinor]),
  ]);

describe("the generated registry", () => {
  it("gives content and learning their proto operations, the shared ones included", () => {
    expect(APPS.map((app) => app.app)).toEqual(["content", "learning"]);
    expect(policies("content")).toEqual([
      ["DAILY_REWARD", "CREDIT", 1n, "fixed"],
      ["SIGNUP_CREDIT", "CREDIT", 3n, "fixed"],
      ["CREDIT_SPEND", "DEBIT", -1n],
      ["CREDIT_ADD", "CREDIT", 10n],
      ["CONTENT_CREATION", "DEBIT", -5n, "fixed"],
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
  const bounded: OperationPolicy = {
    name: "TIP",
    direction: "CREDIT",
    defaultAmountMinor: 5n,
    amountMinAbsMinor: 2n,
    amountMaxAbsMinor: 20n,
  };
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
      "a shared policy repeated without its fixed",
      {
        shared: [{ ...shared[0], fixed: true } as OperationPolicy],
        apps: [{ app: "a", operations: shared }],
      },
      /changes the policy of the shared operation DAILY_REWARD/,
    ],
    [
      "fixed with bounds",
      { shared: [{ ...bounded, fixed: true }], apps: [] },
      /the shared operations: TIP: fixed excludes amount_min_abs and amount_max_abs/,
    ],
    [
      "a lower bound above the upper one",
      { shared: [{ ...bounded, amountMinAbsMinor: 30n }], apps: [] },
      /TIP: amount_min_abs 30 is above amount_max_abs 20/,
    ],
    [
      "a negative bound",
      { shared: [{ ...bounded, amountMinAbsMinor: -1n }], apps: [] },
      /TIP: amount_min_abs -1 is negative/,
    ],
    [
      "a default outside the bounds",
      { shared: [{ ...bounded, defaultAmountMinor: 25n }], apps: [] },
      /TIP: default_amount 25 is outside \|amount\| from 2 to 20/,
    ],
    [
      "bounds no amount of the direction meets",
      {
        shared: [
          {
            name: "NONE",
            direction: "DEBIT",
            defaultAmountMinor: -1n,
            amountMaxAbsMinor: 0n,
          },
        ],
        apps: [],
      },
      /NONE: amount_max_abs 0 admits no DEBIT amount/,
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

describe("an amount is checked against the direction, then the fixed amount or the bounds", () => {
  const policies = createOperationRegistry({
    shared: [
      { name: "REWARD", direction: "CREDIT", defaultAmountMinor: 1n, fixed: true },
      { name: "FEE", direction: "DEBIT", defaultAmountMinor: -5n, fixed: true },
      { name: "ZERO", direction: "EITHER", defaultAmountMinor: 0n, fixed: true },
      {
        name: "WAGER",
        direction: "DEBIT",
        defaultAmountMinor: -5n,
        amountMinAbsMinor: 2n,
        amountMaxAbsMinor: 50n,
      },
      { name: "TIP", direction: "EITHER", defaultAmountMinor: 0n, amountMaxAbsMinor: 10n },
    ],
    apps: [],
  });
  const entry = (operation: string, amount: bigint | undefined) =>
    resolveEntryAmount(policies, "any", operation, amount);
  const transfer = (operation: string, amount: bigint) =>
    resolveTransferOperation(policies, "any", operation, amount);
  const refusal = (call: () => unknown): LedgerError => {
    try {
      call();
    } catch (error) {
      expect(error).toBeInstanceOf(LedgerError);
      return error as LedgerError;
    }
    throw new Error("not refused");
  };

  it("a fixed operation takes its default, absent or sent exactly, and refuses any other", () => {
    expect(entry("REWARD", undefined)).toBe(1n);
    expect(entry("REWARD", 1n)).toBe(1n);
    expect(entry("FEE", -5n)).toBe(-5n);
    expect(entry("ZERO", 0n)).toBe(0n);
    const tooMuch = refusal(() => entry("REWARD", 1_000_000n));
    expect([tooMuch.reason, tooMuch.metadata]).toEqual([
      "AMOUNT_NOT_ALLOWED",
      { operation: "REWARD", amount: "1000000", fixed_amount: "1" },
    ]);
    expect(tooMuch.message).toBe(
      "operation REWARD is fixed at +1: amount 1000000 is not allowed (leave the amount out)",
    );
    expect(refusal(() => entry("FEE", -4n)).metadata).toMatchObject({ fixed_amount: "-5" });
    expect(refusal(() => entry("ZERO", 3n)).reason).toBe("AMOUNT_NOT_ALLOWED");
    // The direction is checked first.
    expect(refusal(() => entry("REWARD", -1n)).reason).toBe("AMOUNT_DIRECTION_MISMATCH");
    expect(refusal(() => entry("FEE", 5n)).reason).toBe("AMOUNT_DIRECTION_MISMATCH");
  });

  it("a bounded operation takes a magnitude from min to max, both included", () => {
    expect(entry("WAGER", undefined)).toBe(-5n);
    expect(entry("WAGER", -2n)).toBe(-2n);
    expect(entry("WAGER", -50n)).toBe(-50n);
    for (const amount of [-1n, -51n]) {
      const refused = refusal(() => entry("WAGER", amount));
      expect([refused.reason, refused.metadata]).toEqual([
        "AMOUNT_NOT_ALLOWED",
        {
          operation: "WAGER",
          amount: amount.toString(),
          amount_min_abs: "2",
          amount_max_abs: "50",
        },
      ]);
      expect(refused.message).toBe(
        `operation WAGER allows |amount| from 2 to 50: amount ${amount} is not allowed`,
      );
    }
    expect(refusal(() => entry("WAGER", 3n)).reason).toBe("AMOUNT_DIRECTION_MISMATCH");
    expect([entry("TIP", -10n), entry("TIP", 10n), entry("TIP", 0n)]).toEqual([-10n, 10n, 0n]);
    expect(refusal(() => entry("TIP", -11n)).metadata).toEqual({
      operation: "TIP",
      amount: "-11",
      amount_max_abs: "10",
    });
  });

  it("a transfer's magnitude must be a fixed operation's |default| and lie within the bounds", () => {
    expect(transfer("REWARD", 1n)).toBe("REWARD");
    expect(transfer("FEE", 5n)).toBe("FEE");
    expect(refusal(() => transfer("REWARD", 2n)).metadata).toEqual({
      operation: "REWARD",
      amount: "2",
      fixed_amount: "1",
    });
    expect(refusal(() => transfer("FEE", 4n)).message).toBe(
      "operation FEE is fixed at -5: a transfer under it moves exactly 5, not 4",
    );
    expect([transfer("WAGER", 2n), transfer("WAGER", 50n)]).toEqual(["WAGER", "WAGER"]);
    expect(refusal(() => transfer("WAGER", 1n)).reason).toBe("AMOUNT_NOT_ALLOWED");
    expect(refusal(() => transfer("WAGER", 51n)).reason).toBe("AMOUNT_NOT_ALLOWED");
    // The built-in TRANSFER has no policy.
    expect(transfer("", 1_000_000n)).toBe("TRANSFER");
  });
});
