/**
 * Bearer tokens: each bound to one declared app and one role, configured as
 * lines `<app>:<role>:sha256:<hex>` (LEDGER_TOKENS, LEDGER_TOKENS_FILE). The
 * server keeps only the SHA-256 of each token (tokens are 256 random bits,
 * so a fast hash is enough) and compares digests in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { type Authenticator, type Caller, ROLES, type Role } from "../rpc/index.js";

/** One configured token: who it stands for, and the digest of its secret. */
export interface TokenEntry {
  readonly app: string;
  readonly role: Role;
  /** SHA-256 of the token, 64 lowercase hex digits. */
  readonly sha256Hex: string;
}

/** A token as `npm run token` makes it: "sl_" and 32 random bytes in base64url. */
const TOKEN_PATTERN = /^sl_[A-Za-z0-9_-]{43}$/;
const ENTRY_PATTERN = /^([a-z][a-z0-9_-]*):([a-z]+):sha256:([0-9a-f]{64})$/;
/** The current token and the next one, per app and role, during a rotation. */
export const TOKENS_PER_APP_ROLE_MAX = 2;

export function tokenSha256Hex(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A new random token and the configuration line that admits it. */
export function newToken(app: string, role: Role): { token: string; line: string } {
  const token = `sl_${randomBytes(32).toString("base64url")}`;
  return { token, line: tokenLine({ app, role, sha256Hex: tokenSha256Hex(token) }) };
}

export function tokenLine(entry: TokenEntry): string {
  return `${entry.app}:${entry.role}:sha256:${entry.sha256Hex}`;
}

/**
 * Parses configured entries: separated by newlines or commas, `#` starting
 * a comment. Every problem is reported with `source` (the variable or file).
 */
export function parseTokenEntries(
  text: string,
  source: string,
  declaredApps: readonly string[],
  problems: string[],
): TokenEntry[] {
  const entries: TokenEntry[] = [];
  const items = text
    .split("\n")
    .flatMap((line) => (line.split("#")[0] ?? "").split(","))
    .map((item) => item.trim())
    .filter((item) => item !== "");
  for (const item of items) {
    const entry = parseEntry(item, source, declaredApps, problems);
    if (entry !== undefined) {
      entries.push(entry);
    }
  }
  return entries;
}

function parseEntry(
  item: string,
  source: string,
  declaredApps: readonly string[],
  problems: string[],
): TokenEntry | undefined {
  const match = ENTRY_PATTERN.exec(item);
  const [, app = "", role = "", sha256Hex = ""] = match ?? [];
  if (match === null) {
    // An entry is only a digest, but a pasted token must not end up in a log.
    const shown = TOKEN_PATTERN.test(item) ? "a raw token (configure its sha256 line)" : "an entry";
    problems.push(`${source}: expected <app>:<role>:sha256:<64 hex digits>, got ${shown}`);
    return undefined;
  }
  if (!declaredApps.includes(app)) {
    problems.push(`${source}: app "${app}" is not declared (declared: ${declaredApps.join(", ")})`);
    return undefined;
  }
  if (!isRole(role)) {
    problems.push(`${source}: role "${role}" is not one of ${ROLES.join(", ")}`);
    return undefined;
  }
  return { app, role, sha256Hex };
}

function isRole(text: string): text is Role {
  return (ROLES as readonly string[]).includes(text);
}

/** Problems of a whole set: a token listed twice, more than two per app and role. */
export function checkTokenSet(entries: readonly TokenEntry[], problems: string[]): void {
  const digests = new Set<string>();
  const perAppRole = new Map<string, number>();
  for (const entry of entries) {
    if (digests.has(entry.sha256Hex)) {
      problems.push(`tokens: the token ${tokenId(entry)}… is configured twice`);
    }
    digests.add(entry.sha256Hex);
    const key = `${entry.app}:${entry.role}`;
    perAppRole.set(key, (perAppRole.get(key) ?? 0) + 1);
  }
  for (const [key, count] of perAppRole) {
    if (count > TOKENS_PER_APP_ROLE_MAX) {
      problems.push(
        `tokens: ${count} tokens for ${key}; at most ${TOKENS_PER_APP_ROLE_MAX} (the current one and the next, during a rotation)`,
      );
    }
  }
}

/** The non-secret id logs show for a token: the first 12 hex digits of its digest. */
function tokenId(entry: TokenEntry): string {
  return entry.sha256Hex.slice(0, 12);
}

interface Admitted {
  readonly caller: Caller;
  readonly digest: Buffer;
}

/** The server's tokens; `replace` swaps the whole set at once (a rotation without restart). */
export class Credentials implements Authenticator {
  private admitted: readonly Admitted[] = [];

  constructor(
    readonly enabled: boolean,
    entries: readonly TokenEntry[],
  ) {
    this.replace(entries);
  }

  get size(): number {
    return this.admitted.length;
  }

  replace(entries: readonly TokenEntry[]): void {
    this.admitted = entries.map((entry) => ({
      caller: { app: entry.app, role: entry.role, tokenId: tokenId(entry) },
      digest: Buffer.from(entry.sha256Hex, "hex"),
    }));
  }

  /** Compares the token's digest with every configured one, without stopping at a match. */
  authenticate(token: string): Caller | undefined {
    if (!TOKEN_PATTERN.test(token)) {
      return undefined;
    }
    const digest = createHash("sha256").update(token, "utf8").digest();
    let found: Caller | undefined;
    for (const candidate of this.admitted) {
      if (timingSafeEqual(digest, candidate.digest)) {
        found = candidate.caller;
      }
    }
    return found;
  }
}
