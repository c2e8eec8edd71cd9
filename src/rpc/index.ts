export {
  createCallLogGate,
  createCallLogInterceptor,
  createErrorInterceptor,
  REQUEST_ID_HEADER,
} from "./call-log.js";
export {
  codeForReason,
  connectErrorFromLedgerError,
  ERROR_DOMAIN,
  reasonOf,
  toConnectError,
} from "./errors.js";
export { createLedgerServiceImpl, type LedgerServiceDeps } from "./ledger-service.js";
export { type LedgerRouterOptions, ledgerRouterOptions, ledgerRoutes } from "./routes.js";
