/**
 * The real service as `npm start` runs it (src/server/main.ts, a child
 * process so its memory and CPU can be read on their own), and gRPC clients
 * of it: @grpc/grpc-js with the .proto loaded at run time.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { freePort } from "../test/support/ports.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const READY_TIMEOUT_MS = 60_000;
/** Channels the workers share round-robin: more than one HTTP/2 connection, as several clients would open. */
const CHANNELS = 4;

export interface ServiceProcess {
  readonly pid: number;
  readonly port: number;
  stop(): Promise<void>;
}

export async function startService(options: {
  readonly databaseUrl: string;
  readonly poolSize: number;
  readonly logLevel: string;
  /** Write a .cpuprofile here when the process exits. */
  readonly cpuProfileDir?: string | undefined;
}): Promise<ServiceProcess> {
  const port = await freePort();
  const args = [
    ...(options.cpuProfileDir === undefined
      ? []
      : ["--cpu-prof", "--cpu-prof-dir", options.cpuProfileDir]),
    "--import",
    "tsx",
    "src/server/main.ts",
  ];
  const child: ChildProcess = spawn(`${ROOT}node_modules/.bin/node`, args, {
    cwd: ROOT,
    env: {
      PATH: `${ROOT}node_modules/.bin:${process.env.PATH ?? ""}`,
      DATABASE_URL: options.databaseUrl,
      PORT: String(port),
      HOST: "127.0.0.1",
      MIGRATE_ON_START: "false",
      LOG_LEVEL: options.logLevel,
      DB_POOL_SIZE_MAX: String(options.poolSize),
      SHUTDOWN_GRACE_MS: "2000",
    },
    // The call log goes nowhere: written, as in production, but not read back.
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error("the service did not start");
  }
  await untilServing(port, exited);
  return {
    pid,
    port,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

async function untilServing(port: number, exited: Promise<void>): Promise<void> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const client = new LedgerGrpcClient(port, 1);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  try {
    while (Date.now() < deadline && !gone) {
      try {
        await client.getBalance("00000000-0000-0000-0000-000000000000");
      } catch (error) {
        // NOT_FOUND: the service answered from its database.
        if ((error as grpc.ServiceError).code === grpc.status.NOT_FOUND) {
          return;
        }
      }
      await sleep(200);
    }
  } finally {
    client.close();
  }
  throw new Error(gone ? "the service exited during startup" : "the service did not start serving");
}

type Unary = (
  request: object,
  callback: (error: grpc.ServiceError | null, response: unknown) => void,
) => void;

let ctor: grpc.ServiceClientConstructor | undefined;

function serviceCtor(): grpc.ServiceClientConstructor {
  if (ctor === undefined) {
    const definition = protoLoader.loadSync("ledger/v1/ledger.proto", {
      includeDirs: [`${ROOT}proto`],
      longs: String,
      enums: String,
      defaults: true,
    });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      ledger: { v1: { LedgerService: grpc.ServiceClientConstructor } };
    };
    ctor = loaded.ledger.v1.LedgerService;
  }
  return ctor;
}

/** RecordEntry and GetBalance over a few HTTP/2 channels, round-robin. */
export class LedgerGrpcClient {
  private readonly clients: grpc.Client[];
  private nextIndex = 0;

  constructor(port: number, channels = CHANNELS) {
    const Ctor = serviceCtor();
    this.clients = Array.from(
      { length: channels },
      () =>
        // A local subchannel pool each: distinct connections, not one shared one.
        new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
          "grpc.use_local_subchannel_pool": 1,
        }),
    );
  }

  private call(method: string, request: object): Promise<unknown> {
    const client = this.clients[this.nextIndex % this.clients.length] as unknown as Record<
      string,
      Unary
    >;
    this.nextIndex += 1;
    const fn = client[method] as Unary;
    return new Promise((resolve, reject) => {
      fn.call(client, request, (error, response) => (error ? reject(error) : resolve(response)));
    });
  }

  recordEntry(ledgerId: string, amountMinor: bigint): Promise<unknown> {
    return this.call("RecordEntry", {
      ledgerId,
      operation: "CREDIT_ADD",
      amount: amountMinor.toString(),
      idempotencyKey: randomUUID(),
    });
  }

  getBalance(ledgerId: string): Promise<unknown> {
    return this.call("GetBalance", { ledgerId });
  }

  close(): void {
    for (const client of this.clients) {
      client.close();
    }
  }
}
