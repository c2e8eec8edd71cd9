/**
 * The ledger SDK: one import for Node and browsers, the main entry of the
 * package @shared-ledger/client (`npm run build:sdk`, src/sdk/build-package.ts).
 *
 * - createLedgerClient({ baseUrl, protocol }) for every RPC;
 * - createContentClient(ledger), createLearningClient(ledger), ...: one typed
 *   client per app declared in proto/apps (generated into gen/apps);
 * - typed errors (InsufficientFundsError, ...) to catch with instanceof;
 * - TransactionKind, the values of a transaction's `kind` (ENTRY, TRANSFER,
 *   REVERSAL), TransactionState, of its `state` (POSTED, and for holds
 *   PENDING, VOIDED, EXPIRED), and LedgerStatus, of a ledger's `status`
 *   (ACTIVE, TERMINATED);
 * - Hold: what an app client's operation or transfer returns with
 *   `pending: true`, to post or void.
 *
 * A UI that lists each app's operations (directions, default amounts) can
 * import APPS and SHARED_OPERATIONS from here, or straight from
 * gen/apps/registry.ts (plain data, no RPC code).
 */

// biome-ignore assist/source/organizeImports: the app clients' re-export must stay last (see there).
export * from "../../gen/apps/registry.js";
export {
  LedgerStatus,
  TransactionKind,
  TransactionState,
} from "../../gen/ledger/v1/ledger_pb.js";
export {
  AppClient,
  type AppFixedHoldOptions,
  type AppFixedRecordOptions,
  type AppHoldItem,
  type AppHoldOptions,
  type AppRecordItem,
  type AppRecordOptions,
  type AppTransferHoldOptions,
  type AppTransferItem,
  type AppTransferOptions,
} from "./app-client.js";
export * from "./errors.js";
export { Hold, type HoldResolveOptions } from "./hold.js";
export {
  createLedgerClient,
  DEFAULT_TIMEOUT_MS,
  type LedgerClient,
  type LedgerClientOptions,
} from "./ledger-client.js";
export {
  backoffDelayMs,
  type RetryOptions,
  type RetryPolicy,
  resolveRetryPolicy,
} from "./retry.js";
export {
  PROTOCOLS,
  type Protocol,
  type TokenSource,
  type TransportOptions,
} from "./transport.js";
export type * from "./types.js";
export type {
  WatchEvent,
  WatchEventsOptions,
  WatchOptions,
  WatchTarget,
} from "./watch.js";
// Last: the generated app clients import AppClient from "@shared-ledger/client",
// this very module, so app-client.js above must be evaluated before they are
// (`class ContentClient extends AppClient` runs when their module loads).
export * from "../../gen/apps/clients.js";
