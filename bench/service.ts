/**
 * The real service as `npm start` runs it (src/server/main.ts, a child
 * process so its memory and CPU can be read on their own, with the Node flags
 * of package.json's start script), and gRPC clients of it: @grpc/grpc-js with
 * the .proto files loaded at run time.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { newToken } from "../src/server/credentials.js";
import { freePort } from "../test/support/ports.js";
import { SERVICE_APP, type TransferPair } from "./setup.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const READY_TIMEOUT_MS = 60_000;
/** Channels the workers share round-robin: more than one HTTP/2 connection, as several clients would open. */
const CHANNELS = 4;
const ENTRY_POINT = "src/server/main.ts";

/**
 * The Node flags `npm start` runs the server with (its heap bound among
 * them), read from package.json's start script, the one place they are
 * written: `node <flags> src/server/main.ts`.
 */
export function startNodeFlags(): string[] {
  const manifest = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as {
    scripts?: { start?: string };
  };
  const words = (manifest.scripts?.start ?? "").trim().split(/\s+/);
  if (words[0] !== "node" || words.at(-1) !== ENTRY_POINT || words.length < 2) {
    throw new Error(
      `package.json's start script is not "node <flags> ${ENTRY_POINT}": the bench cannot start the server as npm start does`,
    );
  }
  return words.slice(1, -1);
}

export interface ServiceProcess {
  readonly pid: number;
  readonly port: number;
  stop(): Promise<void>;
}

export async function startService(options: {
  readonly databaseUrl: string;
  readonly poolSize: number;
  readonly writeBatches: number | undefined;
  readonly logLevel: string;
  /** Write a .cpuprofile here when the process exits. */
  readonly cpuProfileDir?: string | undefined;
}): Promise<ServiceProcess> {
  const port = await freePort();
  const args = [
    ...(options.cpuProfileDir === undefined
      ? []
      : ["--cpu-prof", "--cpu-prof-dir", options.cpuProfileDir]),
    ...startNodeFlags(),
    ENTRY_POINT,
  ];
  const child: ChildProcess = spawn(`${ROOT}node_modules/.bin/node`, args, {
    cwd: ROOT,
    env: {
      PATH: `${ROOT}node_modules/.bin:${process.env.PATH ?? ""}`,
      DATABASE_URL: options.databaseUrl,
      PORT: String(port),
      HOST: "127.0.0.1",
      // Metrics on, as in production, on a port of their own.
      METRICS_PORT: String(await freePort()),
      LEDGER_TOKENS: BENCH_TOKEN.line,
      MIGRATE_ON_START: "false",
      LOG_LEVEL: options.logLevel,
      DB_POOL_SIZE_MAX: String(options.poolSize),
      ...(options.writeBatches === undefined
        ? {}
        : { DB_WRITE_BATCHES_MAX: String(options.writeBatches) }),
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
  metadata: grpc.Metadata,
  callback: (error: grpc.ServiceError | null, response: unknown) => void,
) => void;

/**
 * The service runs as deployed: tokens required. One admin token of the app
 * the bench ledgers belong to (admin: the backdate scenario needs it).
 */
const BENCH_TOKEN = newToken(SERVICE_APP, "admin");

interface Ctors {
  readonly ledger: grpc.ServiceClientConstructor;
  readonly health: grpc.ServiceClientConstructor;
}

let ctors: Ctors | undefined;

function serviceCtors(): Ctors {
  if (ctors === undefined) {
    const definition = protoLoader.loadSync(
      ["ledger/v1/ledger.proto", "grpc/health/v1/health.proto"],
      {
        includeDirs: [`${ROOT}proto`],
        longs: String,
        enums: String,
        defaults: true,
        oneofs: true,
      },
    );
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      ledger: { v1: { LedgerService: grpc.ServiceClientConstructor } };
      grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
    };
    ctors = { ledger: loaded.ledger.v1.LedgerService, health: loaded.grpc.health.v1.Health };
  }
  return ctors;
}

/** A RecordEntries or CreateTransfers result as proto-loader reads it: `result` names the oneof's member. */
interface WireItemResult {
  readonly result?: "entry" | "transfer" | "error";
  readonly error?: { readonly code: number; readonly message: string } | null;
}

interface BulkResponse {
  readonly results: readonly WireItemResult[];
}

/**
 * A bulk call's answer, failed here when an item was refused (or missing),
 * so the bench never counts it.
 */
function allMade(
  method: string,
  made: WireItemResult["result"],
  items: number,
  response: BulkResponse,
): BulkResponse {
  const refused = response.results.filter((item) => item.result !== made);
  if (refused.length > 0 || response.results.length !== items) {
    const first = refused[0]?.error;
    throw new Error(
      `${method}: ${refused.length} of ${items} items refused (${response.results.length} results); first: ${first?.code} ${first?.message}`,
    );
  }
  return response;
}

/** A Transfer request of `amountMinor` between the pair, with a fresh idempotency key. */
function transferRequest({ from, to }: TransferPair, amountMinor: bigint): object {
  return {
    fromLedgerId: from,
    toLedgerId: to,
    amount: amountMinor.toString(),
    idempotencyKey: randomUUID(),
  };
}

/** A write's transaction as proto-loader reads it (enums as their names). */
interface WireTransaction {
  readonly id: string;
  readonly state: string;
}

/** The transaction of a Transfer or PostPendingTransaction answer, failed here unless it is in `state`. */
function transactionIn(method: string, state: string, response: unknown): WireTransaction {
  const transaction = (response as { transaction?: WireTransaction | null }).transaction;
  if (transaction?.state !== state || transaction.id === "") {
    throw new Error(`${method}: answered ${transaction?.state ?? "no transaction"}, not ${state}`);
  }
  return transaction;
}

/**
 * RecordEntry, RecordEntries, Transfer (and a pending one), CreateTransfers,
 * PostPendingTransaction, GetBalance and the health Check over a few HTTP/2
 * channels, round-robin; the health client of each channel shares its
 * connection.
 */
export class LedgerGrpcClient {
  private readonly clients: { readonly ledger: grpc.Client; readonly health: grpc.Client }[];
  private readonly metadata = new grpc.Metadata();
  private nextIndex = 0;

  constructor(port: number, channels = CHANNELS) {
    this.metadata.set("authorization", `Bearer ${BENCH_TOKEN.token}`);
    const { ledger: Ledger, health: Health } = serviceCtors();
    this.clients = Array.from({ length: channels }, () => {
      // A local subchannel pool each: distinct connections, not one shared one.
      const ledger = new Ledger(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
        "grpc.use_local_subchannel_pool": 1,
      });
      const health = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
        channelOverride: ledger.getChannel(),
      });
      return { ledger, health };
    });
  }

  private call(service: "ledger" | "health", method: string, request: object): Promise<unknown> {
    const pair = this.clients[this.nextIndex % this.clients.length];
    this.nextIndex += 1;
    const client = pair?.[service] as unknown as Record<string, Unary>;
    const fn = client[method] as Unary;
    return new Promise((resolve, reject) => {
      fn.call(client, request, this.metadata, (error, response) =>
        error ? reject(error) : resolve(response),
      );
    });
  }

  recordEntry(ledgerId: string, amountMinor: bigint): Promise<unknown> {
    return this.call("ledger", "RecordEntry", {
      ledgerId,
      operation: "CREDIT_ADD",
      amount: amountMinor.toString(),
      idempotencyKey: randomUUID(),
    });
  }

  /** RecordEntry backdated to `createdAt`: it lands there in history and recomputes what follows. */
  recordBackdated(ledgerId: string, amountMinor: bigint, createdAt: Date): Promise<unknown> {
    const ms = createdAt.getTime();
    return this.call("ledger", "RecordEntry", {
      ledgerId,
      operation: "CREDIT_ADD",
      amount: amountMinor.toString(),
      idempotencyKey: randomUUID(),
      createdAt: { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 },
    });
  }

  /** RecordEntries, not atomic: one CREDIT_ADD per ledger id (repeats allowed), every one made. */
  async recordEntries(ledgerIds: readonly string[], amountMinor: bigint): Promise<unknown> {
    const response = await this.call("ledger", "RecordEntries", {
      entries: ledgerIds.map((ledgerId) => ({
        ledgerId,
        operation: "CREDIT_ADD",
        amount: amountMinor.toString(),
        idempotencyKey: randomUUID(),
      })),
      atomic: false,
    });
    return allMade("RecordEntries", "entry", ledgerIds.length, response as BulkResponse);
  }

  transfer(pair: TransferPair, amountMinor: bigint): Promise<unknown> {
    return this.call("ledger", "Transfer", transferRequest(pair, amountMinor));
  }

  /** Transfer with `pending`: a hold of `amountMinor` between the pair; its id, once it is PENDING. */
  async holdTransfer(pair: TransferPair, amountMinor: bigint): Promise<string> {
    const response = await this.call("ledger", "Transfer", {
      ...transferRequest(pair, amountMinor),
      pending: true,
    });
    return transactionIn("Transfer (pending)", "TRANSACTION_STATE_PENDING", response).id;
  }

  /** PostPendingTransaction of all of a hold (`amount` absent), with a fresh idempotency key; POSTED. */
  async postPendingTransaction(transactionId: string): Promise<unknown> {
    const response = await this.call("ledger", "PostPendingTransaction", {
      transactionId,
      idempotencyKey: randomUUID(),
    });
    transactionIn("PostPendingTransaction", "TRANSACTION_STATE_POSTED", response);
    return response;
  }

  /** CreateTransfers, not atomic: one transfer per pair, every one made. */
  async createTransfers(pairs: readonly TransferPair[], amountMinor: bigint): Promise<unknown> {
    const response = await this.call("ledger", "CreateTransfers", {
      transfers: pairs.map((pair) => transferRequest(pair, amountMinor)),
      atomic: false,
    });
    return allMade("CreateTransfers", "transfer", pairs.length, response as BulkResponse);
  }

  getBalance(ledgerId: string): Promise<unknown> {
    return this.call("ledger", "GetBalance", { ledgerId });
  }

  /** grpc.health.v1.Health/Check of the whole server: the cheapest unary call it has. */
  async healthCheck(): Promise<unknown> {
    const response = (await this.call("health", "Check", { service: "" })) as { status: string };
    if (response.status !== "SERVING") {
      throw new Error(`health Check answered ${response.status}`);
    }
    return response;
  }

  close(): void {
    for (const { ledger } of this.clients) {
      ledger.close();
    }
  }
}
