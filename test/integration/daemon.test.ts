import { afterEach, expect, it } from 'vitest';
import { OtlpReceiver } from '../helpers/otlp-receiver';
import { Agent, books, describePrivileged, expectReleased, logLines, metric, OWN_UID, runBinds, startDaemon } from './harness';

/** The agent as the DaemonSet runs it: --daemon, JSON logs, /healthz /readyz /metrics. */
let receiver: OtlpReceiver | undefined;
afterEach(async () => {
  await receiver?.stop();
  receiver = undefined;
});

describePrivileged('daemon mode', () => {
  it('logs where it exports without the URL\'s user, password or query', async () => {
    receiver = await OtlpReceiver.start();
    const url = new URL(receiver.url);
    const { agent } = await startDaemon({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://user:s3cret@${url.host}/base?api-key=k3y`, BINDSNOOP_FILTER_UID: String(OWN_UID) });
    expect(logLines(agent).find((l) => l.msg === 'tracing binds')).toMatchObject({ endpoint: `http://${url.host}/base/v1/logs` });
    expect(agent.stderr).not.toMatch(/s3cret|k3y/);
    expect((await agent.stop('SIGTERM')).code).toBe(0);
  });


  it('answers /healthz and /readyz, counts binds in /metrics with the books balanced, and logs JSON', async () => {
    receiver = await OtlpReceiver.start();
    // only this test's binds, made as the run's own user: the queue drains to 0 while a neighbour binds on
    const { agent, base } = await startDaemon({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, BINDSNOOP_OTLP_FLUSH_INTERVAL_MILLIS: '50', BINDSNOOP_FILTER_UID: String(OWN_UID) });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    const before = await metric(base, 'bindsnoop_events_total');
    const run = runBinds(['--netns', '--uid', String(OWN_UID), 'tcp,4,127.0.0.1,0', 'udp,4,127.0.0.1,0', 'tcp,6,::1,0']);
    await agent.waitFor(() => receiver!.records().filter((r) => r.attributes['process.pid'] === run.pid).length === 3, 'the export');
    // the books from one scrape (other processes may bind meanwhile)
    const { seen, exported, lost, pending } = await books(base);
    expect(seen - before).toBeGreaterThanOrEqual(3);
    expect(exported + lost + pending).toBe(seen);
    expect(await metric(base, 'bindsnoop_ready')).toBe(1);
    expect(await metric(base, 'bindsnoop_live')).toBe(1);
    // exporting only, no pod to resolve: the addon encoded each record where it read it
    expect(await metric(base, 'bindsnoop_encoder_records_total')).toBeGreaterThanOrEqual(3);
    expect(await metric(base, 'bindsnoop_encoder_bytes_total')).toBeGreaterThan(3 * 500);
    // everything was exported: once the receiver's answer is in, nothing waits
    let depth = await metric(base, 'bindsnoop_export_queue_depth');
    for (let i = 0; depth !== 0 && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      depth = await metric(base, 'bindsnoop_export_queue_depth');
    }
    expect(depth).toBe(0);
    expect(await metric(base, 'bindsnoop_pods_known')).toBe(0);
    // the backend in use, the same in the log, the metrics and every record's scope
    const logs = logLines(agent);
    const attached = logs.find((l) => l.msg.startsWith('tracing with the '));
    expect(attached?.backend).toMatch(/^(fentry|kprobe|tracepoint)$/);
    expect(await metric(base, `bindsnoop_backend_info{backend="${String(attached?.backend)}"}`)).toBe(1);
    const mine = receiver.records().filter((r) => r.attributes['process.pid'] === run.pid);
    expect(new Set(mine.map((r) => r.scope.attributes?.['bindsnoop.backend']))).toEqual(new Set([attached?.backend]));
    // where the records go, without credentials
    expect(logs.find((l) => l.msg === 'tracing binds')).toMatchObject({ endpoint: `${receiver.url}/v1/logs`, kubernetes: false });
    // stdout carries nothing; stderr is structured
    expect(agent.stdout).toBe('');
    expect(logs[0]).toMatchObject({ msg: 'effective capabilities', service: 'bindsnoop' });
    expect(logs[0].capabilities).toEqual(expect.arrayContaining(['CAP_BPF', 'CAP_PERFMON']));
    expect((await agent.stop('SIGTERM')).code).toBe(0);
  });

  it('SIGTERM: not ready at once, flushes within the deadline, logs what was lost, exits 0 and detaches', async () => {
    receiver = await OtlpReceiver.start();
    receiver.answerAlways({ kind: 'hang' });
    const { agent, base } = await startDaemon({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      BINDSNOOP_OTLP_FLUSH_INTERVAL_MILLIS: '50',
      BINDSNOOP_OTLP_SHUTDOWN_TIMEOUT_MILLIS: '1500',
    });
    const held = agent.held();
    expect(held.programs.length).toBeGreaterThanOrEqual(2);
    runBinds(['--netns', 'tcp,4,127.0.0.1,0', 'tcp,4,127.0.0.1,0']);
    await agent.waitFor(() => receiver!.requests.length > 0, 'an export in flight');
    const started = Date.now();
    agent.proc.kill('SIGTERM');
    await agent.waitFor(() => logLines(agent).some((l) => l.msg.startsWith('stopping')), 'the stop to begin');
    // still running, flushing, but no longer ready
    expect(agent.proc.exitCode).toBeNull();
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    const exit = await agent.exited;
    expect(exit.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(1500 + 3000);
    const stopped = logLines(agent).find((l) => l.msg === 'stopped')!;
    expect((stopped.lost as Record<string, number>).export).toBeGreaterThanOrEqual(2);
    expect(stopped.exportFailures).toHaveProperty('shutdown');
    await expectReleased(held);
  });

  it('runs with only CAP_BPF and CAP_PERFMON, and names a missing capability', async () => {
    const caps = (set: string): string[] => ['setpriv', `--inh-caps=-all,${set}`, `--bounding-set=-all,${set}`];
    const { agent, base } = await startDaemon({}, caps('+bpf,+perfmon'));
    expect(logLines(agent)[0].capabilities).toEqual(['CAP_PERFMON', 'CAP_BPF']);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await agent.stop('SIGTERM')).code).toBe(0);

    const short = Agent.spawn(['--daemon'], { BINDSNOOP_SERVER_PORT: '0' }, caps('+bpf'));
    expect((await short.exited).code).toBe(1);
    const error = logLines(short).find((l) => l.level === 50)!;
    expect(error.msg).toMatch(/^missing CAP_PERFMON: grant CAP_BPF and CAP_PERFMON/);
    expect(error.missing).toEqual(['CAP_PERFMON']);
  });
});
