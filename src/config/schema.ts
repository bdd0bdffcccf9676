import type { Schema } from 'convict';
import { isIP } from 'node:net';
import type { KubernetesSettings } from '../kubernetes/kubernetes';
import { parseHeaders } from './headers';
import { isLabelKey, parseLabelSelector } from '../kubernetes/label-selector';
import { parseDaemonSetRef } from '../kubernetes/owner-watch';
import { BACKEND_CHOICES, type BackendChoice } from '../kernel/native';
import { ARGS_ROOM, MAX_PORTS } from '../model/event';

/**
 * The one configuration schema (docs/CONTRACT.md, section 3). Every key `a.bCd` can be
 * set from the environment as BINDSNOOP_A_B_CD (see envName); the standard
 * OTEL_* variables map onto the otlp.* and service.* keys (see otel-env.ts).
 * config/bindsnoop.example.yaml documents every key; a test keeps them in step.
 */
export interface AppConfig {
  filter: {
    pid: number;
    uid: number;
    ports: number[];
    errors: boolean;
    cgroupMap: string;
    mntnsMap: string;
    kernelBinds: boolean;
    executables: string[];
    excludeExecutables: string[];
  };
  kernel: {
    backend: BackendChoice;
    readCommandLine: boolean;
  };
  output: {
    format: 'table' | 'json' | 'none';
  };
  otlp: {
    endpoint: string;
    logsEndpoint: string;
    protocol: 'http/protobuf' | 'http/json';
    headers: string;
    compression: 'none' | 'gzip';
    timeoutMillis: number;
    certificate: string;
    clientCertificate: string;
    clientKey: string;
    pipeline: 'direct' | 'sdk';
    encodeInAddon: boolean;
    maxQueueSize: number;
    maxQueueBytes: number;
    maxExportBatchSize: number;
    attributeCountLimit: number;
    attributeValueLengthLimit: number;
    flushIntervalMillis: number;
    shutdownTimeoutMillis: number;
    maxResources: number;
    resourceIdleMillis: number;
  };
  service: {
    name: string;
    resourceAttributes: string;
  };
  reader: {
    ringBufferBytes: number;
    wakeupBytes: number;
    drainIntervalMillis: number;
    maxPendingBatches: number;
    maxPendingBytes: number;
  };
  log: {
    lossWarningIntervalMillis: number;
  };
  handover: {
    enabled: boolean;
    pinDir: string;
    unownedAfterMillis: number;
  };
  server: {
    port: number;
    host: string;
  };
  /** the Kubernetes stage's settings, plus what the agent decides with them */
  kubernetes: KubernetesSettings & {
    enabled: boolean;
    podServiceName: 'workload' | 'agent';
  };
}

/** A format check that also says, as JSON Schema, what it accepts (the Helm chart's values.schema.json is made from it). */
export type DescribedFormat = ((value: unknown) => void) & { jsonSchema: Record<string, unknown> };

function described(check: (value: unknown) => void, jsonSchema: Record<string, unknown>): DescribedFormat {
  return Object.assign(check, { jsonSchema });
}

function integerIn(min: number, max: number, what: string): DescribedFormat {
  return described(
    (value: unknown): void => {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        throw new Error(`must be ${what}, a whole number from ${min} to ${max}`);
      }
    },
    { type: 'integer', minimum: min, maximum: max },
  );
}

const powerOfTwoPages = described(
  (value: unknown): void => {
    const v = value as number;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 4096 || v > 1 << 30 || (v & (v - 1)) !== 0) {
      throw new Error('must be a power of two from 4096 (one page) to 1073741824');
    }
  },
  { type: 'integer', enum: Array.from({ length: 19 }, (_, i) => 4096 * 2 ** i) },
);

/** at most this many prefixes in filter.executables and filter.excludeExecutables */
export const MAX_EXECUTABLE_PREFIXES = 256;
const executablePrefixes = described(
  (value: unknown): void => {
    if (!Array.isArray(value) || value.length > MAX_EXECUTABLE_PREFIXES || !value.every((p) => typeof p === 'string' && p.startsWith('/') && p.length <= 4096)) {
      throw new Error(`must be a list of at most ${MAX_EXECUTABLE_PREFIXES} absolute path prefixes ("/usr/bin/", "/tmp/")`);
    }
  },
  { type: 'array', maxItems: MAX_EXECUTABLE_PREFIXES, items: { type: 'string', pattern: '^/', maxLength: 4096 } },
);

export const SCHEMA: Schema<AppConfig> = {
  filter: {
    pid: { doc: 'Trace only this process (host TGID); 0 = every process. Flag -p.', format: integerIn(0, 0xffffffff, 'a PID'), default: 0 },
    uid: { doc: 'Trace only this user; -1 = every user. Flag -u.', format: integerIn(-1, 0xfffffffe, 'a UID or -1'), default: -1 },
    ports: {
      doc: `Trace only binds whose bound or requested port is listed (at most ${MAX_PORTS}); empty = every port. Flag -P.`,
      format: described(
        (value: unknown): void => {
          if (!Array.isArray(value) || value.length > MAX_PORTS || !value.every((p) => Number.isInteger(p) && p >= 0 && p <= 65535)) {
            throw new Error(`must be a list of at most ${MAX_PORTS} port numbers from 0 to 65535`);
          }
        },
        { type: 'array', maxItems: MAX_PORTS, items: { type: 'integer', minimum: 0, maximum: 65535 } },
      ),
      default: [],
    },
    errors: { doc: 'Include failed binds (table RC column; exported as WARN records). Flag -E.', format: Boolean, default: false },
    cgroupMap: { doc: "Path of a pinned BPF hash map (key u64 cgroup id, value u64): trace only those cgroups. Flag --cgroupmap.", format: String, default: '' },
    mntnsMap: { doc: 'Path of a pinned BPF hash map (key u64 mount-namespace inode, value u32). Flag --mntnsmap.', format: String, default: '' },
    kernelBinds: {
      doc: 'Include binds the kernel makes for itself (sockets it creates, such as VXLAN, WireGuard or SunRPC, and binds from kernel threads; seen by the fentry and kprobe backends). Flag --no-kernel-binds sets false.',
      format: Boolean,
      default: true,
    },
    executables: {
      doc: `Trace only binds by processes whose executable path (process.executable.path) starts with one of these prefixes (at most ${MAX_EXECUTABLE_PREFIXES}); empty = every executable. A path whose start is not known (truncated) is kept.`,
      format: executablePrefixes,
      default: [],
    },
    excludeExecutables: {
      doc: 'Drop binds by processes whose executable path starts with one of these prefixes, after filter.executables. A path whose start is not known (truncated) is kept.',
      format: executablePrefixes,
      default: [],
    },
  },
  kernel: {
    backend: {
      doc: 'How the kernel program attaches: auto (the best this kernel allows: fentry, then kprobe, then tracepoint), fentry, kprobe or tracepoint. Flag --backend.',
      format: [...BACKEND_CHOICES],
      default: 'auto',
    },
    readCommandLine: {
      doc: `Read each binding process's command line in the kernel at the bind (its first ${ARGS_ROOM} bytes) into process.command_args in JSON and OTLP records (never the table). Off by default: arguments can carry secrets (SECURITY.md).`,
      format: Boolean,
      default: false,
    },
  },
  output: {
    format: { doc: 'What to print on stdout: table (bcc), json (one object per bind) or none. Flags -o, -q.', format: ['table', 'json', 'none'], default: 'table' },
  },
  otlp: {
    endpoint: { doc: 'Base URL of an OTLP/HTTP receiver (/v1/logs is appended); empty = export off. OTEL_EXPORTER_OTLP_ENDPOINT.', format: String, default: '' },
    logsEndpoint: { doc: 'Full URL for logs, used as is; wins over endpoint. OTEL_EXPORTER_OTLP_LOGS_ENDPOINT.', format: String, default: '' },
    protocol: { doc: 'http/protobuf or http/json. OTEL_EXPORTER_OTLP_[LOGS_]PROTOCOL.', format: ['http/protobuf', 'http/json'], default: 'http/protobuf' },
    headers: {
      doc: 'Request headers as k1=v1,k2=v2 (values URL-encoded). Secret: never printed. OTEL_EXPORTER_OTLP_[LOGS_]HEADERS.',
      format: described(
        (value: unknown): void => {
          if (typeof value !== 'string') throw new Error('must be a string of name=value pairs');
          parseHeaders(value);
        },
        { type: 'string' },
      ),
      default: '',
      sensitive: true,
    },
    compression: { doc: 'none or gzip. OTEL_EXPORTER_OTLP_[LOGS_]COMPRESSION.', format: ['none', 'gzip'], default: 'none' },
    timeoutMillis: { doc: 'Deadline of one export, retries included. OTEL_EXPORTER_OTLP_[LOGS_]TIMEOUT.', format: integerIn(1, 600_000, 'milliseconds'), default: 10_000 },
    certificate: { doc: 'PEM file of the CA that signs the receiver. OTEL_EXPORTER_OTLP_[LOGS_]CERTIFICATE.', format: String, default: '' },
    clientCertificate: { doc: 'PEM client certificate for mTLS. OTEL_EXPORTER_OTLP_[LOGS_]CLIENT_CERTIFICATE.', format: String, default: '' },
    clientKey: { doc: 'PEM client key for mTLS. OTEL_EXPORTER_OTLP_[LOGS_]CLIENT_KEY.', format: String, default: '' },
    pipeline: {
      doc: 'How requests are built: direct (each record encoded once, straight from the bind, into the bytes the SDK would send) or sdk (the OpenTelemetry SDK\'s LoggerProvider, batch processor and serializers). Both use the SDK\'s OTLP/HTTP transport.',
      format: ['direct', 'sdk'],
      default: 'direct',
    },
    encodeInAddon: {
      doc: "With the direct pipeline's protobuf encoding as the only output, each record is encoded where it is read, on the addon's reader thread (the same bytes); records of a pod, bound to a device, or selected by filter.executables take JavaScript's path. false: every record is encoded in JavaScript.",
      format: Boolean,
      default: true,
    },
    // records of about 800 bytes meet maxQueueBytes first (about 20,000 of them, 0.4 s of 50,000 binds/s): the
    // bytes bound is what bounds memory; 16,384 records lost 0.2-2% at that rate on the 2-core machine
    maxQueueSize: { doc: 'Records waiting for export at most; past it new records are dropped and counted (stage export_queue).', format: integerIn(1, 10_000_000, 'a record count'), default: 65_536 },
    maxQueueBytes: {
      doc: 'Encoded bytes waiting for export (or being exported) at most, with the direct pipeline; past it new records are dropped and counted (stage export_queue).',
      format: integerIn(65_536, 4_294_967_296, 'a byte count'),
      default: 16_777_216,
    },
    // 2048 (the SDK's is 512): a quarter of the requests at high rates, about 1.6 MB each (protobuf), far under
    // receivers' limits (the Collector's OTLP/HTTP receiver takes 20 MiB)
    maxExportBatchSize: { doc: 'Records in one export request at most.', format: integerIn(1, 100_000, 'a record count'), default: 2048 },
    attributeCountLimit: {
      doc: "Attributes a log record keeps at most (the first ones); the others are counted in its droppedAttributesCount; 0 = no limit. OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT, OTEL_ATTRIBUTE_COUNT_LIMIT.",
      format: integerIn(0, 100_000, 'an attribute count'),
      default: 128,
    },
    attributeValueLengthLimit: {
      doc: 'String attribute values are cut to this many characters; 0 = no limit. OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT, OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT.',
      format: integerIn(0, 100_000_000, 'characters'),
      default: 0,
    },
    flushIntervalMillis: { doc: 'Longest a record waits before its batch is sent.', format: integerIn(1, 600_000, 'milliseconds'), default: 1000 },
    shutdownTimeoutMillis: { doc: 'On SIGTERM/SIGINT, how long to keep flushing what is queued.', format: integerIn(0, 600_000, 'milliseconds'), default: 10_000 },
    maxResources: {
      doc: 'Distinct resources (a pod each, and the host) the exporter keeps a logger for at most; the least recently used is dropped past it (it is made again if its pod binds again).',
      format: integerIn(1, 1_000_000, 'a resource count'),
      default: 4096,
    },
    resourceIdleMillis: {
      doc: 'A resource\'s logger unused this long (its pod gone) is released.',
      format: integerIn(100, 86_400_000, 'milliseconds'),
      default: 600_000,
    },
  },
  service: {
    name: { doc: 'Resource service.name of the agent (and of host processes\' binds). OTEL_SERVICE_NAME; empty = service.name in resourceAttributes, else bindsnoop.', format: String, default: '' },
    resourceAttributes: { doc: 'Extra resource attributes as k1=v1,k2=v2. OTEL_RESOURCE_ATTRIBUTES.', format: String, default: '' },
  },
  reader: {
    ringBufferBytes: {
      doc: "Kernel ring buffer size (counts against the memory limit): how far the reader may fall behind before the kernel drops binds. 8 MiB holds about 12,900 records of 648 bytes (9,200 with the command line): half a second of a 25,000 binds/s burst.",
      format: powerOfTwoPages,
      default: 8 << 20,
    },
    // each wakeup and its batch cost both threads a fixed amount, as much as encoding many records: fewer, larger
    // batches (docs/BENCHMARKS.md, "Native encoding"), still a small part of the ring
    wakeupBytes: {
      doc: 'Wake the reader once this much is pending (fewer wakeups, less overhead); below one record\'s size, every record wakes it.',
      format: integerIn(1, 1 << 30, 'bytes'),
      default: 256 * 1024,
    },
    drainIntervalMillis: { doc: 'Otherwise drain the ring this often: the longest a bind waits in the kernel.', format: integerIn(1, 10_000, 'milliseconds'), default: 50 },
    maxPendingBatches: {
      doc: 'Batches (of up to 1024 records) handed from the reader thread to JavaScript and not yet processed, at most; past it, or past maxPendingBytes, the records wait in the kernel ring, which counts what does not fit (stage kernel).',
      format: integerIn(1, 1_000_000, 'a batch count'),
      default: 256,
    },
    maxPendingBytes: {
      doc: 'Bytes of records handed to JavaScript and not yet processed, at most (a burst\'s buffer: 32 MiB holds about 90,000 binds); past it the records wait in the kernel ring.',
      format: integerIn(65_536, 4_294_967_295, 'a byte count'),
      default: 32 << 20,
    },
  },
  log: {
    lossWarningIntervalMillis: { doc: 'At most one warning about lost binds per interval.', format: integerIn(0, 3_600_000, 'milliseconds'), default: 10_000 },
  },
  handover: {
    enabled: {
      doc: 'Daemon mode only: pin the kernel programs, their ring buffer and their counters under pinDir and leave them attached when the agent stops or dies, so that the next agent reads the binds of the gap, books what was lost meanwhile and takes over without a bind unseen. Remove a pinned set with bindsnoop cleanup.',
      format: Boolean,
      default: false,
    },
    pinDir: { doc: 'Where the pinned set lives (a directory on a BPF filesystem, one agent at a time).', format: String, default: '/sys/fs/bpf/bindsnoop-handover' },
    unownedAfterMillis: {
      doc: "A pinned set whose reader has been gone this long stops reporting binds (each skipped bind is counted), so that a removed agent's programs cost next to nothing; 0 = never.",
      format: integerIn(0, 2_592_000_000, 'milliseconds'),
      default: 600_000,
    },
  },
  server: {
    port: { doc: 'Port of /healthz, /readyz and /metrics in daemon mode (--daemon); 0 = any free port.', format: integerIn(0, 65535, 'a port'), default: 9090 },
    host: {
      doc: 'Address the daemon-mode HTTP server listens on (an IPv4 or IPv6 address).',
      format: described(
        (value: unknown): void => {
          if (typeof value !== 'string' || isIP(value) === 0) throw new Error('must be an IP address such as 0.0.0.0, 127.0.0.1 or ::');
        },
        { type: 'string', anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] },
      ),
      default: '0.0.0.0',
    },
  },
  kubernetes: {
    enabled: { doc: 'Resolve each bind to its pod (resource attributes, -K columns, JSON fields). Flag -K.', format: Boolean, default: false },
    nodeName: { doc: 'This node (k8s.node.name); from the downward API. NODE_NAME.', format: String, default: '' },
    podLogsDir: { doc: "The kubelet's pod log tree, <namespace>_<pod>_<uid>/<container>/: pod and container names.", format: String, default: '/var/log/pods' },
    containerLogsDir: { doc: "The kubelet's container log links, <pod>_<namespace>_<container>-<id>.log: container names by id.", format: String, default: '/var/log/containers' },
    deletedPodGraceMillis: { doc: 'How long a deleted pod is remembered, so late events still resolve.', format: integerIn(0, 86_400_000, 'milliseconds'), default: 300_000 },
    pinDir: { doc: 'Where the agent pins its "cgroups" and "mntns" maps (bcc --cgroupmap/--mntnsmap layouts) and "excluded"; empty = no pinned maps.', format: String, default: '/sys/fs/bpf/bindsnoop' },
    daemonSet: {
      doc: "NAMESPACE/NAME of the DaemonSet the agent runs in (the chart and k8s/ set it), watched through the API: deleted (helm uninstall, kubectl delete), no next agent will come, and a stop removes the pinned handover set instead of leaving it attached. Needs list and watch on that DaemonSet; empty = not watched.",
      format: described(
        (value: unknown): void => {
          if (typeof value !== 'string' || (value !== '' && !parseDaemonSetRef(value))) throw new Error('must be NAMESPACE/NAME (DNS-1123 names), or empty');
        },
        { type: 'string' },
      ),
      default: '',
    },
    cgroupRoot: { doc: 'Where container cgroups live; empty = the cgroup v2 mount found in /proc/self/mountinfo.', format: String, default: '' },
    namespaces: { doc: 'Only these namespaces (comma-separated); empty = all. Others are dropped in the kernel.', format: String, default: '' },
    excludeNamespaces: { doc: 'Never these namespaces (comma-separated): dropped in the kernel.', format: String, default: '' },
    labelSelector: {
      doc: 'Only pods matching this label selector (kubectl -l syntax; labels come from the API); empty = all. Others are dropped in the kernel.',
      format: described(
        (value: unknown): void => {
          if (typeof value !== 'string') throw new Error('must be a label selector string');
          parseLabelSelector(value);
        },
        { type: 'string' },
      ),
      default: '',
    },
    mapSyncIntervalMillis: {
      doc: "The pinned maps are reconciled with this node's containers when a container cgroup is made or removed (inotify) or a pod changes in the API, and in full at least this often, in case a change was missed.",
      format: integerIn(10, 600_000, 'milliseconds'),
      default: 60_000,
    },
    labels: {
      doc: 'Pod label keys to attach as k8s.pod.label.<key> (comma-separated; needs the API).',
      format: described(
        (value: unknown): void => {
          if (typeof value !== 'string') throw new Error('must be a comma-separated list of label keys');
          const bad = value.split(',').map((k) => k.trim()).filter((k) => k !== '' && !isLabelKey(k));
          if (bad.length > 0) throw new Error(`'${bad[0].slice(0, 80)}' is not a Kubernetes label key ([prefix/]name: a name of at most 63 letters, digits, '-', '_' and '.', alphanumeric at both ends), so no pod can have it`);
        },
        { type: 'string' },
      ),
      default: '',
    },
    podServiceName: {
      doc: "A pod's binds carry its workload's service.name, .namespace, .version and .instance.id, as the semantic conventions' Kubernetes guidance derives them (workload), or the agent's own (agent, as before 0.5.0).",
      format: ['workload', 'agent'],
      default: 'workload',
    },
    api: {
      enabled: {
        doc: 'Watch this node\'s pods in the Kubernetes API for labels, owners and container ids: auto (when in a cluster or given a kubeconfig), true or false.',
        format: described(
          (value: unknown): void => {
            if (!['auto', 'true', 'false', true, false].includes(value as string)) throw new Error('must be auto, true or false');
          },
          { enum: ['auto', 'true', 'false', true, false] },
        ),
        default: 'auto',
      },
      kubeconfig: { doc: 'A kubeconfig file for the API; empty = the in-cluster service account. KUBECONFIG.', format: String, default: '' },
      restartDelayMillis: { doc: 'After a failed list or watch, wait this long before starting again.', format: integerIn(10, 600_000, 'milliseconds'), default: 2000 },
      watchIdleMillis: {
        doc: 'A pod watch that brings nothing this long is made again from where it was (a connection kept open but silent is not trusted).',
        format: integerIn(100, 86_400_000, 'milliseconds'),
        default: 300_000,
      },
      listTimeoutMillis: {
        doc: "A list of this node's pods not whole within this fails, is counted and is retried with the backoff (a server that never ends a reply).",
        format: integerIn(100, 3_600_000, 'milliseconds'),
        default: 60_000,
      },
      holdMillis: {
        doc: "Binds of a pod (or container) the API has not described yet wait for it at most this long, so a pod's resource (service.name, labels) is the same for its life, and binds from look-alike cgroups wait as long for their real path; then they go out named as far as known. 0 = never wait.",
        format: integerIn(0, 600_000, 'milliseconds'),
        default: 5000,
      },
      holdMaxRecords: {
        doc: 'At most this many binds wait for the API at once; past it a bind goes out at once, named from the log tree (bindsnoop_kubernetes_hold_total{outcome="overflowed"}).',
        format: integerIn(0, 1_000_000, 'records'),
        default: 16_384,
      },
      maxPods: {
        doc: "At most this many of this node's pods are known at once (deleted ones still in their grace period included); past it a new pod is not kept, is counted, and its binds are named from the log tree. A node runs at most a few hundred.",
        format: integerIn(16, 100_000, 'pods'),
        default: 1024,
      },
      maxListBytes: {
        doc: "A list of this node's pods larger than this fails, is counted and is retried with the backoff (a node's pods are a few MiB at most).",
        format: integerIn(65_536, 1024 * 1024 * 1024, 'bytes'),
        default: 64 * 1024 * 1024,
      },
    },
    podRescanIntervalMillis: { doc: 'How often the pod log trees are rescanned (also on a miss, at most once a second).', format: integerIn(10, 3_600_000, 'milliseconds'), default: 5000 },
  },
};

/** BINDSNOOP_ variable of a key path: otlp.timeoutMillis -> BINDSNOOP_OTLP_TIMEOUT_MILLIS. */
export function envName(path: string): string {
  return (
    'BINDSNOOP_' +
    path
      .split('.')
      .map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
      .join('_')
  );
}

/**
 * Variables of other tools that set a key (the first one set wins, below the
 * key's BINDSNOOP_ variable), read as strictly as BINDSNOOP_ ones. The OTEL_
 * ones are read by the specification's rules: see otel-env.ts.
 */
export const OTHER_ENV: Readonly<Record<string, readonly string[]>> = {
  'kubernetes.nodeName': ['NODE_NAME'],
  'kubernetes.api.kubeconfig': ['KUBECONFIG'],
};

/** BINDSNOOP_ variables that are not configuration keys. */
export const NON_KEY_ENV = new Set(['BINDSNOOP_CONFIG', 'BINDSNOOP_LIBBPF_DEBUG']);
