/** Milliseconds per step of a piece of work, each step timed from the end of the one before (for timing logs). */
export class Laps {
  private last = performance.now();
  readonly steps: Record<string, number> = {};
  /** Ends a step; a step named twice adds up. */
  lap(step: string): void {
    const now = performance.now();
    this.steps[step] = (this.steps[step] ?? 0) + Math.round(now - this.last);
    this.last = now;
  }
}
