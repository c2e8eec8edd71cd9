/**
 * The console keeps one token for the tab, trimmed, and forgets it on
 * demand; an empty token is no token.
 */
import { describe, expect, it } from "vitest";
import { type TokenStorage, tabTokenStore } from "./session.js";

function fakeStorage(): TokenStorage & { readonly items: Map<string, string> } {
  const items = new Map<string, string>();
  return {
    items,
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => {
      items.set(key, value);
    },
    removeItem: (key) => {
      items.delete(key);
    },
  };
}

describe("tabTokenStore", () => {
  it("has no token until one is remembered, then the trimmed token", () => {
    const storage = fakeStorage();
    const tokens = tabTokenStore(storage);
    expect(tokens.current()).toBeUndefined();
    tokens.remember("  sl_abc \n");
    expect(tokens.current()).toBe("sl_abc");
    expect(tabTokenStore(storage).current()).toBe("sl_abc");
  });

  it("forgets the token, and takes an empty one as forgetting", () => {
    const storage = fakeStorage();
    const tokens = tabTokenStore(storage);
    tokens.remember("sl_abc");
    tokens.forget();
    expect(tokens.current()).toBeUndefined();
    tokens.remember("sl_abc");
    tokens.remember("   ");
    expect(tokens.current()).toBeUndefined();
    expect(storage.items.size).toBe(0);
  });
});
