import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PodLogIndex } from '../../src/kubernetes/pod-logs';

const dir = mkdtempSync(path.join(tmpdir(), 'bindsnoop-pod-logs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the kubelet's log trees", () => {
  it('names pods and containers, and forgets them a grace period after their trees are gone', () => {
    const pods = path.join(dir, 'pods');
    const containers = path.join(dir, 'containers');
    const uid = '11111111-2222-4333-8444-555555555555';
    mkdirSync(path.join(pods, `shop_cart-1_${uid}`, 'app'), { recursive: true });
    mkdirSync(containers, { recursive: true });
    writeFileSync(path.join(containers, `cart-1_shop_app-${'a'.repeat(64)}.log`), '');
    let now = 0;
    const index = new PodLogIndex(pods, containers, 1000, 0, () => now);
    index.refresh();
    expect(index.pod(uid)).toMatchObject({ namespace: 'shop', pod: 'cart-1' });
    expect(index.containerName('a'.repeat(64), undefined)).toBe('app');
    rmSync(path.join(pods, `shop_cart-1_${uid}`), { recursive: true });
    rmSync(path.join(containers, `cart-1_shop_app-${'a'.repeat(64)}.log`));
    now = 500;
    index.refresh();
    expect(index.podCount()).toBe(1); // still within the grace period: late binds resolve
    expect(index.containerCount()).toBe(1);
    now = 2000;
    index.refresh();
    expect(index.podCount()).toBe(0);
    expect(index.containerCount()).toBe(0);
  });

  it('says once, not silently, that a tree it cannot read leaves names empty', () => {
    const notADir = path.join(dir, 'file');
    writeFileSync(notADir, '');
    const warnings: string[] = [];
    const index = new PodLogIndex(notADir, path.join(dir, 'absent'), 1000, 0, Date.now, (w) => warnings.push(w));
    index.refresh();
    index.refresh();
    expect(warnings).toEqual([`cannot read the kubelet's log tree ${notADir} (ENOTDIR): pods and containers are not named from it`]);
  });

  it('takes hostile names from the tree as text, never as control of the terminal, and skips what does not parse', () => {
    const pods = path.join(dir, 'hostile-pods');
    const containers = path.join(dir, 'hostile-containers');
    const uid = '99999999-2222-4333-8444-555555555555';
    const evil = 'x\u001b]0;owned\u0007\r\nFAKE ROW';
    mkdirSync(path.join(pods, `ns_${evil}_${uid}`, `c\u001b[31m`), { recursive: true });
    // no uid, too many parts, a 250-byte name, and an unreadable pod directory
    mkdirSync(path.join(pods, 'no-uid-here'), { recursive: true });
    mkdirSync(path.join(pods, `a_b_c_d_${uid}`), { recursive: true });
    mkdirSync(path.join(pods, `${'n'.repeat(200)}_p_${uid.replace('9', '8')}`), { recursive: true });
    mkdirSync(path.join(pods, `ns_locked_${uid.replace('9', '7')}`), { recursive: true, mode: 0 });
    mkdirSync(containers, { recursive: true });
    writeFileSync(path.join(containers, `not-a-container-log.txt`), '');
    const warnings: string[] = [];
    const index = new PodLogIndex(pods, containers, 1000, 0, Date.now, (w) => warnings.push(w));
    expect(() => index.refresh()).not.toThrow();
    // kept as the bytes it was: the outputs escape it (the table test shows \x1b; JSON and OTLP escape by construction)
    expect(index.pod(uid)?.pod).toBe(evil);
    expect(index.pod('no-uid-here')).toBeUndefined();
    expect(index.podCount()).toBeGreaterThanOrEqual(1);
  });
});
