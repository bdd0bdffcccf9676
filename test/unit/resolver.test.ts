import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FLAG_KUBELET_CGROUP } from '../../src/model/event';
import { apiPod } from '../../src/kubernetes/pod-api';
import { PodLogIndex } from '../../src/kubernetes/pod-logs';
import { PodResolver } from '../../src/kubernetes/resolver';
import { makeEvent } from './events';

const dir = mkdtempSync(path.join(tmpdir(), 'bindsnoop-resolver-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const UID = '11111111-2222-4333-8444-555555555555';
const ID = 'a'.repeat(64);
const names = { cgroupName: `cri-containerd-${ID}.scope`, cgroupParentName: `kubepods-burstable-pod${UID.replace(/-/g, '_')}.slice` };

describe('resolving a bind to its pod', () => {
  const index = new PodLogIndex(path.join(dir, 'pods'), path.join(dir, 'containers'), 1000);

  it('needs the kernel to have seen the whole cgroup path under the kubelet\'s hierarchy, not just its names', () => {
    const resolver = new PodResolver(index);
    expect(resolver.resolve(makeEvent({ ...names, flags: FLAG_KUBELET_CGROUP }))).toMatchObject({ podUid: UID, containerId: ID });
    expect(resolver.resolve(makeEvent({ ...names, flags: 0 }))).toBeUndefined();
  });

  it('with the API watched, needs the container to be one of the pod\'s, and follows the pod as it changes', () => {
    const pod = (containers: Record<string, string>) =>
      apiPod({
        metadata: { uid: UID, name: 'cart-1', namespace: 'shop' },
        status: { containerStatuses: Object.entries(containers).map(([id, name]) => ({ name, containerID: `containerd://${id}` })) },
      }).pod;
    let current = pod({ ['b'.repeat(64)]: 'other' });
    const resolver = new PodResolver(index, { pod: () => current });
    const event = makeEvent({ ...names, flags: FLAG_KUBELET_CGROUP });
    expect(resolver.resolve(event)).toBeUndefined(); // another pod's uid in a forged path: not this pod's container
    current = pod({ [ID]: 'app' });
    expect(resolver.resolve(event)).toMatchObject({ podUid: UID, pod: 'cart-1', container: 'app' });
  });
});
