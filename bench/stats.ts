/** Latency samples and counts of one measured run. */
export interface RunStats {
  readonly calls: number;
  readonly errors: number;
  readonly durationS: number;
  /** Items (entries) each successful call carries: 1, or a batch's size. */
  readonly itemsPerCall: number;
  /** Items per second: calls/s when itemsPerCall is 1, entries/s for a batch. */
  readonly throughputPerS: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  /** Up to three distinct error messages, to tell what failed. */
  readonly errorSamples: readonly string[];
}

export class Recorder {
  private readonly latenciesMs: number[] = [];
  private errors = 0;
  private readonly errorSamples = new Set<string>();

  constructor(private readonly itemsPerCall = 1) {}

  ok(latencyMs: number): void {
    this.latenciesMs.push(latencyMs);
  }

  failed(error: unknown): void {
    this.errors += 1;
    if (this.errorSamples.size < 3) {
      this.errorSamples.add(error instanceof Error ? error.message.slice(0, 200) : String(error));
    }
  }

  summary(durationS: number): RunStats {
    const sorted = Float64Array.from(this.latenciesMs).sort();
    const at = (q: number) =>
      sorted.length === 0
        ? 0
        : round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
    const calls = sorted.length + this.errors;
    return {
      calls,
      errors: this.errors,
      durationS,
      itemsPerCall: this.itemsPerCall,
      throughputPerS: Math.round((sorted.length * this.itemsPerCall) / durationS),
      p50Ms: at(0.5),
      p95Ms: at(0.95),
      p99Ms: at(0.99),
      errorSamples: [...this.errorSamples],
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
