const QUOTED_LENGTH_MAX = 64;

/** A client's value inside an error message: JSON-quoted, cut at 64 characters. */
export function quoted(text: string): string {
  return JSON.stringify(
    text.length > QUOTED_LENGTH_MAX ? `${text.slice(0, QUOTED_LENGTH_MAX)}...` : text,
  );
}
