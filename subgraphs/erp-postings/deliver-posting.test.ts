import { retryDelayMs, type DeliveryPolicy } from './deliver-posting';

const policy: DeliveryPolicy = { maxAttempts: 8, baseDelayMs: 1_000, maxDelayMs: 60_000, leaseMs: 30_000 };

describe('retry backoff', () => {
  it('doubles with each attempt, with ±20 % jitter', () => {
    expect(retryDelayMs(1, policy, () => 0.5)).toBe(1_000);
    expect(retryDelayMs(2, policy, () => 0.5)).toBe(2_000);
    expect(retryDelayMs(4, policy, () => 0.5)).toBe(8_000);
    expect(retryDelayMs(4, policy, () => 0)).toBe(6_400);
    expect(retryDelayMs(4, policy, () => 1)).toBe(9_600);
  });

  it('never waits longer than the cap (plus jitter)', () => {
    expect(retryDelayMs(30, policy, () => 0.5)).toBe(60_000);
  });
});
