/**
 * Which container and pod a cgroup belongs to, from the kernfs names of the
 * task's cgroup directory and of its parent (both captured in the kernel at
 * event time). Pure: no file is read.
 *
 *   systemd driver:  .../kubepods-<qos>-pod<uid_with_underscores>.slice/<runtime>-<id>.scope
 *                    .../kubepods-pod<uid>.slice/...            (guaranteed QoS)
 *   cgroupfs driver: /kubepods/<qos>/pod<uid>/<id>   (CRI-O: crio-<id>, Docker: docker-<id> possible)
 */
export type Runtime = 'containerd' | 'cri-o' | 'docker' | 'unknown';
export type QosClass = 'guaranteed' | 'burstable' | 'besteffort';

export interface ContainerRef {
  /** full 64-hex container id, as in the pod's containerStatuses (without the runtime:// prefix) */
  containerId: string;
  podUid: string;
  runtime: Runtime;
  /** known from a systemd slice name; the cgroupfs driver keeps it one level further up */
  qos?: QosClass;
}

const ID = '([0-9a-f]{64})';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const SCOPES: [RegExp, Runtime][] = [
  [new RegExp(`^cri-containerd-${ID}\\.scope$`), 'containerd'],
  [new RegExp(`^crio-${ID}\\.scope$`), 'cri-o'],
  [new RegExp(`^docker-${ID}\\.scope$`), 'docker'],
];
const CGROUPFS_NAMES: [RegExp, Runtime][] = [
  [new RegExp(`^${ID}$`), 'unknown'],
  [new RegExp(`^cri-containerd-${ID}$`), 'containerd'],
  [new RegExp(`^crio-${ID}$`), 'cri-o'],
  [new RegExp(`^docker-${ID}$`), 'docker'],
];

const SYSTEMD_POD_SLICE = /^kubepods(?:-(burstable|besteffort))?-pod([0-9a-f_]{36})\.slice$/;
const CGROUPFS_POD_DIR = /^pod([0-9a-f-]{36})$/;

function match(name: string, table: [RegExp, Runtime][]): { id: string; runtime: Runtime } | undefined {
  for (const [re, runtime] of table) {
    const m = re.exec(name);
    if (m) return { id: m[1], runtime };
  }
  return undefined;
}

export function parseContainerCgroup(name: string, parentName: string): ContainerRef | undefined {
  const slice = SYSTEMD_POD_SLICE.exec(parentName);
  if (slice) {
    const scope = match(name, SCOPES);
    const podUid = slice[2].replace(/_/g, '-');
    if (!scope || !UUID.test(podUid)) return undefined;
    return { containerId: scope.id, podUid, runtime: scope.runtime, qos: (slice[1] as QosClass | undefined) ?? 'guaranteed' };
  }
  const podDir = CGROUPFS_POD_DIR.exec(parentName);
  if (podDir && UUID.test(podDir[1])) {
    const c = match(name, CGROUPFS_NAMES);
    if (!c) return undefined;
    return { containerId: c.id, podUid: podDir[1], runtime: c.runtime };
  }
  return undefined;
}

/** kubelet's pod log directory name: <namespace>_<pod>_<uid> (names are DNS labels: no underscores). */
export function parsePodLogDirName(name: string): { namespace: string; pod: string; uid: string } | undefined {
  const parts = name.split('_');
  if (parts.length !== 3 || !UUID.test(parts[2]) || !parts[0] || !parts[1]) return undefined;
  return { namespace: parts[0], pod: parts[1], uid: parts[2] };
}

/** kubelet's container log symlink: <pod>_<namespace>_<container>-<64 hex id>.log */
export function parseContainerLogName(
  name: string,
): { pod: string; namespace: string; container: string; containerId: string } | undefined {
  const m = /^([^_]+)_([^_]+)_(.+)-([0-9a-f]{64})\.log$/.exec(name);
  if (!m) return undefined;
  return { pod: m[1], namespace: m[2], container: m[3], containerId: m[4] };
}
