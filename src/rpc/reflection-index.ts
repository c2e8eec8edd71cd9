import { type DescFile, type DescService, toBinary } from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";

/** gRPC status codes carried inside a reflection ErrorResponse (not the call's status). */
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;

/**
 * A reflection request's oneof, as grpc.reflection.v1 and v1alpha both shape
 * it (their generated types differ only in their type names).
 */
export type ReflectionQuery =
  | { readonly case: "fileByFilename"; readonly value: string }
  | { readonly case: "fileContainingSymbol"; readonly value: string }
  | {
      readonly case: "fileContainingExtension";
      readonly value: { readonly containingType: string; readonly extensionNumber: number };
    }
  | { readonly case: "allExtensionNumbersOfType"; readonly value: string }
  | { readonly case: "listServices"; readonly value: string }
  | { readonly case: undefined; readonly value?: undefined };

/** A reflection response's oneof, assignable to either version's message. */
export type ReflectionAnswer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | {
      case: "allExtensionNumbersResponse";
      value: { baseTypeName: string; extensionNumber: number[] };
    }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

export interface ReflectionIndex {
  /** Fully qualified names of the services served, sorted. */
  readonly serviceNames: readonly string[];
  /** Names of every file served: the services' files and all their transitive imports. */
  readonly fileNames: readonly string[];
  /**
   * Answers one request. `sent` holds the files already sent on this stream:
   * like grpc-go, a file's imports are sent once per stream, the requested
   * file always.
   */
  answer(query: ReflectionQuery, sent: Set<string>): ReflectionAnswer;
}

/**
 * What server reflection knows: the given services, the files declaring them
 * and every file those import, transitively. Symbols are looked up by full
 * name: services, methods (`pkg.Service.Method`), messages, enums and
 * extensions, nested ones included. `extraFiles` adds types that no service
 * names but clients meet, such as error details. Files go by their descriptors' names
 * ("ledger/v1/ledger.proto"), not DescFile.name, which drops the ".proto".
 */
export function createReflectionIndex(
  services: readonly DescService[],
  extraFiles: readonly DescFile[] = [],
): ReflectionIndex {
  const files = new Map<string, DescFile>();
  const addFile = (file: DescFile): void => {
    if (files.has(file.proto.name)) {
      return;
    }
    files.set(file.proto.name, file);
    file.dependencies.forEach(addFile);
  };
  for (const service of services) {
    addFile(service.file);
  }
  extraFiles.forEach(addFile);

  const symbols = new Map<string, DescFile>();
  const extensions = new Map<string, Map<number, DescFile>>();
  for (const file of files.values()) {
    for (const type of nestedTypes(file)) {
      symbols.set(type.typeName, file);
      if (type.kind === "service") {
        for (const method of type.methods) {
          symbols.set(`${type.typeName}.${method.name}`, file);
        }
      }
      if (type.kind === "extension") {
        const byNumber = extensions.get(type.extendee.typeName) ?? new Map<number, DescFile>();
        byNumber.set(type.number, file);
        extensions.set(type.extendee.typeName, byNumber);
      }
    }
  }
  const serviceNames = [...new Set(services.map((s) => s.typeName))].sort();

  const withImports = (file: DescFile, sent: Set<string>): ReflectionAnswer => {
    const encoded: Uint8Array[] = [];
    const queue: DescFile[] = [file];
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      if (encoded.length === 0 || !sent.has(next.proto.name)) {
        sent.add(next.proto.name);
        encoded.push(toBinary(FileDescriptorProtoSchema, next.proto));
      }
      queue.push(...next.dependencies.filter((dep) => !sent.has(dep.proto.name)));
    }
    return { case: "fileDescriptorResponse", value: { fileDescriptorProto: encoded } };
  };

  const fileOrError = (file: DescFile | undefined, what: string, sent: Set<string>) =>
    file === undefined ? notFound(what) : withImports(file, sent);

  return {
    serviceNames,
    fileNames: [...files.keys()].sort(),
    answer(query, sent) {
      switch (query.case) {
        case "fileByFilename":
          return fileOrError(files.get(query.value), `file "${query.value}"`, sent);
        case "fileContainingSymbol":
          return fileOrError(symbols.get(query.value), `symbol "${query.value}"`, sent);
        case "fileContainingExtension": {
          const { containingType, extensionNumber } = query.value;
          return fileOrError(
            extensions.get(containingType)?.get(extensionNumber),
            `extension ${extensionNumber} of "${containingType}"`,
            sent,
          );
        }
        case "allExtensionNumbersOfType": {
          if (!symbols.has(query.value)) {
            return notFound(`type "${query.value}"`);
          }
          const numbers = [...(extensions.get(query.value)?.keys() ?? [])].sort((a, b) => a - b);
          return {
            case: "allExtensionNumbersResponse",
            value: { baseTypeName: query.value, extensionNumber: numbers },
          };
        }
        case "listServices":
          return {
            case: "listServicesResponse",
            value: { service: serviceNames.map((name) => ({ name })) },
          };
        case undefined:
          return {
            case: "errorResponse",
            value: { errorCode: INVALID_ARGUMENT, errorMessage: "the request names no query" },
          };
      }
    },
  };
}

function notFound(what: string): ReflectionAnswer {
  return {
    case: "errorResponse",
    value: { errorCode: NOT_FOUND, errorMessage: `${what} not found` },
  };
}
