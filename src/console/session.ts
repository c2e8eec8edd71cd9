/**
 * The console's bearer token, kept for this tab only: sessionStorage
 * survives a reload of the tab but not a new tab or browser session, and is
 * never sent anywhere by itself (unlike a cookie). Not localStorage: a
 * token should not outlive the tab it was typed into.
 */

/** What the store needs of Storage: sessionStorage in the page, a fake in tests. */
export type TokenStorage = Pick<Storage, "getItem" | "setItem" | "removeItem">;

export interface TokenStore {
  /** The tab's token; undefined when none was entered (or it was forgotten). */
  current(): string | undefined;
  /** Keeps `token` (trimmed) for the tab; an empty one forgets it. */
  remember(token: string): void;
  forget(): void;
}

const TOKEN_KEY = "shared-ledger.console.token";

export function tabTokenStore(storage: TokenStorage): TokenStore {
  const store: TokenStore = {
    current: () => {
      const token = storage.getItem(TOKEN_KEY) ?? "";
      return token === "" ? undefined : token;
    },
    remember: (token) => {
      const trimmed = token.trim();
      if (trimmed === "") {
        store.forget();
      } else {
        storage.setItem(TOKEN_KEY, trimmed);
      }
    },
    forget: () => storage.removeItem(TOKEN_KEY),
  };
  return store;
}
