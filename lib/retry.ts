// Retries of technical failures: exponential backoff with ±20 % jitter, so many records failing together do not retry
// together.
export interface BackoffPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
}

export function retryDelayMs(attempts: number, policy: BackoffPolicy, random = Math.random): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(exponential * (0.8 + 0.4 * random()));
}
