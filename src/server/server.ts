import { readFile } from "node:fs/promises";
import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import * as net from "node:net";
import type { TLSSocket } from "node:tls";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import type { LedgerStore } from "../domain/index.js";
import {
  correctMalformedRequests,
  createHealthMonitor,
  healthRoutes,
  ledgerRouterOptions,
  ledgerRoutes,
  reflectionRoutes,
  WatchHub,
} from "../rpc/index.js";
import { DOCS_DIR_DEFAULT, DOCS_PATH, loadApiReference, OPENAPI_PATH } from "./api-reference.js";
import { type Config, isLoopback, urlHost } from "./config.js";
import { limitConnections } from "./connection-limit.js";
import { ConnectionTracker } from "./connections.js";
import { createCorsHandler } from "./cors.js";
import { Credentials, type TokenEntry } from "./credentials.js";
import { type LedgerMetrics, type MetricsListener, metricsFor, serveMetrics } from "./metrics.js";
import { sniffProtocol } from "./sniff.js";
import { CONSOLE_DIR_DEFAULT, loadStaticSite, type StaticSite } from "./static.js";
import { type Sweeps, startSweeps } from "./sweeps.js";

/** A plaintext connection must show its protocol within this time. */
const SNIFF_TIMEOUT_MS_DEFAULT = 10_000;
/** An HTTP/1 connection with no traffic for this long is closed. */
const HTTP1_IDLE_TIMEOUT_MS = 60_000;
/** After the grace period, how long aborted calls get to answer before sockets close. */
const FORCE_CLOSE_DELAY_MS = 250;

export type ServerConfig = Pick<
  Config,
  | "host"
  | "port"
  | "credentials"
  | "tls"
  | "requestBytesMax"
  | "shutdownGraceMs"
  | "http2IdleTimeoutMs"
  | "connectionsMax"
  | "corsAllowedOrigins"
  | "holdSweepIntervalMs"
  | "expirySweepIntervalMs"
  | "watchersMax"
  | "watchPollIntervalMs"
  | "watchBufferMax"
  | "metricsPort"
  | "metricsHost"
>;

export interface LedgerServerOptions {
  readonly store: LedgerStore;
  readonly config: ServerConfig;
  readonly logger: Logger;
  readonly sniffTimeoutMs?: number;
  /** The built web console served at "/" (default: dist/console). */
  readonly consoleDir?: string;
  /** The built API reference page served at /docs (default: dist/docs). */
  readonly docsDir?: string;
  /** How often grpc.health.v1 Watch pings the database (default: each second). */
  readonly healthPollIntervalMs?: number;
  /**
   * Served on METRICS_HOST:METRICS_PORT unless that port is 0; pass the
   * one the store reports to (main.ts). Default: a fresh one (calls and
   * process metrics only).
   */
  readonly metrics?: LedgerMetrics | undefined;
}

export interface LedgerServer {
  /**
   * Binds the port (0: any free one) and serves until close(); and the
   * metrics listener, unless METRICS_PORT is 0 (then no metricsUrl).
   */
  listen(): Promise<{ port: number; url: string; metricsUrl: string | undefined }>;
  /**
   * Stops accepting, lets in-flight calls finish within the grace period,
   * then aborts what remains and closes every connection. The caller closes
   * the store afterwards.
   */
  close(): Promise<void>;
  /**
   * Swaps the accepted tokens at once (a rotation without restart: main.ts
   * calls it on SIGHUP). False when the server runs in development mode,
   * which only a restart with credentials ends.
   */
  replaceTokens(tokens: readonly TokenEntry[]): boolean;
}

/**
 * One port for gRPC, gRPC-Web and Connect, over HTTP/2 and HTTP/1.1, all
 * through one Connect handler. Without TLS a sniffer tells HTTP/2 (h2c) from
 * HTTP/1.1 by the connection preface; with TLS, ALPN does. Beside the
 * ledger: gRPC server reflection and health, CORS for allowed origins, the
 * web console's files at "/", and the API reference at /openapi.json and
 * /docs. Not started: call listen().
 */
export function createLedgerServer(options: LedgerServerOptions): LedgerServer {
  const { store, config, logger } = options;
  const shutdown = new AbortController();
  const connections = new ConnectionTracker(config.http2IdleTimeoutMs);
  const health = createHealthMonitor({
    ping: (options) => store.ping(options),
    ...(options.healthPollIntervalMs === undefined
      ? {}
      : { pollIntervalMs: options.healthPollIntervalMs }),
  });
  const credentials = new Credentials(config.credentials.enabled, config.credentials.tokens);
  const metrics = options.metrics ?? metricsFor(config);
  const watch = new WatchHub({
    watchersMax: config.watchersMax,
    pollIntervalMs: config.watchPollIntervalMs,
    bufferMax: config.watchBufferMax,
  });
  metrics?.readWatchersFrom(() => watch.active);
  const serveLedger = ledgerRoutes(store, logger, watch);
  const rpcHandler = connectNodeAdapter({
    routes(router) {
      serveLedger(router);
      healthRoutes(router, health);
      reflectionRoutes(router);
      correctMalformedRequests(router);
    },
    readMaxBytes: config.requestBytesMax,
    shutdownSignal: shutdown.signal,
    ...ledgerRouterOptions(logger, credentials, undefined, metrics),
    fallback(req, res) {
      const path = (req.url ?? "").slice(0, 200);
      logger.info({ method: path, code: "unimplemented", http_status: 404 }, "rpc");
      res.writeHead(404);
      res.end();
    },
  });
  const cors = createCorsHandler(config.corsAllowedOrigins);
  let sites: readonly StaticSite[] = [];
  const handler = (
    req: http.IncomingMessage | http2.Http2ServerRequest,
    res: http.ServerResponse | http2.Http2ServerResponse,
  ) => {
    connections.trackRequest(req, res);
    if (cors(req, res) || sites.some((site) => site.serve(req, res))) {
      return;
    }
    rpcHandler(req, res);
  };

  let listener: NetServer | undefined;
  let sweep: Sweeps | undefined;
  let metricsListener: MetricsListener | undefined;
  let closing: Promise<void> | undefined;

  async function createListener(): Promise<NetServer> {
    if (config.tls !== undefined) {
      const [cert, key] = await Promise.all([
        readFile(config.tls.certFile),
        readFile(config.tls.keyFile),
      ]);
      const secure = http2.createSecureServer({ cert, key, allowHTTP1: true }, handler);
      secure.on("session", (session) => connections.addSession(session));
      secure.on("secureConnection", (socket: TLSSocket) => {
        if (socket.alpnProtocol !== "h2") {
          connections.addHttp1Socket(socket);
        }
      });
      secure.on("tlsClientError", (error) => logger.debug({ err: error }, "TLS handshake failed"));
      return secure;
    }
    const h1 = http.createServer(handler);
    h1.timeout = HTTP1_IDLE_TIMEOUT_MS;
    const h2 = http2.createServer(handler);
    h2.on("session", (session) => connections.addSession(session));
    const sniffTimeoutMs = options.sniffTimeoutMs ?? SNIFF_TIMEOUT_MS_DEFAULT;
    return net.createServer((socket: Socket) => {
      connections.addSniffing(socket);
      sniffProtocol(socket, {
        timeoutMs: sniffTimeoutMs,
        http1(sniffed) {
          connections.sniffed(sniffed);
          connections.addHttp1Socket(sniffed);
          h1.emit("connection", sniffed);
        },
        http2(sniffed) {
          connections.sniffed(sniffed);
          h2.emit("connection", sniffed);
        },
      });
    });
  }

  return {
    async listen() {
      if (listener !== undefined) {
        throw new Error("the server is already listening");
      }
      sites = await loadSites(options, logger);
      const server = await createListener();
      server.on("connection", (socket: Socket) => connections.addSocket(socket));
      limitConnections(server, config.connectionsMax, logger);
      listener = server;
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(config.port, config.host, () => {
          server.off("error", reject);
          resolve();
        });
      });
      server.on("error", (error) => logger.error({ err: error }, "listener error"));
      if (metrics !== undefined && config.metricsPort !== 0) {
        metricsListener = await serveMetrics(
          metrics,
          { host: config.metricsHost, port: config.metricsPort },
          logger,
        ).catch(async (error: unknown) => {
          await new Promise((resolve) => server.close(resolve));
          listener = undefined;
          throw error;
        });
      }
      sweep = startSweeps(
        store,
        { holdsMs: config.holdSweepIntervalMs, ledgersMs: config.expirySweepIntervalMs },
        logger,
      );
      const { port } = server.address() as AddressInfo;
      logAccessMode(config, credentials.size, logger);
      const scheme = config.tls === undefined ? "http" : "https";
      return {
        port,
        url: `${scheme}://${urlHost(config.host)}:${port}`,
        metricsUrl: metricsListener?.url,
      };
    },

    close() {
      closing ??= closeGracefully();
      return closing;
    },

    replaceTokens(tokens) {
      if (!credentials.enabled) {
        return false;
      }
      credentials.replace(tokens);
      logger.info({ tokens: tokens.length }, "tokens replaced");
      return true;
    },
  };

  async function closeGracefully(): Promise<void> {
    const server = listener;
    if (server === undefined) {
      return;
    }
    // Health turns NOT_SERVING and its Watch streams end, so they hold no drain open.
    health.shutdown();
    await sweep?.stop();
    await metricsListener?.close();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    connections.beginShutdown();
    if (await settlesWithin(closed, config.shutdownGraceMs)) {
      return;
    }
    logger.warn(
      { shutdown_grace_ms: config.shutdownGraceMs },
      "calls still running after the grace period: aborting them",
    );
    shutdown.abort(new ConnectError("the server is shutting down", Code.Unavailable));
    await settlesWithin(closed, FORCE_CLOSE_DELAY_MS);
    connections.destroyAll();
    await closed;
  }
}

/** The web console at "/" and the API reference; each says so when its page is not built. */
async function loadSites(options: LedgerServerOptions, logger: Logger): Promise<StaticSite[]> {
  const consoleDir = options.consoleDir ?? CONSOLE_DIR_DEFAULT;
  const site = await loadStaticSite(consoleDir);
  if (site.paths.length === 0) {
    logger.warn(
      { console_dir: consoleDir },
      "web console not built (npm run build:console): / answers 404",
    );
  }
  const docsDir = options.docsDir ?? DOCS_DIR_DEFAULT;
  const reference = await loadApiReference(docsDir);
  if (!reference.paths.includes(DOCS_PATH)) {
    logger.warn(
      { docs_dir: docsDir },
      "API reference page not built (npm run build:docs): /docs answers 404",
    );
  }
  if (!reference.paths.includes(OPENAPI_PATH)) {
    logger.warn("no OpenAPI document in gen/ (npm run generate): /openapi.json answers 404");
  }
  return [site, reference];
}

/**
 * Says at start who may call: development mode loudly, and a warning when
 * tokens would cross the network in clear text.
 */
function logAccessMode(config: ServerConfig, tokens: number, logger: Logger): void {
  if (!config.credentials.enabled) {
    logger.warn(
      { host: config.host, mode: "development" },
      "DEVELOPMENT MODE: no credential configured (LEDGER_TOKENS, LEDGER_TOKENS_FILE), so every caller is an admin of every app; serving loopback only. See `npm run token` to configure tokens.",
    );
    return;
  }
  logger.info({ tokens }, "bearer tokens required on every ledger call");
  if (tokens === 0) {
    logger.warn("no token is configured yet: every ledger call is refused UNAUTHENTICATED");
  }
  if (config.tls === undefined && !isLoopback(config.host)) {
    logger.warn(
      { host: config.host },
      "bearer tokens travel in clear text: serve TLS (TLS_CERT_FILE, TLS_KEY_FILE) or put a TLS proxy in front on any non-loopback address",
    );
  }
}

/** True when `promise` settles within `timeoutMs`. */
async function settlesWithin(promise: Promise<void>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
