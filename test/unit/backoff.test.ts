import { describe, expect, it } from 'vitest';
import { backoffMillis } from '../../src/kubernetes/pod-watch';

describe('retry backoff of the Kubernetes watch', () => {
  it('doubles from the base delay, caps at a minute, and jitters by at most 20%', () => {
    expect([0, 1, 2, 3].map((n) => backoffMillis(100, n, () => 0.5))).toEqual([100, 200, 400, 800]);
    expect(backoffMillis(2000, 40, () => 0.5)).toBe(60_000);
    expect(backoffMillis(1000, 0, () => 0)).toBe(800);
    expect(backoffMillis(1000, 0, () => 1)).toBe(1200);
  });
});
