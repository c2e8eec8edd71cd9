import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../../gen/grpc/health/v1/health_pb.js";
import type { HealthMonitor } from "./health-monitor.js";
import { serveStrictly } from "./strict-routes.js";

/**
 * Registers grpc.health.v1 (Check, Watch, List) on a router. The overall
 * status ("") and every service registered on the router share one status:
 * SERVING while the monitor says so (the database answers), NOT_SERVING
 * otherwise, since no ledger RPC can work without the database. Other names
 * are unknown (Check: NOT_FOUND; Watch: SERVICE_UNKNOWN, as the protocol asks).
 */
export function healthRoutes(router: ConnectRouter, monitor: HealthMonitor): void {
  let known: ReadonlySet<string> | undefined;
  const isKnown = (service: string): boolean => {
    known ??= new Set(["", ...router.handlers.map((handler) => handler.service.typeName)]);
    return known.has(service);
  };
  const statusOf = (serving: boolean) =>
    serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;

  serveStrictly(router, Health, {
    async check(request) {
      if (!isKnown(request.service)) {
        throw new ConnectError(`unknown service "${request.service}"`, Code.NotFound);
      }
      return { status: statusOf(await monitor.check()) };
    },

    async *watch(request, context) {
      if (!isKnown(request.service)) {
        yield create(HealthCheckResponseSchema, { status: ServingStatus.SERVICE_UNKNOWN });
        // The set of services is fixed: it stays unknown until the client
        // leaves or the server shuts down, which is when the monitor's watch ends.
        for await (const _ of monitor.watch(context.signal)) {
          // Only the end matters.
        }
        return;
      }
      for await (const serving of monitor.watch(context.signal)) {
        yield create(HealthCheckResponseSchema, { status: statusOf(serving) });
      }
    },

    async list() {
      isKnown("");
      const status = statusOf(await monitor.check());
      const statuses = Object.fromEntries([...(known ?? [])].map((name) => [name, { status }]));
      return { statuses };
    },
  });
}
