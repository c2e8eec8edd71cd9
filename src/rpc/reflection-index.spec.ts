/**
 * The reflection index on its own: it holds exactly the services given, the
 * files declaring them and every file those import (transitively), plus the
 * extra files; an empty request is INVALID_ARGUMENT, not a crash.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { file_google_rpc_error_details } from "../../gen/google/rpc/error_details_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { createReflectionIndex } from "./reflection-index.js";

describe("createReflectionIndex", () => {
  it("holds the services' files and all their imports, and the extra files", () => {
    const index = createReflectionIndex([LedgerService, Health], [file_google_rpc_error_details]);
    expect(index.serviceNames).toEqual(["grpc.health.v1.Health", "ledger.v1.LedgerService"]);
    expect(index.fileNames).toEqual(
      expect.arrayContaining([
        "ledger/v1/ledger.proto",
        "google/protobuf/timestamp.proto",
        "grpc/health/v1/health.proto",
        "google/rpc/error_details.proto",
        "google/protobuf/duration.proto",
      ]),
    );
    for (const name of index.fileNames) {
      const answer = index.answer({ case: "fileByFilename", value: name }, new Set());
      if (answer.case !== "fileDescriptorResponse") {
        throw new Error(`${name}: ${answer.case}`);
      }
      const files = answer.value.fileDescriptorProto.map((b) =>
        fromBinary(FileDescriptorProtoSchema, b),
      );
      expect(files[0]?.name).toBe(name);
      for (const dependency of files.flatMap((f) => f.dependency)) {
        expect(index.fileNames).toContain(dependency);
      }
    }
  });

  it("knows nothing of services it was not given", () => {
    const index = createReflectionIndex([Health]);
    expect(
      index.answer({ case: "fileContainingSymbol", value: "ledger.v1.LedgerService" }, new Set()),
    ).toMatchObject({ case: "errorResponse", value: { errorCode: 5 } });
  });

  it("answers a request naming no query with INVALID_ARGUMENT", () => {
    const index = createReflectionIndex([LedgerService]);
    expect(index.answer({ case: undefined }, new Set())).toEqual({
      case: "errorResponse",
      value: { errorCode: 3, errorMessage: "the request names no query" },
    });
  });
});
