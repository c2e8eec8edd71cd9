import { describe, expect, it } from "vitest";
import { Credentials, newToken, parseTokenEntries, tokenSha256Hex } from "./credentials.js";

function entriesOf(...lines: string[]) {
  const problems: string[] = [];
  const entries = parseTokenEntries(lines.join("\n"), "test", ["content", "learning"], problems);
  expect(problems).toEqual([]);
  return entries;
}

describe("Credentials", () => {
  const writer = newToken("content", "writer");
  const reader = newToken("learning", "reader");

  it("makes 256-bit tokens whose configuration line holds only their SHA-256", () => {
    expect(writer.token).toMatch(/^sl_[A-Za-z0-9_-]{43}$/);
    expect(writer.line).toBe(`content:writer:sha256:${tokenSha256Hex(writer.token)}`);
    expect(writer.line).not.toContain(writer.token.slice(3));
    expect(newToken("content", "writer").token).not.toBe(writer.token);
  });

  it("knows each configured token's app and role, and nothing else", () => {
    const credentials = new Credentials(true, entriesOf(writer.line, reader.line));
    expect(credentials.authenticate(writer.token)).toEqual({
      app: "content",
      role: "writer",
      tokenId: tokenSha256Hex(writer.token).slice(0, 12),
    });
    expect(credentials.authenticate(reader.token)).toMatchObject({
      app: "learning",
      role: "reader",
    });
    expect(credentials.authenticate(newToken("content", "writer").token)).toBeUndefined();
    expect(credentials.authenticate(`${writer.token}x`)).toBeUndefined();
    expect(credentials.authenticate(tokenSha256Hex(writer.token))).toBeUndefined();
    expect(credentials.authenticate("")).toBeUndefined();
  });

  it("swaps the whole set at once", () => {
    const next = newToken("content", "writer");
    const credentials = new Credentials(true, entriesOf(writer.line));
    credentials.replace(entriesOf(writer.line, next.line));
    expect(credentials.authenticate(writer.token)).toBeDefined();
    expect(credentials.authenticate(next.token)).toBeDefined();
    credentials.replace(entriesOf(next.line));
    expect(credentials.authenticate(writer.token)).toBeUndefined();
    expect(credentials.authenticate(next.token)).toBeDefined();
  });
});
