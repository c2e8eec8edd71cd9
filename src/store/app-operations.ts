/**
 * The server's operation registry, built from the proto declarations
 * generated into gen/apps/registry.ts: adding an app is one proto file and
 * `npm run generate`, with no edit here.
 */
import { APPS, SHARED_OPERATIONS } from "../../gen/apps/registry.js";
import { createOperationRegistry, type OperationRegistry } from "../domain/index.js";

/** Declared apps get their operations; any other app only the shared ones. */
export function appOperationRegistry(): OperationRegistry {
  return createOperationRegistry({
    shared: SHARED_OPERATIONS,
    apps: APPS.map((spec) => ({ app: spec.app, operations: spec.operations })),
  });
}

export { SHARED_OPERATIONS };
