import { Writable } from "node:stream";
import pino, { type Logger } from "pino";

export interface CapturedLog {
  readonly logger: Logger;
  /** Every line written so far, parsed. */
  lines(): Record<string, unknown>[];
}

/** A pino logger writing JSON lines into memory, for specs that read the log. */
export function captureLog(): CapturedLog {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString("utf8"));
      callback();
    },
  });
  const logger = pino({ level: "debug" }, sink);
  return {
    logger,
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** The per-call lines ("rpc") of a captured log. */
export function rpcLines(lines: Record<string, unknown>[]): Record<string, unknown>[] {
  return lines.filter((line) => line.msg === "rpc");
}
