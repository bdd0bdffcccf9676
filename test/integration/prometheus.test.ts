import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scaledMillis, waitUntil } from '../helpers/wait';
import { describePrivileged, OWN_UID, ROOT, runBinds, startDaemon, type Agent } from './harness';

/**
 * The alert rules shipped with the chart (charts/bindsnoop-otel/files/alerts.yaml),
 * checked and unit-tested by Debian's promtool, then loaded by a real
 * Prometheus server that scrapes a running agent: when its receiver is gone,
 * its binds are lost at the export stage and the loss alert fires.
 */
const RULES = path.join(ROOT, 'charts', 'bindsnoop-otel', 'files', 'alerts.yaml');
const work = mkdtempSync(path.join(tmpdir(), 'bindsnoop-prometheus-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the alert rules, with promtool', () => {
  it('pass promtool check rules', () => {
    const r = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('SUCCESS: 8 rules found');
  });

  it('pass their unit tests (test/prometheus/alerts.test.yaml): each alert fires when it should and not before', () => {
    const r = spawnSync('promtool', ['test', 'rules', path.join(ROOT, 'test', 'prometheus', 'alerts.test.yaml')], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
  });
});

/** a port nothing listens on: the receiver that went away */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describePrivileged('the alert rules in a real Prometheus scraping the agent', () => {
  let agent: Agent | undefined;
  let prometheus: ChildProcess | undefined;
  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    await agent?.stop();
  });

  it('fires BindsnoopBindsLost with stage="export" when the receiver is gone, and the other alerts stay quiet', async () => {
    const started = await startDaemon({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await deadPort()}`,
      BINDSNOOP_OTLP_TIMEOUT_MILLIS: '500',
      BINDSNOOP_OTLP_FLUSH_INTERVAL_MILLIS: '50',
      BINDSNOOP_FILTER_UID: String(OWN_UID),
    });
    agent = started.agent;
    const target = started.base.replace('http://', '');
    const promPort = await deadPort();
    writeFileSync(
      path.join(work, 'prometheus.yml'),
      [
        'global: {scrape_interval: 1s, evaluation_interval: 1s}',
        `rule_files: ["${RULES}"]`,
        'scrape_configs:',
        '  - job_name: bindsnoop',
        `    static_configs: [{targets: ["${target}"]}]`,
        '',
      ].join('\n'),
    );
    prometheus = spawn('prometheus', [`--config.file=${path.join(work, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(work, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    prometheus.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    const api = `http://127.0.0.1:${promPort}/api/v1`;
    type Alert = { labels: Record<string, string>; state: string; annotations: Record<string, string> };
    const alerts = async (): Promise<Alert[]> => ((await (await fetch(`${api}/alerts`)).json()) as { data: { alerts: Alert[] } }).data.alerts;
    await waitUntil('Prometheus scrapes the agent', async () => {
      try {
        const r = (await (await fetch(`${api}/query?query=${encodeURIComponent('bindsnoop_ready')}`)).json()) as { data: { result: { value: [number, string] }[] } };
        return r.data.result[0]?.value[1] === '1';
      } catch {
        return false;
      }
    }, scaledMillis(30_000)).catch((e: Error) => {
      throw new Error(`${e.message}\n${log.slice(-2000)}`);
    });
    // a loss alerts at once (no `for`): the rule is evaluated every second here
    expect((await alerts()).filter((a) => a.labels.alertname === 'BindsnoopBindsLost')).toEqual([]);

    runBinds(['--netns', '--uid', String(OWN_UID), 'tcp,4,127.0.0.1,0', 'udp,4,127.0.0.1,0', 'tcp,6,::1,0']);
    const firing = await waitUntil(
      'the loss alert firing',
      async () => (await alerts()).find((a) => a.labels.alertname === 'BindsnoopBindsLost' && a.state === 'firing'),
      scaledMillis(60_000),
    );
    expect(firing.labels).toMatchObject({ alertname: 'BindsnoopBindsLost', severity: 'warning', stage: 'export', job: 'bindsnoop', instance: target });
    expect(firing.annotations.summary).toBe('bindsnoop lost binds at the export stage');
    // the agent is alive and ready: those alerts stay quiet
    const names = new Set((await alerts()).map((a) => a.labels.alertname));
    expect(names.has('BindsnoopReaderStopped')).toBe(false);
    expect(names.has('BindsnoopNotReady')).toBe(false);
  }, 180_000);
});
