/**
 * Who may do what, in one place: every LedgerService call is authenticated
 * by its bearer token, allowed by the token's role, and confined to the
 * token's app. Reflection and health are public (they reveal no balances)
 * and pass through untouched.
 *
 * The caller's app then travels with every store call (CallOptions.app), so
 * a ledger or transaction of another app answers exactly as one that does
 * not exist.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { APPS } from "../../gen/apps/registry.js";
import { LedgerService } from "../../gen/ledger/v1/ledger_pb.js";
import { checkApp as checkAppName, LedgerError } from "../domain/index.js";
import { noteCaller } from "./call-log.js";

/** The apps declared under proto/apps/: the only ones a request may name. */
export const DECLARED_APPS: readonly string[] = APPS.map((spec) => spec.app);

/** reader < writer < admin: each role may do what the ones before it may. */
export const ROLES = ["reader", "writer", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling: an app and a role, or anyone (development mode). */
export interface Caller {
  /** undefined: development mode, every app. */
  readonly app: string | undefined;
  readonly role: Role;
  /** A short, non-secret id of the token (its hash's prefix), for logs; "" in development mode. */
  readonly tokenId: string;
}

/** Checks bearer tokens; `enabled: false` is development mode (no credential configured). */
export interface Authenticator {
  readonly enabled: boolean;
  /** The caller a token stands for; undefined for an unknown token. */
  authenticate(token: string): Caller | undefined;
}

/** The caller of development mode: admin of every app. */
export const ANY_CALLER: Caller = { app: undefined, role: "admin", tokenId: "" };

const callerKey = createContextKey<Caller>(ANY_CALLER, { description: "ledger.v1 caller" });

/** The authenticated caller of a call (ANY_CALLER in development mode). */
export function callerOf(ctx: HandlerContext): Caller {
  return ctx.values.get(callerKey);
}

type LedgerMethodName = keyof (typeof LedgerService)["method"];

/** The least role of each RPC: adding an RPC to the proto fails compilation here until decided. */
const REQUIRED_ROLE: { readonly [method in LedgerMethodName]: Role } = {
  createLedger: "admin",
  getLedger: "reader",
  listLedgers: "reader",
  recordEntry: "writer",
  recordEntries: "writer",
  transfer: "writer",
  createTransfers: "writer",
  reverseTransaction: "writer",
  getTransaction: "reader",
  getBalance: "reader",
  listEntries: "reader",
  terminateLedger: "admin",
  postPendingTransaction: "writer",
  voidPendingTransaction: "writer",
  listPendingTransactions: "reader",
  watchEntries: "reader",
};

/** The role a call needs, and what needs it: backdating an entry is an admin's act. */
export function requiredRole(method: DescMethod, message: unknown): { role: Role; act: string } {
  const act = `${method.parent.name}/${method.name}`;
  if (backdates(message)) {
    return { role: "admin", act: `backdating an entry (created_at) with ${act}` };
  }
  return { role: REQUIRED_ROLE[method.localName as LedgerMethodName], act };
}

/** A RecordEntry with created_at, or a RecordEntries with such an item. */
function backdates(message: unknown): boolean {
  const m = message as {
    $typeName?: string;
    createdAt?: unknown;
    entries?: readonly { createdAt?: unknown }[];
  };
  switch (m.$typeName) {
    case "ledger.v1.RecordEntryRequest":
      return m.createdAt !== undefined;
    case "ledger.v1.RecordEntriesRequest":
      return m.entries?.some((item) => item.createdAt !== undefined) ?? false;
    default:
      return false;
  }
}

export function roleAllows(role: Role, required: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(required);
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * The interceptor that authenticates every LedgerService call, checks its
 * role and the apps it names, and records the caller for the service.
 * Declared apps are checked in development mode too.
 */
export function createAccessInterceptor(
  authenticator: Authenticator,
  declaredApps: readonly string[] = DECLARED_APPS,
): Interceptor {
  return (next) => async (req) => {
    if (req.service.typeName !== LedgerService.typeName) {
      return next(req);
    }
    const caller = authenticator.enabled
      ? authenticateHeader(authenticator, req.header.get("authorization"))
      : ANY_CALLER;
    req.contextValues.set(callerKey, caller);
    noteCaller(req.contextValues, caller);
    // A streamed request is checked by its method alone (its messages come later).
    const message = req.stream ? {} : req.message;
    checkRole(caller, req.method, message);
    checkApp(caller, message, declaredApps);
    return next(req);
  };
}

function authenticateHeader(authenticator: Authenticator, header: string | null): Caller {
  if (header === null || header.trim() === "") {
    throw new LedgerError(
      "TOKEN_MISSING",
      'this server requires a bearer token: send the header "authorization: Bearer <token>"',
    );
  }
  const token = BEARER.exec(header)?.[1];
  const caller = token === undefined ? undefined : authenticator.authenticate(token);
  if (caller === undefined) {
    throw new LedgerError(
      "TOKEN_INVALID",
      'the bearer token is not valid: malformed, unknown or revoked ("authorization: Bearer <token>")',
    );
  }
  return caller;
}

function checkRole(caller: Caller, method: DescMethod, message: unknown): void {
  const required = requiredRole(method, message);
  if (!roleAllows(caller.role, required.role)) {
    throw new LedgerError(
      "ROLE_NOT_PERMITTED",
      `${required.act} needs role ${required.role}; this token's role is ${caller.role}`,
      {
        method: `${method.parent.typeName}/${method.name}`,
        role: caller.role,
        required_role: required.role,
      },
    );
  }
}

/** A request that names an app (CreateLedger, ListLedgers, lookups by owner or external id). */
export function checkApp(caller: Caller, message: unknown, declaredApps: readonly string[]): void {
  const app = (message as { app?: unknown }).app;
  if (typeof app !== "string" || app === "") {
    return;
  }
  // A malformed name is refused as such (INVALID_ARGUMENT naming `app`) first.
  checkAppName("app", app);
  if (!declaredApps.includes(app)) {
    throw new LedgerError(
      "UNKNOWN_APP",
      `app: "${app}" is not declared; declared apps: ${declaredApps.join(", ")} (an app is declared in proto/apps/<app>/)`,
      { field: "app", app, declared_apps: declaredApps.join(",") },
    );
  }
  if (caller.app !== undefined && caller.app !== app) {
    throw new LedgerError(
      "APP_NOT_PERMITTED",
      `app: this token belongs to app "${caller.app}" and cannot act for app "${app}"`,
      { app, caller_app: caller.app },
    );
  }
}
