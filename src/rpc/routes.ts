import type { ConnectRouter, HandlerContext, Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import type { LedgerStore } from "../domain/index.js";
import { type Authenticator, createAccessInterceptor, DECLARED_APPS } from "./access.js";
import {
  type CallObserver,
  createCallLogGate,
  createCallLogInterceptor,
  createErrorInterceptor,
} from "./call-log.js";
import { createLedgerServiceImpl } from "./ledger-service.js";
import { serveStrictly } from "./strict-routes.js";
import { WatchHub } from "./watch.js";

/** Registers LedgerService on a router (connectNodeAdapter, createRouterTransport). */
export function ledgerRoutes(
  store: LedgerStore,
  logger?: Logger,
  watch: WatchHub = new WatchHub(),
): (router: ConnectRouter) => void {
  const impl = createLedgerServiceImpl(store, logger, watch);
  return (router) => serveStrictly(router, LedgerService, impl);
}

export interface LedgerRouterOptions {
  readonly interceptors: Interceptor[];
  readonly requestGate: (ctx: HandlerContext) => void;
}

/**
 * Router options every ledger server uses: the call log outside, error
 * mapping inside it, access control innermost (its refusals are mapped and
 * logged like any other), and the gate that assigns request ids. The
 * observer (metrics) hears of each call where the call log writes its line.
 */
export function ledgerRouterOptions(
  logger: Logger,
  authenticator: Authenticator,
  declaredApps: readonly string[] = DECLARED_APPS,
  observer?: CallObserver,
): LedgerRouterOptions {
  return {
    interceptors: [
      createCallLogInterceptor(logger, observer),
      createErrorInterceptor(),
      createAccessInterceptor(authenticator, declaredApps),
    ],
    requestGate: createCallLogGate(logger, observer),
  };
}
