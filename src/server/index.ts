export {
  CONFIG_SETTINGS,
  type Config,
  ConfigError,
  type ConfigSetting,
  configTableMarkdown,
  LOG_LEVELS,
  type LogLevel,
  loadConfig,
  storeSettings,
  type TlsFiles,
} from "./config.js";
export {
  createLedgerMetrics,
  type LedgerMetrics,
  METRICS_PATH,
  metricsFor,
} from "./metrics.js";
export {
  createLedgerServer,
  type LedgerServer,
  type LedgerServerOptions,
  type ServerConfig,
} from "./server.js";
