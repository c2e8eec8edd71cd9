import type { DescMessage, DescService, JsonReadOptions } from "@bufbuild/protobuf";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { LedgerError } from "../domain/index.js";
import { connectErrorFromLedgerError, FAILURE_DETAIL_REGISTRY } from "./errors.js";
import { checkJsonMessage } from "./strict-json.js";

/**
 * connect-es decodes a JSON request (Connect POST and GET, gRPC+json,
 * gRPC-Web+json, streams included) in one place, protocol/serialization.ts:
 * `jsonOptions.textDecoder.decode(bytes)`, then protobuf-es's fromJsonString,
 * any throw becoming INVALID_ARGUMENT with a ConnectError passing through as
 * it is. So a decoder that knows the method's input schema checks the JSON
 * exactly there (strict-json.ts) and throws the refusal with its ErrorInfo.
 * `ignoreUnknownFields: false` is the second line. Binary is untouched:
 * unknown field numbers are skipped there, as proto3 requires.
 */
export interface StrictJsonOptions extends Partial<JsonReadOptions> {
  readonly ignoreUnknownFields: false;
  readonly textDecoder: { decode(input?: Uint8Array): string };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export function strictJsonOptions(input: DescMessage): StrictJsonOptions {
  return {
    ignoreUnknownFields: false,
    textDecoder: {
      decode(bytes) {
        try {
          const text = decodeUtf8(input, bytes);
          checkJsonMessage(input, parseJson(input, text));
          return text;
        } catch (error) {
          throw error instanceof LedgerError ? connectErrorFromLedgerError(error) : error;
        }
      },
    },
  };
}

function decodeUtf8(input: DescMessage, bytes: Uint8Array | undefined): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw undecodable(input, "the body is not UTF-8");
  }
}

function parseJson(input: DescMessage, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw undecodable(input, error instanceof Error ? error.message : String(error));
  }
}

function undecodable(input: DescMessage, why: string): LedgerError {
  return new LedgerError(
    "INVALID_ARGUMENT",
    `cannot decode message ${input.typeName} from JSON: ${why}`,
  );
}

type AnyMethodImpl = (...args: never[]) => unknown;

/**
 * Registers a service one method at a time, each with the strict JSON
 * decoding of its own input. The router's other options (interceptors, the
 * request gate, limits) apply as with router.service().
 */
export function serveStrictly<S extends DescService>(
  router: ConnectRouter,
  service: S,
  impl: ServiceImpl<S>,
): void {
  for (const method of service.methods) {
    const methodImpl = (impl as Record<string, AnyMethodImpl | undefined>)[method.localName];
    if (methodImpl === undefined) {
      throw new Error(`${service.typeName} has no implementation of ${method.name}`);
    }
    // MethodImpl<M> of a method taken from a list is `never`: the types are checked by ServiceImpl<S>.
    // The registry lets JSON carry a google.rpc.Status's details (RecordEntries' item errors).
    router.rpc(method, methodImpl.bind(impl) as never, {
      jsonOptions: { ...strictJsonOptions(method.input), registry: FAILURE_DETAIL_REGISTRY },
    });
  }
}
