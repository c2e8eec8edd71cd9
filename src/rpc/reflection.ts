import { create, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { file_google_rpc_error_details } from "../../gen/google/rpc/error_details_pb.js";
import {
  ServerReflectionResponseSchema as ResponseV1,
  ServerReflection as ServerReflectionV1,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";
import {
  ServerReflectionResponseSchema as ResponseV1alpha,
  ServerReflection as ServerReflectionV1alpha,
} from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import {
  createReflectionIndex,
  type ReflectionIndex,
  type ReflectionQuery,
} from "./reflection-index.js";
import { serveStrictly } from "./strict-routes.js";

/**
 * Files no service imports whose types clients still meet: the ErrorInfo in
 * every error's details, which grpcurl and buf curl decode through reflection.
 */
const ERROR_DETAIL_FILES = [file_google_rpc_error_details];

/** Requests one reflection stream may carry: bounds the work one client can ask for. */
const REQUESTS_PER_STREAM_MAX = 10_000;

/**
 * Registers gRPC server reflection, grpc.reflection.v1 and v1alpha, on a
 * router. It describes every service registered on that router, itself
 * included, whenever registered: the index is built from the router's
 * handlers at the first reflection call, so register it anywhere. The
 * error detail types (google.rpc.ErrorInfo...) are served too.
 */
export function reflectionRoutes(router: ConnectRouter): void {
  let index: ReflectionIndex | undefined;
  const currentIndex = (): ReflectionIndex => {
    index ??= createReflectionIndex(
      router.handlers.map((handler) => handler.service),
      ERROR_DETAIL_FILES,
    );
    return index;
  };
  // The two versions differ only in their names: one stream handler serves both.
  async function* serve<Response extends typeof ResponseV1 | typeof ResponseV1alpha>(
    response: Response,
    requests: AsyncIterable<{ readonly host: string; readonly messageRequest: ReflectionQuery }>,
  ): AsyncIterable<MessageShape<Response>> {
    const sent = new Set<string>();
    let count = 0;
    for await (const request of requests) {
      assertWithinLimit(++count);
      yield create(response, {
        validHost: request.host,
        originalRequest: request,
        messageResponse: currentIndex().answer(request.messageRequest, sent),
      } as MessageInitShape<Response>);
    }
  }
  serveStrictly(router, ServerReflectionV1, {
    serverReflectionInfo: (requests) => serve(ResponseV1, requests),
  });
  serveStrictly(router, ServerReflectionV1alpha, {
    serverReflectionInfo: (requests) => serve(ResponseV1alpha, requests),
  });
}

function assertWithinLimit(count: number): void {
  if (count > REQUESTS_PER_STREAM_MAX) {
    throw new ConnectError(
      `a reflection stream carries at most ${REQUESTS_PER_STREAM_MAX} requests: open a new one`,
      Code.ResourceExhausted,
    );
  }
}
