/**
 * The console shows amounts in their unit without ever going through a
 * float: cents as currency with two decimals, credits and seats as counts;
 * what a user types is read back into exact minor units, or refused.
 */
import { describe, expect, it } from "vitest";
import { AmountSyntaxError, formatAmount, formatSignedAmount, parseAmount } from "./format.js";

describe("formatAmount", () => {
  it("shows cents units as currency with two decimals and grouped thousands", () => {
    expect(formatAmount(123405n, "USD_CENTS")).toBe("$1,234.05");
    expect(formatAmount(-50n, "EUR_CENTS")).toBe("-€0.50");
    expect(formatAmount(0n, "USD_CENTS")).toBe("$0.00");
    expect(formatAmount(199n, "CHF_CENTS")).toBe("1.99 CHF");
  });

  it("is exact at the ends of the int64 range", () => {
    expect(formatAmount(-(2n ** 63n), "USD_CENTS")).toBe("-$92,233,720,368,547,758.08");
    expect(formatAmount(2n ** 63n - 1n, "CREDITS")).toBe("9,223,372,036,854,775,807 credits");
  });

  it("shows counted units as whole numbers with the right word", () => {
    expect(formatAmount(3n, "CREDITS")).toBe("3 credits");
    expect(formatAmount(1n, "CREDITS")).toBe("1 credit");
    expect(formatAmount(-1n, "SEATS")).toBe("-1 seat");
    expect(formatAmount(7n, "POINTS")).toBe("7 POINTS");
  });

  it("marks credits with a plus sign in signed form", () => {
    expect(formatSignedAmount(3n, "CREDITS")).toBe("+3 credits");
    expect(formatSignedAmount(-250n, "USD_CENTS")).toBe("-$2.50");
    expect(formatSignedAmount(0n, "CREDITS")).toBe("0 credits");
  });
});

describe("parseAmount", () => {
  it("reads currency amounts into cents", () => {
    expect(parseAmount("12.5", "USD_CENTS")).toBe(1250n);
    expect(parseAmount("-0.05", "USD_CENTS")).toBe(-5n);
    expect(parseAmount("+3", "USD_CENTS")).toBe(300n);
  });

  it("reads counted amounts as whole numbers", () => {
    expect(parseAmount(" -2 ", "CREDITS")).toBe(-2n);
  });

  it("refuses what is not an amount in the unit", () => {
    for (const [text, unit] of [
      ["1.5", "CREDITS"],
      ["1.234", "USD_CENTS"],
      ["abc", "CREDITS"],
      ["", "SEATS"],
      ["1e3", "CREDITS"],
    ] as const) {
      expect(() => parseAmount(text, unit), `${text} ${unit}`).toThrow(AmountSyntaxError);
    }
  });
});
