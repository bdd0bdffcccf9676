import { expect, it } from 'vitest';
import { ExportHealth } from '../../src/agent/export-health';

it('says once when export starts failing and once when it works again, naming the endpoint and why', () => {
  const lines: string[] = [];
  const health = new ExportHealth('https://***@collector:4318/v1/logs', (l) => lines.push(l));
  health.attempt(undefined);
  health.attempt('ECONNREFUSED');
  health.attempt('ECONNREFUSED');
  health.attempt('HTTP 503');
  expect(health.failing()).toBe(true);
  health.attempt(undefined);
  health.attempt(undefined);
  expect(lines).toEqual([
    'export to https://***@collector:4318/v1/logs failing: ECONNREFUSED; retrying, and counting what cannot be sent (bindsnoop_export_failures_total)',
    'export to https://***@collector:4318/v1/logs works again (after 3 failed attempts)',
  ]);
});
