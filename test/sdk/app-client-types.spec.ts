/**
 * The generated app clients are typed by their proto enums: `tsc --noEmit`
 * (run by CI over test/) rejects another app's operation and a misspelt one
 * (in `record`, `recordEntries`, `transfer` and `createTransfers`) at every
 * `@ts-expect-error` below, and `expectTypeOf` pins each client's
 * operation union to exactly its app's operations. Holds: `pending: true`
 * turns an operation's method, `record` and `transfer` into a Hold (post,
 * void), and `pendingExpiresAt` is refused without it. A fixed operation's
 * method (DAILY_REWARD, SIGNUP_CREDIT, CONTENT_CREATION) takes no amount. The calls sit in
 * functions that never run: this spec proves types, not behaviour.
 */
import { describe, expectTypeOf, it } from "vitest";
import {
  type AppFixedHoldOptions,
  type AppFixedRecordOptions,
  type AppHoldOptions,
  type AppRecordOptions,
  type ContentClient,
  type ContentOperationName,
  type ContentRecordItem,
  type ContentTransferItem,
  type CreateTransfersItem,
  createContentClient,
  createLearningClient,
  type Hold,
  type HoldEntriesItem,
  type LearningClient,
  type LearningOperationName,
  type LearningRecordItem,
  type LearningTransferItem,
  type LedgerClient,
  type PostedTransaction,
  type RecordEntriesItem,
  type RecordedEntry,
  type RecordedHold,
  type RecordedTransfer,
  type SharedOperationName,
  type VoidedTransaction,
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
    expectTypeOf<ContentRecordItem["operation"]>().toEqualTypeOf<ContentOperationName>();
    expectTypeOf<LearningRecordItem["operation"]>().toEqualTypeOf<LearningOperationName>();
    expectTypeOf<Parameters<ContentClient["recordEntries"]>[0]>().toEqualTypeOf<
      readonly ContentRecordItem[]
    >();
    expectTypeOf<ReturnType<ContentClient["recordEntries"]>>().toEqualTypeOf<
      Promise<RecordEntriesItem[]>
    >();
    expectTypeOf<
      NonNullable<Parameters<ContentClient["transfer"]>[3]>["operation"]
    >().toEqualTypeOf<ContentOperationName | undefined>();
    expectTypeOf<ContentTransferItem["operation"]>().toEqualTypeOf<
      ContentOperationName | undefined
    >();
    expectTypeOf<LearningTransferItem["operation"]>().toEqualTypeOf<
      LearningOperationName | undefined
    >();
    expectTypeOf<Parameters<ContentClient["createTransfers"]>[0]>().toEqualTypeOf<
      readonly ContentTransferItem[]
    >();
    expectTypeOf<ReturnType<ContentClient["transfer"]>>().toEqualTypeOf<
      Promise<RecordedTransfer>
    >();
    expectTypeOf<ReturnType<ContentClient["createTransfers"]>>().toEqualTypeOf<
      Promise<CreateTransfersItem[]>
    >();
  });

  it("have one method per operation, shared ones included", () => {
    // Two overloads: a hold, then a record (the last one is what Parameters and ReturnType see).
    expectTypeOf<ContentClient["contentAccess"]>().toEqualTypeOf<{
      (ledgerId: string, options: AppHoldOptions): Promise<Hold>;
      (ledgerId: string, options?: AppRecordOptions): Promise<RecordedEntry>;
    }>();
    // A fixed operation's method takes options without an amount.
    expectTypeOf<ContentClient["contentCreation"]>().toEqualTypeOf<{
      (ledgerId: string, options: AppFixedHoldOptions): Promise<Hold>;
      (ledgerId: string, options?: AppFixedRecordOptions): Promise<RecordedEntry>;
    }>();
    expectTypeOf<LearningClient["dailyReward"]>().toEqualTypeOf<{
      (ledgerId: string, options: AppFixedHoldOptions): Promise<Hold>;
      (ledgerId: string, options?: AppFixedRecordOptions): Promise<RecordedEntry>;
    }>();
    expectTypeOf<ReturnType<ContentClient["contentCreation"]>>().toEqualTypeOf<
      Promise<RecordedEntry>
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
      content.contentAccess(ledgerId, { amountMinor: -5 });

      content.recordEntries(
        [
          { ledgerId, operation: "CONTENT_CREATION" },
          { ledgerId, operation: "CREDIT_ADD", amountMinor: 5n },
        ],
        { atomic: true },
      );
      learning.recordEntries([{ ledgerId, operation: "SEAT_PURCHASE" }], { atomic: false });
      content.recordEntries(
        // @ts-expect-error COURSE_ENROLLMENT is the learning app's: no item of a content bulk call
        [{ ledgerId, operation: "COURSE_ENROLLMENT" }],
        { atomic: false },
      );
      learning.recordEntries(
        // @ts-expect-error CONTENT_CREATION is the content app's, not the learning app's
        [{ ledgerId, operation: "CONTENT_CREATION" }],
        { atomic: true },
      );
      const contentItems: ContentRecordItem[] = [];
      // @ts-expect-error a content item is no learning item
      learning.recordEntries(contentItems, { atomic: false });
      // @ts-expect-error atomic must be chosen: all or nothing, or each item alone
      content.recordEntries([{ ledgerId, operation: "CREDIT_ADD" }], {});

      content.transfer(ledgerId, ledgerId, 5n);
      content.transfer(ledgerId, ledgerId, 5n, { operation: "CONTENT_ACCESS" });
      learning.transfer(ledgerId, ledgerId, 1n, { operation: "SEAT_PURCHASE" });
      // @ts-expect-error COURSE_ENROLLMENT is the learning app's: no operation of a content transfer
      content.transfer(ledgerId, ledgerId, 5n, { operation: "COURSE_ENROLLMENT" });
      // @ts-expect-error CONTENT_CREATION is the content app's, not the learning app's
      learning.transfer(ledgerId, ledgerId, 1n, { operation: "CONTENT_CREATION" });
      // @ts-expect-error TRANSFER is built in: leave operation out for it
      content.transfer(ledgerId, ledgerId, 5n, { operation: "TRANSFER" });
      // @ts-expect-error amounts are bigint minor units, never numbers
      content.transfer(ledgerId, ledgerId, 5);
      content.createTransfers(
        [
          { fromLedgerId: ledgerId, toLedgerId: ledgerId, amountMinor: 5n },
          {
            fromLedgerId: ledgerId,
            toLedgerId: ledgerId,
            amountMinor: 1n,
            operation: "CONTENT_CREATION",
          },
        ],
        { atomic: true },
      );
      content.createTransfers(
        [
          {
            fromLedgerId: ledgerId,
            toLedgerId: ledgerId,
            amountMinor: 1n,
            // @ts-expect-error COURSE_ENROLLMENT is the learning app's: no item of a content bulk transfer
            operation: "COURSE_ENROLLMENT",
          },
        ],
        { atomic: false },
      );
      const contentTransfers: ContentTransferItem[] = [];
      // @ts-expect-error a content transfer item is no learning one
      learning.createTransfers(contentTransfers, { atomic: false });
    };
    expectTypeOf(neverRun).toBeFunction();
  });

  it("give a fixed operation's method no amount (checked by tsc)", () => {
    // Never called: the body only has to compile, with the errors expected.
    const neverRun = (ledger: LedgerClient, ledgerId: string) => {
      const content = createContentClient(ledger);
      const learning = createLearningClient(ledger);

      content.dailyReward(ledgerId);
      content.signupCredit(ledgerId, { reference: "welcome", idempotencyKey: "k" });
      content.contentCreation(ledgerId, { description: "an article" });
      expectTypeOf(learning.dailyReward(ledgerId, { pending: true })).toEqualTypeOf<
        Promise<Hold>
      >();
      content.creditAdd(ledgerId, { amountMinor: 25n });

      // @ts-expect-error DAILY_REWARD is fixed at +1: its method takes no amount
      content.dailyReward(ledgerId, { amountMinor: 1000n });
      // @ts-expect-error not even the fixed amount itself: leave it out
      learning.signupCredit(ledgerId, { amountMinor: 3n });
      // @ts-expect-error CONTENT_CREATION is fixed at -5
      content.contentCreation(ledgerId, { amountMinor: -9n });
      // @ts-expect-error held or not
      learning.dailyReward(ledgerId, { pending: true, amountMinor: 2n });
    };
    expectTypeOf(neverRun).toBeFunction();
  });

  it("hold with pending: true, and return a Hold to post or void (checked by tsc)", () => {
    // Never called: the body only has to compile, with the errors expected.
    const neverRun = (ledger: LedgerClient, ledgerId: string, expiresAt: Date) => {
      const learning = createLearningClient(ledger);
      const content = createContentClient(ledger);

      expectTypeOf(learning.courseEnrollment(ledgerId, { pending: true })).toEqualTypeOf<
        Promise<Hold>
      >();
      expectTypeOf(
        learning.courseEnrollment(ledgerId, { pending: true, pendingExpiresAt: expiresAt }),
      ).toEqualTypeOf<Promise<Hold>>();
      expectTypeOf(learning.courseEnrollment(ledgerId)).toEqualTypeOf<Promise<RecordedEntry>>();
      expectTypeOf(learning.courseEnrollment(ledgerId, { pending: false })).toEqualTypeOf<
        Promise<RecordedEntry>
      >();
      expectTypeOf(learning.record(ledgerId, "SEAT_PURCHASE", { pending: true })).toEqualTypeOf<
        Promise<Hold>
      >();
      expectTypeOf(content.transfer(ledgerId, ledgerId, 5n, { pending: true })).toEqualTypeOf<
        Promise<Hold>
      >();
      expectTypeOf(content.transfer(ledgerId, ledgerId, 5n)).toEqualTypeOf<
        Promise<RecordedTransfer>
      >();
      expectTypeOf<Hold["post"]>().toEqualTypeOf<
        (amountMinor?: bigint, options?: HoldResolve) => Promise<PostedTransaction>
      >();
      expectTypeOf<Hold["void"]>().toEqualTypeOf<
        (options?: HoldResolve) => Promise<VoidedTransaction>
      >();
      expectTypeOf<Hold>().toExtend<RecordedHold>();

      // @ts-expect-error pendingExpiresAt is for holds only: the server refuses it otherwise
      learning.courseEnrollment(ledgerId, { pendingExpiresAt: expiresAt });
      // @ts-expect-error a deadline is a Date, not milliseconds
      learning.courseEnrollment(ledgerId, { pending: true, pendingExpiresAt: 2_000 });
      // @ts-expect-error COURSE_ENROLLMENT is the learning app's, held or not
      content.record(ledgerId, "COURSE_ENROLLMENT", { pending: true });
      const hold = async () => learning.courseEnrollment(ledgerId, { pending: true });
      // @ts-expect-error amounts are bigint minor units, never numbers
      void hold().then((held) => held.post(1));
      // @ts-expect-error a record is no hold: it has no post
      void learning.courseEnrollment(ledgerId).then((recorded) => recorded.post());
      // @ts-expect-error a transfer is no hold either
      void content.transfer(ledgerId, ledgerId, 5n).then((made) => made.void());

      // The general client: the hold's transaction, and its bulk items.
      expectTypeOf(ledger.recordEntry({ ledgerId, operation: "X", pending: true })).toEqualTypeOf<
        Promise<RecordedHold>
      >();
      expectTypeOf(ledger.recordEntry({ ledgerId, operation: "X" })).toEqualTypeOf<
        Promise<RecordedEntry>
      >();
      expectTypeOf(
        learning.recordEntries([{ ledgerId, operation: "COURSE_ENROLLMENT", pending: true }], {
          atomic: true,
        }),
      ).toEqualTypeOf<Promise<HoldEntriesItem[]>>();
      expectTypeOf(
        ledger.recordEntries(
          [
            { ledgerId, operation: "X", pending: true },
            { ledgerId, operation: "Y" },
          ],
          { atomic: false },
        ),
      ).toEqualTypeOf<Promise<(RecordEntriesItem | HoldEntriesItem)[]>>();
      const flag = expiresAt.getTime() > 0;
      expectTypeOf(ledger.recordEntry({ ledgerId, operation: "X", pending: flag })).toEqualTypeOf<
        Promise<RecordedEntry | RecordedHold>
      >();
      // @ts-expect-error an app client wants to know at compile time: a Hold or an entry
      learning.courseEnrollment(ledgerId, { pending: flag });
    };
    expectTypeOf(neverRun).toBeFunction();
  });
});

type HoldResolve = Parameters<Hold["void"]>[0];
