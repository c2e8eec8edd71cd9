const LINES_MAX = 20;
const LINE_CHARS_MAX = 500;

/** The last lines a process wrote, kept to explain how it ended. */
export class LogTail {
  private readonly lines: string[] = [];
  private partial = "";

  constructor(private readonly onLine: (line: string) => void = () => {}) {}

  push(chunk: Buffer | string): void {
    const parts = (this.partial + chunk.toString()).split("\n");
    this.partial = parts.pop() ?? "";
    for (const part of parts) {
      this.add(part);
    }
  }

  /** The kept lines, a partial last line included, newline-separated and indented. */
  text(): string {
    const lines = this.partial === "" ? this.lines : [...this.lines, this.partial];
    return lines.length === 0 ? "  (no output)" : lines.map((line) => `  ${line}`).join("\n");
  }

  /** Whether a kept line contains `fragment`. */
  includes(fragment: string): boolean {
    return this.lines.some((line) => line.includes(fragment)) || this.partial.includes(fragment);
  }

  private add(raw: string): void {
    const line = raw.trimEnd().slice(0, LINE_CHARS_MAX);
    if (line === "") {
      return;
    }
    this.lines.push(line);
    if (this.lines.length > LINES_MAX) {
      this.lines.shift();
    }
    this.onLine(line);
  }
}
