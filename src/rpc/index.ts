export {
  ANY_CALLER,
  type Authenticator,
  type Caller,
  callerOf,
  createAccessInterceptor,
  DECLARED_APPS,
  ROLES,
  type Role,
} from "./access.js";
export {
  type CallObserver,
  type CallReport,
  createCallLogGate,
  createCallLogInterceptor,
  createErrorInterceptor,
  type HandledCallReport,
  REQUEST_ID_HEADER,
} from "./call-log.js";
export {
  codeForReason,
  connectErrorFromLedgerError,
  ERROR_DOMAIN,
  reasonOf,
  toConnectError,
} from "./errors.js";
export { healthRoutes } from "./health.js";
export {
  createHealthMonitor,
  type HealthMonitor,
  type HealthMonitorOptions,
} from "./health-monitor.js";
export { createLedgerServiceImpl } from "./ledger-service.js";
export { correctMalformedRequests } from "./malformed-requests.js";
export { reflectionRoutes } from "./reflection.js";
export { createReflectionIndex, type ReflectionIndex } from "./reflection-index.js";
export { type LedgerRouterOptions, ledgerRouterOptions, ledgerRoutes } from "./routes.js";
export { WATCH_SETTINGS_DEFAULT, WatchHub, type WatchSettings } from "./watch.js";
