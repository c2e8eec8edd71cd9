/**
 * Signing in with a token: the token form (shown when a call is refused
 * TOKEN_MISSING or TOKEN_INVALID), and the header's status: signed in with
 * a "forget token" control, or development mode once a call succeeded
 * without a token. The token itself is never shown, logged or put in a URL.
 */
import { byId } from "./dom.js";
import type { TokenStore } from "./session.js";

export interface SignIn {
  /**
   * Drops the tab's token (missing or refused) and shows the token form;
   * `retry` runs once a token is entered.
   */
  ask(retry: (() => void) | undefined): void;
  /** A call succeeded: without a token, the server is in development mode. */
  succeeded(withToken: boolean): void;
}

/** Wires the token form and the header; `onForget` clears what the forgotten token read. */
export function wireSignIn(tokens: TokenStore, onForget: () => void): SignIn {
  let retry: (() => void) | undefined;
  let developmentMode = false;
  const panel = byId("token-panel");
  const input = byId<HTMLInputElement>("token-input");

  const renderStatus = (): void => {
    const signedIn = tokens.current() !== undefined;
    byId("signed-in").hidden = !signedIn;
    byId("dev-mode").hidden = signedIn || !developmentMode;
  };

  const signIn: SignIn = {
    ask(next) {
      tokens.forget();
      retry = next;
      panel.hidden = false;
      renderStatus();
      input.focus();
    },
    succeeded(withToken) {
      if (!withToken && !developmentMode) {
        developmentMode = true;
        renderStatus();
      }
    },
  };

  byId<HTMLFormElement>("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    tokens.remember(input.value);
    input.value = "";
    if (tokens.current() === undefined) {
      return;
    }
    panel.hidden = true;
    renderStatus();
    const pending = retry;
    retry = undefined;
    pending?.();
  });
  byId("token-forget").addEventListener("click", () => {
    onForget();
    signIn.ask(undefined);
  });
  renderStatus();
  return signIn;
}
