import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadAddon } from '../../src/kernel/native';
import { Collector, plainAttributes, type CollectedRecord } from '../helpers/collector';
import { peerBinary } from '../helpers/peers';
import { TEST_LAYOUT_VERSION, testLayoutCli } from '../helpers/test-layout-build';
import { scaledMillis, waitUntil } from '../helpers/wait';
import { Agent, booksIn, describePrivileged, expectReleased, logLines, OWN_UID, programTags, runBindsAsync, sampleOf, startDaemon, type LogLine } from './harness';

/**
 * Daemon mode with handover: the programs stay attached across a stop, a crash and a restart of the agent,
 * and the next agent reads what was queued meanwhile, books what was lost, and takes over without a bind
 * unseen or reported twice. The binds are the test's own (its uid); their records go to the real Collector.
 */
const PIN_DIR = `/sys/fs/bpf/bindsnoop-handover-test-${process.pid}`;
const RATE = 20_000;

let collector: Collector | undefined;
const agents: Agent[] = [];

afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.stop('SIGKILL').catch(() => undefined);
  await collector?.stop();
  collector = undefined;
  if (existsSync(PIN_DIR)) loadAddon().removePinnedSet(PIN_DIR);
});

/** The environment of a daemon with handover that exports this test's binds to the Collector. */
function handoverEnv(endpoint: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    BINDSNOOP_FILTER_UID: String(OWN_UID),
    BINDSNOOP_HANDOVER_ENABLED: 'true',
    BINDSNOOP_HANDOVER_PIN_DIR: PIN_DIR,
    BINDSNOOP_OTLP_FLUSH_INTERVAL_MILLIS: '50',
    ...extra,
  };
}

async function daemon(env: NodeJS.ProcessEnv, cli?: string): Promise<{ agent: Agent; base: string }> {
  const started = await startDaemon(env, [], [], 15_000, cli);
  agents.push(started.agent);
  return started;
}

type Scrape = ReturnType<typeof booksIn> & { handoverLost: number; recovered: number; duplicates: number; text: string };

/** The books and the handover's from one scrape of /metrics. */
async function scrape(base: string): Promise<Scrape> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return {
    ...booksIn(text),
    handoverLost: sampleOf(text, 'bindsnoop_events_lost_total{stage="handover"}'),
    recovered: sampleOf(text, 'bindsnoop_handover_recovered_total'),
    duplicates: sampleOf(text, 'bindsnoop_handover_duplicates_dropped_total'),
    text,
  };
}

/** The books once the agent has read the ring and exported what it read: the same, balanced, a second apart. */
async function settledBooks(base: string, what: string): Promise<Scrape> {
  let previous = -1;
  return waitUntil(what, async () => {
    await new Promise((r) => setTimeout(r, 1000));
    const b = await scrape(base);
    const stable = b.seen === previous;
    previous = b.seen;
    return stable && b.pending === 0 && b.exported + b.lost === b.seen ? b : undefined;
  }, scaledMillis(30_000));
}

/** Stops a Collector and reads what it wrote out of this test's binds (all it acknowledged: it writes on SIGTERM). */
async function stoppedRecords(c: Collector): Promise<CollectedRecord[]> {
  const kept = mkdtempSync(path.join(tmpdir(), 'bindsnoop-handover-'));
  try {
    await c.stop('SIGTERM', kept);
    return ownRecords(c);
  } finally {
    rmSync(kept, { recursive: true, force: true });
  }
}

/** A handover loss by reason from Prometheus text (0 when none). */
function handoverLoss(text: string, reason: string): number {
  const m = new RegExp(`^bindsnoop_handover_lost_total\\{reason="${reason}",delivery="[a-z]+"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** The Collector's records of this test's binds. */
function ownRecords(c: Collector): CollectedRecord[] {
  return c.records().filter((r) => plainAttributes(r.record.attributes)['process.real_user.id'] === OWN_UID);
}

/** Records of one bind more than once: same thread, same port bound, within 100 ms (the flood's ports repeat every 10,000 binds: every half second). */
function duplicates(records: readonly CollectedRecord[]): number {
  const seen = new Map<string, bigint[]>();
  let dups = 0;
  for (const r of records) {
    const a = plainAttributes(r.record.attributes);
    const key = `${String(a['thread.id'])}:${String(a['network.local.port'])}`;
    const t = BigInt(r.record.timeUnixNano ?? '0');
    const times = seen.get(key) ?? [];
    if (times.some((u) => (u > t ? u - t : t - u) < 100_000_000n)) dups++;
    times.push(t);
    seen.set(key, times);
  }
  return dups;
}

function stoppedLine(agent: Agent): LogLine | undefined {
  return logLines(agent).find((l) => l.msg === 'stopped');
}

describePrivileged('handover: no blind window across a stop, a crash and a restart of the agent', () => {
  let otherLayoutCli = '';
  beforeAll(() => {
    peerBinary('collector');
    otherLayoutCli = testLayoutCli();
  }, 1_800_000);

  it.each([
    ['stopped (SIGTERM, as a rolling update stops it)', 'SIGTERM' as const],
    ['killed (SIGKILL, as a crash or an OOM kill ends it)', 'SIGKILL' as const],
  ])('a 20,000 binds/s flood across an agent %s and started again: every bind exported once or counted under a named reason, the gap\'s with their kernel times', async (_how, signal) => {
    collector = await Collector.start();
    const env = handoverEnv(collector.url);
    const first = await daemon(env);
    const flood = runBindsAsync(['--uid', String(OWN_UID), '--repeat', String(RATE * 6), '--rate', String(RATE), '--seconds', '12', 'udp,4,127.0.0.1,+30000']);
    await new Promise((r) => setTimeout(r, 1500));
    const beforeStop = await scrape(first.base);
    expect(beforeStop.exported).toBeGreaterThan(0);
    const firstTags = programTags(first.agent.held());
    const gapStart = BigInt(Date.now()) * 1_000_000n;
    await first.agent.stop(signal);
    // the gap: no agent for a second, then the next one's start
    await new Promise((r) => setTimeout(r, 1000));
    const second = await daemon(env);
    const gapEnd = BigInt(Date.now()) * 1_000_000n;
    const made = (await flood).done!;
    expect(made).toBeGreaterThan(RATE * 3);
    const settled = await settledBooks(second.base, 'the second agent to read the ring and export what it read');
    const takeover = logLines(second.agent).find((l) => typeof l.msg === 'string' && l.msg.startsWith('took over the pinned set'));
    // the pinned set names what ran before: the previous owner, its version and its programs by their tags
    expect(takeover?.handover).toMatchObject({ previousGeneration: 1, previousOwnerPid: first.agent.proc.pid, previousProgramTags: firstTags.join(',') });
    // the binds the ring kept while no agent ran were read and exported, with their own times
    expect(settled.recovered).toBeGreaterThan(0);
    const records = await stoppedRecords(collector);
    const inGap = records.filter((r) => {
      const t = BigInt(r.record.timeUnixNano ?? '0');
      return t > gapStart + 200_000_000n && t < gapEnd - 200_000_000n;
    }).length;
    expect(inGap).toBeGreaterThan(0);
    expect(duplicates(records)).toBe(0);
    if (signal === 'SIGTERM') {
      // each bind seen by exactly one of the two: the first booked what it read, the second the rest
      const firstBooks = stoppedLine(first.agent)!;
      expect(firstBooks).toBeDefined();
      const firstSeen = firstBooks.seen as number;
      const firstLost = Object.values(firstBooks.lost as Record<string, number>).reduce((a, b) => a + b, 0);
      expect(firstSeen + settled.seen).toBe(made);
      expect((firstBooks.exported as number) + firstLost).toBe(firstSeen);
      expect(records.length).toBe((firstBooks.exported as number) + settled.exported);
    } else {
      // what the killed agent took and had not settled is counted (delivery unknown: it may have sent some)
      const unknown = handoverLoss(settled.text, 'agent_ended');
      const knownLost = settled.lost - unknown;
      expect(records.length).toBeLessThanOrEqual(made - knownLost);
      expect(records.length).toBeGreaterThanOrEqual(made - knownLost - unknown);
    }
    // the second agent leaves the set attached too, and says so
    await second.agent.stop('SIGTERM');
    expect(logLines(second.agent).some((l) => String(l.msg).includes('the programs stay attached'))).toBe(true);
    expect(readdirSync(PIN_DIR).filter((n) => n.startsWith('link-')).length).toBeGreaterThan(0);
  }, 120_000);

  it('a restart while the receiver is down: the binds of the gap wait in the ring and the queue, and reach the Collector once it is back; every bind exported once or counted', async () => {
    const down = await Collector.start();
    collector = down;
    const env = handoverEnv(down.url, { BINDSNOOP_OTLP_SHUTDOWN_TIMEOUT_MILLIS: '2000' });
    const first = await daemon(env);
    const flood = runBindsAsync(['--uid', String(OWN_UID), '--repeat', String(RATE * 6), '--rate', String(RATE), '--seconds', '12', 'udp,4,127.0.0.1,+30000']);
    await new Promise((r) => setTimeout(r, 1000));
    // the receiver goes away; the agent stops while it is away, and the next one starts while it is still away
    const beforeRestart = await stoppedRecords(down);
    await new Promise((r) => setTimeout(r, 500));
    await first.agent.stop('SIGTERM');
    const second = await daemon(env);
    await new Promise((r) => setTimeout(r, 1500));
    const back = await Collector.start({ port: down.port });
    collector = back;
    const made = (await flood).done!;
    await settledBooks(second.base, 'the second agent to read the ring and export what it read');
    await second.agent.stop('SIGTERM');
    const books = [first, second].map((d) => stoppedLine(d.agent)!);
    expect(books.reduce((sum, b) => sum + (b.seen as number), 0)).toBe(made);
    // the first could not export what it held when it stopped: counted, by reason
    expect(Object.values(books[0].lost as Record<string, number>).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    const afterRestart = await stoppedRecords(back);
    const records = [...beforeRestart, ...afterRestart];
    expect(duplicates(records)).toBe(0);
    expect(records.length).toBe(books.reduce((sum, b) => sum + (b.exported as number), 0));
    // binds read after the restart reached the receiver that came back
    expect(afterRestart.length).toBeGreaterThan(0);
  }, 120_000);

  it('version skew: this release\'s set taken over by a build of another record layout, and that build\'s by this release, in a 20,000 binds/s flood: every bind exported once or counted', async () => {
    collector = await Collector.start();
    const env = handoverEnv(collector.url);
    const first = await daemon(env);
    const flood = runBindsAsync(['--uid', String(OWN_UID), '--repeat', String(RATE * 8), '--rate', String(RATE), '--seconds', '14', 'udp,4,127.0.0.1,+30000']);
    await new Promise((r) => setTimeout(r, 1500));
    await first.agent.stop('SIGTERM');
    const other = await daemon(env, otherLayoutCli);
    await new Promise((r) => setTimeout(r, 1500));
    await other.agent.stop('SIGTERM');
    const last = await daemon(env);
    const made = (await flood).done!;
    const settled = await settledBooks(last.base, 'the last agent to read the ring and export what it read');
    await last.agent.stop('SIGTERM');
    const books = [first, other, last].map((d) => stoppedLine(d.agent)!);
    // the build of the other layout took a set of this layout over, and this release took its set over
    expect(logLines(other.agent).find((l) => String(l.msg).startsWith('took over'))?.handover).toMatchObject({ previousVersion: (first.agent.stderr.match(/"version":"([^"]+)"/) ?? [])[1] });
    expect(logLines(last.agent).find((l) => String(l.msg).startsWith('took over'))?.handover).toMatchObject({ previousVersion: TEST_LAYOUT_VERSION });
    // each ring of a layout the next one does not read is counted, not decoded
    for (const b of books.slice(1)) expect((b.handover as { lost: Record<string, number> }).lost.ring_replaced).toBeGreaterThan(0);
    expect(handoverLoss(settled.text, 'ring_replaced')).toBe((books[2].handover as { lost: Record<string, number> }).lost.ring_replaced);
    // every bind seen by exactly one of the three, each exported or counted
    const seen = books.reduce((sum, b) => sum + (b.seen as number), 0);
    expect(seen).toBe(made);
    const records = await stoppedRecords(collector);
    expect(duplicates(records)).toBe(0);
    expect(records.length).toBe(books.reduce((sum, b) => sum + (b.exported as number), 0));
  }, 120_000);

  it('binds made while no agent runs wait in the pinned ring; those that overfill it are counted exactly, nothing else lost', async () => {
    collector = await Collector.start();
    // a ring of 64 KiB: 99 records of 656 bytes
    const env = handoverEnv(collector.url, { BINDSNOOP_READER_RING_BUFFER_BYTES: String(64 << 10) });
    const first = await daemon(env);
    await first.agent.stop('SIGTERM');
    const flood = await runBindsAsync(['--uid', String(OWN_UID), '--repeat', '500', 'udp,4,127.0.0.1,+30000']);
    expect(flood.done).toBe(500);
    const second = await daemon(env);
    const b = await waitUntil('the second agent to export the ring', async () => {
      const s = await scrape(second.base);
      return s.pending === 0 && s.seen === 500 && s.exported + s.lost === 500 ? s : undefined;
    }, scaledMillis(15_000));
    const fits = Math.floor((64 << 10) / 656);
    expect(b.recovered).toBe(fits);
    expect(handoverLoss(b.text, 'ring_full')).toBe(500 - fits);
    expect(b.lost).toBe(500 - fits);
    await waitUntil('the Collector to write them out', () => ownRecords(collector!).length === fits || undefined, 10_000);
  }, 60_000);

  it('a set whose reader is gone longer than handover.unownedAfterMillis skips binds and counts them; bindsnoop cleanup removes it and nothing stays attached', async () => {
    collector = await Collector.start();
    const env = handoverEnv(collector.url, { BINDSNOOP_HANDOVER_UNOWNED_AFTER_MILLIS: '1000' });
    const first = await daemon(env);
    const firstHeld = first.agent.held();
    await first.agent.stop('SIGTERM');
    await new Promise((r) => setTimeout(r, 1500));
    await runBindsAsync(['--uid', String(OWN_UID), '--repeat', '300', 'udp,4,127.0.0.1,+30000']);
    const second = await daemon(env);
    const b = await waitUntil('the books', async () => {
      const s = await scrape(second.base);
      return s.seen === 300 && s.pending === 0 ? s : undefined;
    }, scaledMillis(15_000));
    expect(handoverLoss(b.text, 'unowned')).toBe(300);
    expect(b.exported).toBe(0);
    // the first agent's programs retired once the second's were attached
    await expectReleased(firstHeld);
    const secondHeld = second.agent.held();
    await second.agent.stop('SIGTERM');
    const cleanup = Agent.spawn(['cleanup', '--pin-dir', PIN_DIR]);
    expect((await cleanup.exited).code).toBe(0);
    expect(cleanup.stderr).toMatch(/removed the pinned set under .*: \d+ links \(their programs detached\) and 4 maps/);
    expect(existsSync(PIN_DIR)).toBe(false);
    // and with it the second's programs and links
    await expectReleased(secondHeld);
  }, 60_000);

  it('without handover, and from the command line, nothing stays attached; the command line refuses handover', async () => {
    const refused = Agent.spawn(['-q'], { BINDSNOOP_HANDOVER_ENABLED: 'true', BINDSNOOP_HANDOVER_PIN_DIR: PIN_DIR });
    expect((await refused.exited).code).toBe(2);
    expect(refused.stderr).toContain('handover.enabled: keeps the kernel programs attached after bindsnoop stops: daemon mode only (--daemon)');
    expect(existsSync(PIN_DIR)).toBe(false);
  });
});

describe('bindsnoop cleanup', () => {
  it('says what is wrong with its arguments (exit 2), and that nothing is pinned (exit 0)', async () => {
    const bad = Agent.spawn(['cleanup', '--pin-dir']);
    expect((await bad.exited).code).toBe(2);
    expect(bad.stderr).toContain("option '--pin-dir <DIR>' argument missing");
    if (process.getuid?.() !== 0) return;
    const none = Agent.spawn(['cleanup', '--pin-dir', `${PIN_DIR}-none`]);
    expect((await none.exited).code).toBe(0);
    expect(none.stderr).toContain('nothing is pinned under');
  });
});
