import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { NodeMaps } from '../../src/kubernetes/node-maps';
import type { K8sMapName, NativeTracer } from '../../src/kernel/native';
import { waitUntil } from '../helpers/wait';
import { cgroup2Mount, describePrivileged, removeCgroupTree } from './harness';

/*
 * The selection's maps kept equal to the node's container cgroups by their
 * changes (inotify on the real cgroup v2 tree), not by reading the whole tree
 * over and over: an idle node's containers cost no passes.
 */
const root = path.join(cgroup2Mount(), `bindsnoop-node-maps-${process.pid}`);
let maps: NodeMaps | undefined;
afterEach(async () => {
  await maps?.stop();
  maps = undefined;
  removeCgroupTree(root);
});

/** The pinned maps, in memory. */
function fakeMaps(): Pick<NativeTracer, 'mapUpdate' | 'mapDelete' | 'mapEntries'> & { cgroups: Map<bigint, bigint> } {
  const all = new Map<K8sMapName, Map<bigint, bigint>>([['cgroups', new Map()], ['mntns', new Map()], ['excluded', new Map()]]);
  return {
    mapUpdate: (n, k, v) => void all.get(n)!.set(k, v),
    mapDelete: (n, k) => all.get(n)!.delete(k),
    mapEntries: (n) => [...all.get(n)!],
    cgroups: all.get('cgroups')!,
  };
}

const uid = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const containerDir = (n: number): string =>
  path.join(root, 'kubepods.slice', 'kubepods-burstable.slice', `kubepods-burstable-pod${uid(n).replace(/-/g, '_')}.slice`, `cri-containerd-${n.toString(16).padStart(64, 'a')}.scope`);

describePrivileged('the container cgroups, followed by their changes', () => {
  it('1,000 containers: made and removed ones reach the maps at once, and an idle tree costs no pass', async () => {
    for (let n = 0; n < 1000; n++) mkdirSync(containerDir(n), { recursive: true });
    const m = fakeMaps();
    const node = new NodeMaps(m, { factsOf: () => ({}) }, { cgroupRoot: root, namespaces: '', excludeNamespaces: '', labelSelector: '' }, () => void node.sync());
    maps = node;
    await node.sync();
    expect(m.cgroups.size).toBe(1000);
    // every directory on the way to a container is watched (the root, the two slices, the 1,000 pods), and each
    // container's own (its first process changes its cgroup.events)
    expect(node.watchedCount()).toBe(2003);
    const passes = node.passCount();
    // idle: no pass at all
    await new Promise((r) => setTimeout(r, 2000));
    expect(node.passCount()).toBe(passes);
    // a container made in a new pod, and one made in a pod known already
    mkdirSync(containerDir(5000), { recursive: true });
    const sibling = path.join(path.dirname(containerDir(7)), `cri-containerd-${'b'.repeat(64)}.scope`);
    mkdirSync(sibling);
    await waitUntil('the new containers in the maps', () => m.cgroups.has(BigInt(statSync(sibling).ino)) && m.cgroups.has(BigInt(statSync(containerDir(5000)).ino)), 5000);
    // one removed
    const goneId = BigInt(statSync(containerDir(3)).ino);
    rmdirSync(containerDir(3));
    await waitUntil('the removed container out of the maps', () => !m.cgroups.has(goneId), 5000);
    expect(m.cgroups.size).toBe(1001);
  });
});
