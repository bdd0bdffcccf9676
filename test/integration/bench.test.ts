import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describePrivileged, ROOT } from './harness';

/** npm run bench keeps working: a smoke run of every group records numbers (never a time is asserted). */
const out = mkdtempSync(path.join(tmpdir(), 'bindsnoop-bench-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describePrivileged('the benchmark suite', () => {
  it('runs every group in smoke mode and records its figures', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bench', 'run.mjs'), '--smoke', '--out', out], { encoding: 'utf8', timeout: 300_000 });
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as {
      meta: { backends: string[]; kernel: string; commit: string };
      kernelCost: { backend: string; mode: string; usPerBind: number; ratio: number }[];
      throughput: { seen: number; exported: number; cpuMsPer100k: number; peakRssMiB: number }[];
      idle: { millicores: number; rssMiB: number };
      idleWithContainers: { containers: number; millicores: number; rssMiB: number }[];
      throughCollector: { version?: string; error?: string; rows?: { rate: number; peer: string; seen: number; exported: number; cpuUsPerBind: number }[] };
      latency: { records: number; p50Ms: number; p99Ms: number };
      sdkPipeline: { seen: number; exported: number; cpuMsPer100k: number };
      scale: { pods: number; startupMillis: number; idleRssMiB: number; cpuPerBindMicros: number };
      scaleNode: { pods: number; idleRssMiB: number };
      oneCore: { rate: number; seen: number; exported: number }[];
    };
    expect(results.meta.backends.length).toBeGreaterThan(0);
    expect(results.meta.kernel).not.toBe('');
    for (const mode of ['untraced', 'bindsnoop -q', 'every bind filtered in the kernel (-P 1)', 'full agent exporting OTLP', 'untraced, binding port 40000', 'every bind of port 40000 filtered before the bind (-P 1)']) {
      const row = results.kernelCost.find((k) => k.mode === mode);
      expect(row, mode).toBeDefined();
      expect(Number.isFinite(row!.usPerBind) && row!.usPerBind > 0, mode).toBe(true);
    }
    expect(results.throughput.length).toBeGreaterThan(0);
    for (const t of results.throughput) {
      expect(t.seen).toBeGreaterThan(0);
      expect(t.exported).toBeLessThanOrEqual(t.seen);
      expect(Number.isFinite(t.cpuMsPer100k)).toBe(true);
      expect(t.peakRssMiB).toBeGreaterThan(0);
    }
    expect(Number.isFinite(results.idle.millicores)).toBe(true);
    // and as the node's containers grow (200 in a smoke run)
    expect(results.idleWithContainers.map((r) => r.containers)).toEqual([200]);
    for (const r of results.idleWithContainers) expect(Number.isFinite(r.millicores) && r.rssMiB > 0).toBe(true);
    // through the real Collector, side by side with the local sink
    expect(results.throughCollector.error).toBeUndefined();
    expect(results.throughCollector.version).toMatch(/0\.161\.0/);
    expect(results.throughCollector.rows!.map((r) => r.peer)).toEqual(['local sink', 'Collector']);
    for (const r of results.throughCollector.rows!) expect(r.seen > 0 && r.exported <= r.seen && Number.isFinite(r.cpuUsPerBind), r.peer).toBe(true);
    expect(results.latency.records).toBeGreaterThan(0);
    expect(Number.isFinite(results.latency.p99Ms)).toBe(true);
    // the SDK pipeline side by side, and the scale run
    expect(results.sdkPipeline.seen).toBeGreaterThan(0);
    expect(Number.isFinite(results.sdkPipeline.cpuMsPer100k)).toBe(true);
    expect(results.scale.pods).toBeGreaterThan(0);
    expect(Number.isFinite(results.scale.startupMillis) && Number.isFinite(results.scale.cpuPerBindMicros)).toBe(true);
    expect(results.scale.idleRssMiB).toBeGreaterThan(0);
    // a node's worth of pods, and the agent held to one core
    expect(results.scaleNode.pods).toBeGreaterThan(0);
    expect(results.scaleNode.idleRssMiB).toBeGreaterThan(0);
    expect(results.oneCore.length).toBeGreaterThan(0);
    for (const t of results.oneCore) expect(t.seen > 0 && t.exported <= t.seen, String(t.rate)).toBe(true);
    expect(readFileSync(path.join(out, 'BENCHMARKS.md'), 'utf8')).toContain('## Kernel-side cost');
    // the document says where its raw figures went
    expect(readFileSync(path.join(out, 'BENCHMARKS.md'), 'utf8')).toContain(`Raw figures: ${path.join(out, 'results.json')}.`);
  }, 300_000);

  it('the kernel-side cost alone, as a VM runs it (--kernel-only), is one KERNELCOST line of figures', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bench', 'run.mjs'), '--kernel-only', '--smoke'], { encoding: 'utf8', timeout: 300_000 });
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const line = /^KERNELCOST (.*)$/m.exec(r.stdout);
    expect(line, r.stdout.slice(-2000)).not.toBeNull();
    const figures = JSON.parse(line![1]) as { backends: string[]; kernelCost: { backend: string; mode: string; ratio: number }[] };
    expect(figures.backends.length).toBeGreaterThan(0);
    for (const backend of figures.backends) {
      for (const mode of ['untraced', 'bindsnoop -q', 'every bind filtered in the kernel (-P 1)']) {
        const row = figures.kernelCost.find((k) => k.backend === backend && k.mode === mode);
        expect(row && Number.isFinite(row.ratio) && row.ratio > 0, `${backend} ${mode}`).toBe(true);
      }
    }
  }, 300_000);

  it('says what it takes and refuses what it does not, with no stack trace; a missing bind loop is named (exit 2)', () => {
    const bench = (args: string[], cwd = ROOT): ReturnType<typeof spawnSync> => spawnSync(process.execPath, [path.join(cwd, 'bench', 'run.mjs'), ...args], { encoding: 'utf8' });
    const help = bench(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--long[\s\S]*--smoke[\s\S]*--out DIR/);
    const bogus = bench(['--fast']);
    expect(bogus.status).toBe(2);
    expect(bogus.stderr).toMatch(/^bench: unknown argument --fast\nusage: npm run bench/);
    // a tree where the bind loop was never built (npm run bench right after a build, without ./dev bench)
    const tree = path.join(out, 'tree');
    mkdirSync(path.join(tree, 'bench'), { recursive: true });
    mkdirSync(path.join(tree, 'dist', 'cli'), { recursive: true });
    for (const f of readdirSync(path.join(ROOT, 'bench')).filter((n) => n.endsWith('.mjs'))) copyFileSync(path.join(ROOT, 'bench', f), path.join(tree, 'bench', f));
    writeFileSync(path.join(tree, 'dist', 'cli', 'main.js'), '');
    const missing = bench(['--smoke'], tree);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`bench: ${path.join(tree, 'test/helpers/bind_helper')} is missing: build the bind loop (make -C test/helpers) first, or run ./dev bench, which builds everything`);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
  });
});
