import { describe, expect, it } from 'vitest';
import { parseContainerCgroup, parseContainerLogName, parsePodLogDirName } from '../../src/kubernetes/cgroup-names';

const ID = 'f3c1d2e4a5b697881234567890abcdef0123456789abcdef0123456789abcdef';
const UID = '8f2b1c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const UID_ = UID.replace(/-/g, '_');

describe('container and pod from cgroup names', () => {
  const cases: [string, string, string, object | undefined][] = [
    ['systemd, containerd, burstable', `cri-containerd-${ID}.scope`, `kubepods-burstable-pod${UID_}.slice`, { containerId: ID, podUid: UID, runtime: 'containerd', qos: 'burstable' }],
    ['systemd, CRI-O, besteffort', `crio-${ID}.scope`, `kubepods-besteffort-pod${UID_}.slice`, { containerId: ID, podUid: UID, runtime: 'cri-o', qos: 'besteffort' }],
    ['systemd, Docker, guaranteed', `docker-${ID}.scope`, `kubepods-pod${UID_}.slice`, { containerId: ID, podUid: UID, runtime: 'docker', qos: 'guaranteed' }],
    ['cgroupfs, bare id', ID, `pod${UID}`, { containerId: ID, podUid: UID, runtime: 'unknown' }],
    ['cgroupfs, CRI-O', `crio-${ID}`, `pod${UID}`, { containerId: ID, podUid: UID, runtime: 'cri-o' }],
    ['CRI-O conmon is not the container', `crio-conmon-${ID}.scope`, `kubepods-burstable-pod${UID_}.slice`, undefined],
    ['the pod slice itself (pause or pod-level process)', `kubepods-burstable-pod${UID_}.slice`, 'kubepods-burstable.slice', undefined],
    ['a host service', 'sshd.service', 'system.slice', undefined],
    ['the root cgroup', '/', '', undefined],
    ['a short id', 'cri-containerd-abc.scope', `kubepods-burstable-pod${UID_}.slice`, undefined],
    ['a malformed uid', `cri-containerd-${ID}.scope`, 'kubepods-burstable-podnot_a_uid_at_all_not_a_uid_at_all_x.slice', undefined],
  ];
  for (const [what, name, parent, expected] of cases) {
    it(what, () => expect(parseContainerCgroup(name, parent)).toEqual(expected));
  }
});

describe('kubelet log names', () => {
  it('reads pod log directories', () => {
    expect(parsePodLogDirName(`shop_cart-7d9f8-abcde_${UID}`)).toEqual({ namespace: 'shop', pod: 'cart-7d9f8-abcde', uid: UID });
    expect(parsePodLogDirName('kube-system_coredns')).toBeUndefined();
    expect(parsePodLogDirName(`a_b_c_${UID}`)).toBeUndefined();
  });

  it('reads container log links', () => {
    expect(parseContainerLogName(`cart-7d9f8-abcde_shop_istio-proxy-${ID}.log`)).toEqual({
      pod: 'cart-7d9f8-abcde',
      namespace: 'shop',
      container: 'istio-proxy',
      containerId: ID,
    });
    expect(parseContainerLogName('cart_shop_app.log')).toBeUndefined();
  });
});
