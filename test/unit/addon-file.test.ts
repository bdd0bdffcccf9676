import { describe, expect, it } from 'vitest';
import { compareVersions, prebuildSupport } from '../../src/kernel/addon-file';

describe('judging a prebuild', () => {
  it('orders glibc versions by number, not text', () => {
    expect(compareVersions('2.31', '2.31')).toBe(0);
    expect(compareVersions('2.28', '2.31')).toBeLessThan(0);
    expect(compareVersions('2.100', '2.31')).toBeGreaterThan(0);
    expect(compareVersions('2.31.1', '2.31')).toBeGreaterThan(0);
    expect(compareVersions('2.31', '2.31.0')).toBe(0);
  });

  it('reads what the package says it supports, and nothing from a package that says nothing', () => {
    expect(prebuildSupport({ bindsnoop: { prebuilds: { platforms: ['linux-x64'], glibc: '2.31' } } })).toEqual({ platforms: ['linux-x64'], glibc: '2.31' });
    expect(prebuildSupport({})).toEqual({ platforms: [], glibc: '' });
  });
});
