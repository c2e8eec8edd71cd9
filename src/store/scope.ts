import { LedgerError } from "../domain/index.js";

/**
 * Per-app isolation (CallOptions.app), its one rule: to a caller scoped to
 * an app, a ledger or transaction of another app is one that does not
 * exist. undefined: any app (development mode, the server's own sweeps).
 * The rule is stated here once for code (visible), once for SQL over one
 * scope (scopeSql) and once for SQL over rows each asked for under its own
 * scope (askedSql); every filter of the store is one of these.
 */
export type Scope = string | undefined;

/** Whether a row of `app` exists for a caller of `scope`. */
export function visible(app: string, scope: Scope): boolean {
  return scope === undefined || app === scope;
}

/** The row as a caller of `scope` sees it: undefined when absent or of another app. */
export function inScope<T extends { readonly app: string }>(
  row: T | undefined,
  scope: Scope,
): T | undefined {
  return row !== undefined && visible(row.app, scope) ? row : undefined;
}

/** A scope as a bind parameter of scopeSql: null for any app. */
export function scopeParam(scope: Scope): string | null {
  return scope ?? null;
}

/** SQL: the `app` column is visible to the scope bound at `param` (scopeParam). */
export function scopeSql(app: string, param: string): string {
  return `(${param}::text is null or ${app} = ${param}::text)`;
}

/** An ORM filter (MikroORM's find) of the rows of a table with an app column `scope` sees. */
export function scopeWhere(scope: Scope): { app?: string } {
  return scope === undefined ? {} : { app: scope };
}

/** An id asked for by a caller of a scope. */
export type Ask = readonly [id: string, scope: Scope];

/** Asks as two bind parameters for askedSql: each (id, scope) once; an unscoped ask covers the id. */
export interface Asked {
  readonly ids: readonly string[];
  readonly apps: readonly (string | null)[];
}

export function asked(asks: Iterable<Ask>): Asked {
  const scopes = new Map<string, Set<Scope>>();
  for (const [id, scope] of asks) {
    scopes.set(id, (scopes.get(id) ?? new Set()).add(scope));
  }
  const pairs = [...scopes].flatMap(([id, of]) =>
    of.has(undefined) ? [[id, null] as const] : [...of].map((app) => [id, app ?? null] as const),
  );
  return { ids: pairs.map(([id]) => id), apps: pairs.map(([, app]) => app) };
}

/** The ids asked for by the store itself (any app). */
export function anyApp(ids: readonly string[]): Asked {
  return asked(ids.map((id): Ask => [id, undefined]));
}

/**
 * SQL: the row `alias` (with columns id and app) is asked for (the Asked
 * bound at `ids` and `apps`) under a scope it is visible to. A filter of
 * the statement's own scan, so a row no ask sees is never locked nor
 * waited on by FOR UPDATE.
 */
export function askedSql(alias: string, ids: string, apps: string): string {
  return `exists (select from unnest(${ids}::uuid[], ${apps}::text[]) as asked (id, app)
                   where asked.id = ${alias}.id and ${scopeSql(`${alias}.app`, "asked.app")})`;
}

/** askedSql as an ORM filter: the rows asked for, each under a scope it is visible to. */
export function askedWhere({ ids, apps }: Asked): {
  $or: { id: { $in: string[] }; app?: string }[];
} {
  const byScope = new Map<Scope, string[]>();
  ids.forEach((id, index) => {
    const scope = apps[index] ?? undefined;
    byScope.set(scope, [...(byScope.get(scope) ?? []), id]);
  });
  return { $or: [...byScope].map(([scope, of]) => ({ id: { $in: of }, ...scopeWhere(scope) })) };
}

/**
 * A request that names an app (createLedger's input.app) must name its
 * caller's: the RPC layer refuses another first (APP_NOT_PERMITTED); the
 * store refuses it too, before it reads anything of that app.
 */
export function assertActsFor(app: string, scope: Scope): void {
  if (!visible(app, scope)) {
    throw new LedgerError(
      "APP_NOT_PERMITTED",
      `the caller of app ${scope} may not act for app ${app}`,
      { app },
    );
  }
}
