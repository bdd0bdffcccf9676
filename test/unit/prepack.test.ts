import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/** npm pack and npm publish run scripts/prepack.js first: a package without its build is refused in one line. */
const ROOT = path.join(__dirname, '..', '..');
const dir = mkdtempSync(path.join(tmpdir(), 'prepack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function checkout(files: string[]): string {
  const at = mkdtempSync(path.join(dir, 'checkout-'));
  mkdirSync(path.join(at, 'scripts'));
  copyFileSync(path.join(ROOT, 'scripts', 'prepack.js'), path.join(at, 'scripts', 'prepack.js'));
  copyFileSync(path.join(ROOT, 'package.json'), path.join(at, 'package.json'));
  for (const f of files) {
    mkdirSync(path.dirname(path.join(at, f)), { recursive: true });
    writeFileSync(path.join(at, f), '');
  }
  return at;
}

describe('packing the npm package', () => {
  it('refuses a bare npm pack of a checkout without its build, naming what the package would lack', () => {
    const at = checkout(['dist/cli/main.js']);
    const run = spawnSync(process.execPath, [path.join(at, 'scripts', 'prepack.js')], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^bindsnoop-otel: the package would lack dist\/build-info\.json, bpf\/\.output\/x86\/bindsnoop\.skel\.h, bpf\/\.output\/arm64\/bindsnoop\.skel\.h, native\/prebuilds\/linux-x64\/\*\.node, native\/prebuilds\/linux-arm64\/\*\.node: make it with \.\/dev pack/);
  });

  it('lets a checkout with its build be packed', () => {
    const at = checkout(['dist/cli/main.js', 'dist/build-info.json', 'bpf/.output/x86/bindsnoop.skel.h', 'bpf/.output/arm64/bindsnoop.skel.h', 'native/prebuilds/linux-x64/bindsnoop.napi.glibc.node', 'native/prebuilds/linux-arm64/bindsnoop.napi.glibc.node']);
    const run = spawnSync(process.execPath, [path.join(at, 'scripts', 'prepack.js')], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});
