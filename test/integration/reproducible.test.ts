import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describePrivileged, ROOT } from './harness';

/**
 * Two builds of one commit give the same bytes: the BPF objects, and the
 * prebuilt addons built anew in the Debian 11 root compared with the ones
 * the package ships (native/prebuilds, from an earlier build of the same inputs).
 */
const work = mkdtempSync('/var/tmp/bindsnoop-repro-');

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name !== '.inputs')
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

describePrivileged('reproducible builds', () => {
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('the prebuilt addons and BPF objects, built again from scratch, are the same bytes', () => {
    const shipped = path.join(ROOT, 'native', 'prebuilds');
    const first = spawnSync(path.join(ROOT, 'scripts', 'build-prebuilds.sh'), [], { encoding: 'utf8', timeout: 900_000 });
    expect(first.status, first.stderr.slice(-3000)).toBe(0);
    const again = path.join(work, 'prebuilds');
    const r = spawnSync(path.join(ROOT, 'scripts', 'build-prebuilds.sh'), [again], {
      encoding: 'utf8',
      timeout: 900_000,
      env: { ...process.env, BINDSNOOP_PREBUILDS_FRESH: '1' },
    });
    expect(r.status, r.stderr.slice(-3000)).toBe(0);
    expect(files(again)).toEqual(files(shipped));
    expect(files(shipped)).toContain('linux-x64/bindsnoop.napi.glibc.node');
    for (const f of files(shipped)) expect(readFileSync(path.join(again, f)).equals(readFileSync(path.join(shipped, f))), f).toBe(true);
  }, 1_200_000);
});
