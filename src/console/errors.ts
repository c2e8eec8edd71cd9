import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { AmountSyntaxError } from "./format.js";

const ERROR_DOMAIN = "ledger.v1";

export interface ShownError {
  /** The ledger's ErrorInfo reason (INSUFFICIENT_FUNDS...), else the code's name. */
  readonly reason: string;
  readonly message: string;
}

/** What the console shows for a failure: its stable reason first, then the server's message. */
export function describeError(error: unknown): ShownError {
  if (error instanceof AmountSyntaxError) {
    return { reason: "INVALID_AMOUNT", message: error.message };
  }
  const connectError = ConnectError.from(error);
  const info = connectError
    .findDetails(ErrorInfoSchema)
    .find((detail) => detail.domain === ERROR_DOMAIN);
  return {
    reason: info?.reason ?? codeName(connectError.code),
    message: connectError.rawMessage,
  };
}

/** "FAILED_PRECONDITION" for Code.FailedPrecondition, as gRPC spells codes. */
function codeName(code: Code): string {
  return (Code[code] ?? "UNKNOWN").replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}
