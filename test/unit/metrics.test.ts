import { describe, expect, it } from 'vitest';
import type { Accounting } from '../../src/agent/accounting';
import type { AgentStatus } from '../../src/agent/status';
import { agentMetrics } from '../../src/server';

/** The value of one sample in Prometheus text. */
function sample(text: string, name: string): number {
  const m = new RegExp(`^${name.replace(/[{}"=]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`no ${name}`);
  return Number(m[1]);
}

describe('/metrics', () => {
  it('reads the books once per scrape: they balance in every scrape while binds flow', async () => {
    // each call sees 10 more binds: seen = exported + lost + pending within one call
    let calls = 0;
    const status: AgentStatus = {
      live: () => true,
      ready: () => true,
      accounting: (): Accounting => {
        calls++;
        const exported = 100 * calls;
        return { seen: exported + 7 + calls, exported, lost: { kernel: 3, reader: 0, export_queue: 4, export: 0, handover: 0 }, pending: calls, exportFailures: new Map() };
      },
      podsKnown: () => 0,
      containersKnown: () => 0,
      resourcesKnown: () => 0,
      exportQueueDepth: () => 0,
      podWatch: () => undefined,
      podHold: () => undefined,
      backend: () => ({ name: 'tracepoint' }),
      encoder: () => ({ records: 40 * calls, bytes: 40_000 * calls, seconds: 0.25, unencoded: 2 }),
    };
    const metrics = agentMetrics(status);
    for (let i = 0; i < 3; i++) {
      const text = await metrics.scrape();
      let lost = 0;
      for (const stage of ['kernel', 'reader', 'export_queue', 'export']) lost += sample(text, `bindsnoop_events_lost_total{stage="${stage}"}`);
      expect(sample(text, 'bindsnoop_events_exported_total') + lost + sample(text, 'bindsnoop_events_pending')).toBe(sample(text, 'bindsnoop_events_total'));
    }
    expect(calls).toBe(3);
    const text = await metrics.scrape();
    expect(sample(text, 'bindsnoop_encoder_records_total')).toBe(160);
    expect(sample(text, 'bindsnoop_encoder_bytes_total')).toBe(160_000);
    expect(sample(text, 'bindsnoop_encoder_seconds_total')).toBe(0.25);
    expect(sample(text, 'bindsnoop_encoder_unencoded_records_total')).toBe(2);
  });
});
