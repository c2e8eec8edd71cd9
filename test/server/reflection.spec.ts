/**
 * gRPC server reflection works as grpcurl and buf curl use it, on the
 * service's one port, in both grpc.reflection.v1 and v1alpha: buf curl, run
 * with no schema within reach, lists every service and method and makes calls;
 * and a raw reflection stream answers every kind of query with the requested
 * file plus every file it imports, transitively, the reflection protos
 * included, and reports unknown names as NOT_FOUND without ending the stream.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import {
  ServerReflection,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { useLedgerServer } from "../support/server.js";
import { bufCurl } from "./buf-curl.js";

const served = useLedgerServer();

const CORE_SERVICES = [
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
  "ledger.v1.LedgerService",
];
const LEDGER_METHODS = LedgerService.methods.map((m) => `ledger.v1.LedgerService/${m.name}`);

describe.each(["grpc-v1", "grpc-v1alpha"])("buf curl --reflect-protocol %s", (protocol) => {
  const reflect = ["--reflect", "--reflect-protocol", protocol, "--http2-prior-knowledge"];

  it("lists the services: the ledger, health and both reflection versions", async () => {
    const result = await bufCurl([...reflect, "--list-services", served.server().url]);
    expect(result.stderr).toBe("");
    const services = result.stdout.trim().split("\n");
    expect(services).toEqual(expect.arrayContaining(CORE_SERVICES));
    expect(services).toEqual([...services].sort());
  });

  it("lists the methods of every service it lists: each one's schema resolves", async () => {
    const listed = await bufCurl([...reflect, "--list-services", served.server().url]);
    const all = await bufCurl([...reflect, "--list-methods", served.server().url]);
    expect(all.stderr).toBe("");
    const methods = all.stdout.trim().split("\n");
    for (const service of listed.stdout.trim().split("\n")) {
      expect(
        methods.some((method) => method.startsWith(`${service}/`)),
        `methods of ${service}`,
      ).toBe(true);
    }
    expect(methods).toEqual(
      expect.arrayContaining([
        ...LEDGER_METHODS,
        "grpc.health.v1.Health/Check",
        "grpc.health.v1.Health/Watch",
        "grpc.health.v1.Health/List",
        "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      ]),
    );
  });

  it("makes calls with the schema it downloaded: create, record, balance, health", async () => {
    const url = served.server().url;
    const owner = `reflect-${protocol}`;
    const create = await bufCurl([
      ...reflect,
      "--protocol",
      "grpc",
      "-d",
      JSON.stringify({ app: "content", owner_id: owner, unit: "CREDITS", idempotency_key: owner }),
      `${url}/ledger.v1.LedgerService/CreateLedger`,
    ]);
    expect(create.stderr).toBe("");
    const ledgerId = (JSON.parse(create.stdout) as { ledger: { id: string } }).ledger.id;

    const record = await bufCurl([
      ...reflect,
      "--protocol",
      "grpc",
      "-d",
      JSON.stringify({
        ledger_id: ledgerId,
        operation: "SIGNUP_CREDIT",
        idempotency_key: `${owner}-signup`,
      }),
      `${url}/ledger.v1.LedgerService/RecordEntry`,
    ]);
    expect(JSON.parse(record.stdout)).toMatchObject({
      entry: { operation: "SIGNUP_CREDIT", amount: "3", balanceAfter: "3" },
    });

    const balance = await bufCurl([
      ...reflect,
      "--protocol",
      "connect",
      "-d",
      JSON.stringify({ ledger_id: ledgerId }),
      `${url}/ledger.v1.LedgerService/GetBalance`,
    ]);
    expect(JSON.parse(balance.stdout)).toEqual({
      ledgerId,
      balance: "3",
      unit: "CREDITS",
      version: "1",
      available: "3",
    });

    const health = await bufCurl([...reflect, "-d", "{}", `${url}/grpc.health.v1.Health/Check`]);
    expect(JSON.parse(health.stdout)).toEqual({ status: "SERVING" });
  });

  it("reports a domain error from a reflected call with its code and ErrorInfo", async () => {
    const result = await bufCurl([
      ...reflect,
      "--protocol",
      "grpc",
      "-d",
      JSON.stringify({ ledger_id: "00000000-0000-4000-8000-000000000000" }),
      `${served.server().url}/ledger.v1.LedgerService/GetBalance`,
    ]);
    expect(result.exitCode).not.toBe(0);
    const error = JSON.parse(result.stderr) as {
      code: string;
      details: { type: string; value: string }[];
    };
    expect(error.code).toBe("not_found");
    // buf curl prints detail values as base64; grpcurl decodes them through reflection.
    const [detail] = error.details;
    expect(detail?.type).toBe("google.rpc.ErrorInfo");
    const info = fromBinary(ErrorInfoSchema, Buffer.from(detail?.value ?? "", "base64"));
    expect(info).toMatchObject({ reason: "LEDGER_NOT_FOUND", domain: "ledger.v1" });
  });
});

/** One reflection stream: send requests one at a time, read each answer. */
function reflectionClient(version: "v1" | "v1alpha") {
  const transport = createGrpcTransport({ baseUrl: served.server().url });
  // The two versions differ only in their names: one typed client drives both.
  const service = version === "v1" ? ServerReflection : ServerReflectionV1alpha;
  return createClient(service as typeof ServerReflection, transport);
}

function openStream(version: "v1" | "v1alpha") {
  const client = reflectionClient(version);
  const outbox: ServerReflectionRequest["messageRequest"][] = [];
  let push: (() => void) | undefined;
  let closed = false;
  async function* requests() {
    while (!closed) {
      const next = outbox.shift();
      if (next === undefined) {
        await new Promise<void>((resolve) => {
          push = resolve;
        });
        continue;
      }
      yield { host: "", messageRequest: next };
    }
  }
  const responses = client.serverReflectionInfo(requests())[Symbol.asyncIterator]();
  return {
    async ask(
      query: ServerReflectionRequest["messageRequest"],
    ): Promise<ServerReflectionResponse["messageResponse"]> {
      outbox.push(query);
      push?.();
      const { value, done } = await responses.next();
      if (done === true) {
        throw new Error("the reflection stream ended");
      }
      return value.messageResponse as ServerReflectionResponse["messageResponse"];
    },
    close() {
      closed = true;
      push?.();
    },
  };
}

function filesOf(answer: ServerReflectionResponse["messageResponse"]): FileDescriptorProto[] {
  if (answer.case !== "fileDescriptorResponse") {
    throw new Error(`expected files, got ${answer.case}: ${JSON.stringify(answer.value)}`);
  }
  return answer.value.fileDescriptorProto.map((bytes) =>
    fromBinary(FileDescriptorProtoSchema, bytes),
  );
}

/** Every import of every file is itself among the files. */
function expectClosedUnderImports(files: readonly FileDescriptorProto[]): void {
  const names = new Set(files.map((f) => f.name));
  for (const file of files) {
    for (const dependency of file.dependency) {
      expect(names, `${file.name} imports ${dependency}`).toContain(dependency);
    }
  }
}

describe.each(["v1", "v1alpha"] as const)("a raw grpc.reflection.%s stream", (version) => {
  it("describes a service: its file, the whole service, and every import", async () => {
    const stream = openStream(version);
    try {
      const files = filesOf(
        await stream.ask({ case: "fileContainingSymbol", value: "ledger.v1.LedgerService" }),
      );
      expect(files[0]?.name).toBe("ledger/v1/ledger.proto");
      const service = files[0]?.service.find((s) => s.name === "LedgerService");
      expect(service?.method.map((m) => m.name)).toEqual(LedgerService.methods.map((m) => m.name));
      expect(files.map((f) => f.name)).toContain("google/protobuf/timestamp.proto");
      expectClosedUnderImports(files);
    } finally {
      stream.close();
    }
  });

  it("serves every listed service's files with all their imports, its own included", async () => {
    const stream = openStream(version);
    try {
      const list = await stream.ask({ case: "listServices", value: "" });
      if (list.case !== "listServicesResponse") {
        throw new Error(`expected a service list, got ${list.case}`);
      }
      for (const { name } of list.value.service) {
        const fresh = openStream(version);
        try {
          const files = filesOf(await fresh.ask({ case: "fileContainingSymbol", value: name }));
          expectClosedUnderImports(files);
          const declared = files[0]?.service.map((s) => `${files[0]?.package}.${s.name}`);
          expect(declared).toContain(name);
        } finally {
          fresh.close();
        }
      }
      const own = filesOf(
        await stream.ask({
          case: "fileByFilename",
          value: `grpc/reflection/${version}/reflection.proto`,
        }),
      );
      expect(own[0]?.service[0]?.name).toBe("ServerReflection");
    } finally {
      stream.close();
    }
  });

  it("finds methods, messages, nested enums, error details and well-known types by name", async () => {
    const stream = openStream(version);
    try {
      for (const symbol of [
        "ledger.v1.LedgerService.RecordEntry",
        "ledger.v1.RecordEntryRequest",
        "ledger.v1.ErrorReason",
      ]) {
        const files = filesOf(await stream.ask({ case: "fileContainingSymbol", value: symbol }));
        expect(files[0]?.name, symbol).toBe("ledger/v1/ledger.proto");
      }
      const errorDetails = filesOf(
        await stream.ask({ case: "fileContainingSymbol", value: "google.rpc.ErrorInfo" }),
      );
      expect(errorDetails[0]?.name).toBe("google/rpc/error_details.proto");
      const health = filesOf(
        await stream.ask({
          case: "fileContainingSymbol",
          value: "grpc.health.v1.HealthCheckResponse.ServingStatus",
        }),
      );
      expect(health[0]?.name).toBe("grpc/health/v1/health.proto");
      const timestamp = filesOf(
        await stream.ask({ case: "fileByFilename", value: "google/protobuf/timestamp.proto" }),
      );
      expect(timestamp.map((f) => f.name)).toEqual(["google/protobuf/timestamp.proto"]);
      const extensions = await stream.ask({
        case: "allExtensionNumbersOfType",
        value: "ledger.v1.Ledger",
      });
      expect(extensions).toEqual({
        case: "allExtensionNumbersResponse",
        value: expect.objectContaining({ baseTypeName: "ledger.v1.Ledger", extensionNumber: [] }),
      });
    } finally {
      stream.close();
    }
  });

  it("sends a file's imports once per stream, the requested file every time", async () => {
    const stream = openStream(version);
    try {
      const first = filesOf(
        await stream.ask({ case: "fileContainingSymbol", value: "ledger.v1.Ledger" }),
      );
      expect(first.length).toBeGreaterThan(1);
      const again = filesOf(
        await stream.ask({ case: "fileContainingSymbol", value: "ledger.v1.Entry" }),
      );
      expect(again.map((f) => f.name)).toEqual(["ledger/v1/ledger.proto"]);
    } finally {
      stream.close();
    }
  });

  it("answers unknown names with NOT_FOUND and keeps the stream open", async () => {
    const stream = openStream(version);
    try {
      for (const query of [
        { case: "fileContainingSymbol", value: "ledger.v1.NoSuchThing" },
        { case: "fileByFilename", value: "no/such/file.proto" },
        { case: "allExtensionNumbersOfType", value: "ledger.v1.NoSuchMessage" },
        {
          case: "fileContainingExtension",
          value: { containingType: "ledger.v1.Ledger", extensionNumber: 1000 },
        },
      ] as const) {
        const answer = await stream.ask(query as ServerReflectionRequest["messageRequest"]);
        expect(answer.case, JSON.stringify(query)).toBe("errorResponse");
        expect((answer.value as { errorCode: number }).errorCode).toBe(5);
        expect((answer.value as { errorMessage: string }).errorMessage).toContain("not found");
      }
      const files = filesOf(
        await stream.ask({ case: "fileContainingSymbol", value: "ledger.v1.LedgerService" }),
      );
      expect(files[0]?.name).toBe("ledger/v1/ledger.proto");
    } finally {
      stream.close();
    }
  });

  it("ends a stream after its 10,000th answer with RESOURCE_EXHAUSTED; a new stream is served", async () => {
    const REQUESTS_MAX = 10_000;
    async function* requests() {
      for (let i = 0; i <= REQUESTS_MAX; i++) {
        yield { host: "", messageRequest: { case: "listServices" as const, value: "" } };
      }
    }
    let answered = 0;
    const ended = await (async () => {
      for await (const response of reflectionClient(version).serverReflectionInfo(requests())) {
        if (response.messageResponse.case === "listServicesResponse") {
          answered++;
        }
      }
    })().then(
      () => undefined,
      (error: unknown) => ConnectError.from(error),
    );
    expect(answered).toBe(REQUESTS_MAX);
    expect(ended?.code).toBe(Code.ResourceExhausted);
    expect(ended?.rawMessage).toContain(`at most ${REQUESTS_MAX} requests`);

    const fresh = openStream(version);
    try {
      expect((await fresh.ask({ case: "listServices", value: "" })).case).toBe(
        "listServicesResponse",
      );
    } finally {
      fresh.close();
    }
  });
});
