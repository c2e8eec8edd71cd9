/**
 * The generated app clients are typed by their proto enums: `tsc --noEmit`
 * (run by CI over test/) rejects another app's operation and a misspelt one
 * at every `@ts-expect-error` below, and `expectTypeOf` pins each client's
 * operation union to exactly its app's operations. The calls sit in
 * functions that never run: this spec proves types, not behaviour.
 */
import { describe, expectTypeOf, it } from "vitest";
import {
  type AppRecordOptions,
  type ContentClient,
  type ContentOperationName,
  createContentClient,
  createLearningClient,
  type LearningClient,
  type LearningOperationName,
  type LedgerClient,
  type RecordedEntry,
  type SharedOperationName,
} from "../../src/sdk/index.js";

type Shared = "DAILY_REWARD" | "SIGNUP_CREDIT" | "CREDIT_SPEND" | "CREDIT_ADD";

describe("generated app client types", () => {
  it("admit exactly each app's operations", () => {
    expectTypeOf<SharedOperationName>().toEqualTypeOf<Shared>();
    expectTypeOf<ContentOperationName>().toEqualTypeOf<
      Shared | "CONTENT_CREATION" | "CONTENT_ACCESS"
    >();
    expectTypeOf<LearningOperationName>().toEqualTypeOf<
      Shared | "COURSE_ENROLLMENT" | "SEAT_PURCHASE"
    >();
    expectTypeOf<Parameters<ContentClient["record"]>[1]>().toEqualTypeOf<ContentOperationName>();
    expectTypeOf<Parameters<LearningClient["record"]>[1]>().toEqualTypeOf<LearningOperationName>();
  });

  it("have one method per operation, shared ones included", () => {
    expectTypeOf<ContentClient["contentCreation"]>().toEqualTypeOf<
      (ledgerId: string, options?: AppRecordOptions) => Promise<RecordedEntry>
    >();
    expectTypeOf<ContentClient>().toHaveProperty("contentAccess");
    expectTypeOf<ContentClient>().toHaveProperty("dailyReward");
    expectTypeOf<LearningClient>().toHaveProperty("courseEnrollment");
    expectTypeOf<LearningClient>().toHaveProperty("creditSpend");
    expectTypeOf<ContentClient>().not.toHaveProperty("courseEnrollment");
    expectTypeOf<LearningClient>().not.toHaveProperty("contentCreation");
  });

  it("reject another app's operation and misspelt ones (checked by tsc)", () => {
    // Never called: the body only has to compile, with the errors expected.
    const neverRun = (ledger: LedgerClient, ledgerId: string) => {
      const content = createContentClient(ledger);
      const learning = createLearningClient(ledger);

      content.record(ledgerId, "CONTENT_CREATION");
      learning.record(ledgerId, "COURSE_ENROLLMENT");
      content.record(ledgerId, "DAILY_REWARD");

      // @ts-expect-error COURSE_ENROLLMENT is the learning app's, not the content app's
      content.record(ledgerId, "COURSE_ENROLLMENT");
      // @ts-expect-error CONTENT_CREATION is the content app's, not the learning app's
      learning.record(ledgerId, "CONTENT_CREATION");
      // @ts-expect-error misspelt
      content.record(ledgerId, "CONTENT_CREATON");
      // @ts-expect-error wrong case
      content.record(ledgerId, "content_creation");
      // @ts-expect-error REVERSAL is built in, never an app's operation
      content.record(ledgerId, "REVERSAL");
      // @ts-expect-error no such method on the content client
      content.courseEnrollment(ledgerId);
      // @ts-expect-error misspelt method
      content.contentCreaton(ledgerId);
      // @ts-expect-error amounts are bigint minor units, never numbers
      content.contentCreation(ledgerId, { amountMinor: -5 });
    };
    expectTypeOf(neverRun).toBeFunction();
  });
});
