import { loadAddonFile } from './addon-file';
import type { ClockPair } from './clock';

/**
 * Options the addon's Tracer takes, validated in TypeScript first (native code
 * takes primitives only and checks them again). Their names and bounds are the
 * addon's (native/options.cc, listed as addon.tracerOptions); a test holds this
 * interface and the configuration's bounds to them.
 */
export interface NativeTracerOptions {
  /** host TGID, 0 = any */
  pid: number;
  filterUid: boolean;
  uid: number;
  ports: number[];
  includeErrors: boolean;
  countMode: boolean;
  /** drop binds of kernel sockets and kernel threads in the kernel */
  hideKernelBinds: boolean;
  /** read the task's cgroup names into each record (Kubernetes mode needs them) */
  readCgroupNames: boolean;
  /** records are struct bind_event_args: the command line too */
  readArgs: boolean;
  /** kernfs id (inode) of the cgroup root the kubelet's hierarchy hangs from: a record says whether it is under it */
  cgroupRootId: number;
  /** bcc's --cgroupmap/--mntnsmap pinned maps ("" = none) */
  cgroupMapPath: string;
  mntnsMapPath: string;
  ringBufferBytes: number;
  wakeupBytes: number;
  drainIntervalMillis: number;
  maxPendingBatches: number;
  maxPendingBytes: number;
  /** Kubernetes mode: pin the cgroups/mntns/excluded maps here ("" = off) */
  pinDir: string;
  /** daemon mode's handover: pin the programs' links, the ring and the shared maps here and leave them attached at stop ("" = off) */
  handoverDir: string;
  /** a pinned set whose reader is gone this long reports nothing (0 = never) */
  unownedAfterMillis: number;
  /** recorded in the pinned set */
  packageVersion: string;
  backend: BackendChoice;
}

/** How the kernel program attaches (docs/CONTRACT.md, section 1: --backend). */
export const BACKENDS = ['fentry', 'kprobe', 'tracepoint'] as const;
export type BackendName = (typeof BACKENDS)[number];
export const BACKEND_CHOICES = ['auto', ...BACKENDS] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/** The backend in use, and why each better one was not used. */
export interface BackendInfo {
  name: BackendName;
  /** e.g. "fexit on inet_bind_sk and inet6_bind_sk" */
  attachedTo: string;
  notes: string[];
}

export type K8sMapName = 'cgroups' | 'mntns' | 'excluded';

export interface NativeTracerStats {
  kernelRingFull: number;
  kernelInflightFull: number;
  kernelCountFull: number;
  /** binds whose return the kprobe/tracepoint backends never saw (a missed kretprobe, or mid-bind at stop) */
  kernelInflightOrphaned: number;
  /** binds the programs skipped because the pinned set's reader was gone too long (this tracer's share) */
  kernelUnowned: number;
  /** binds the other set attached during a handover reported: not reported again */
  handoverDuplicates: number;
  /** records read that were written before this tracer took the pinned set over (the gap's) */
  handoverRecovered: number;
  recordsRead: number;
  /** ring records of another size than this build's layout: counted, never decoded */
  recordsMalformed: number;
  readerQueueFull: number;
  batchesQueued: number;
  drainPasses: number;
  readerAlive: boolean;
  /** the errno that stopped the reader thread's poll, 0 while it runs */
  readerErrno: number;
  /** with an encoder: records the reader thread encoded as OTLP LogRecords, their bytes, and the time it took */
  encodedRecords: number;
  encodedBytes: number;
  encodeNanos: number;
  /** with an encoder: records it left to JavaScript (bound to a device to name, or not this build's) */
  unencodedRecords: number;
}

/** What the addon's record encoder is made from (native/encoder_object.cc): what JavaScript declares. */
export interface RecordEncoderConfig {
  /** each attribute's key, by its role (src/naming/bind-attribute-keys.ts) */
  keys: Readonly<Record<string, string>>;
  errnoNames: [number, string][];
  protocolNames: [number, string][];
  eventName: string;
  /** the log record limits; 0 = none */
  countLimit: number;
  valueLengthLimit: number;
}

/** The addon's OTLP LogRecord encoder (native/encoder.h): handed to start() for the reader thread. */
export interface NativeRecordEncoder {
  /** Each whole record of the batch as its LogRecord message, or null where it takes JavaScript's path (JS thread; tests). */
  encode(records: Buffer, withArgs: boolean, wallOffsetNs: bigint, observedNs: bigint): (Buffer | null)[];
}

/** What a takeover of a pinned set found (native/handover.h), and what it has retired since. */
export interface HandoverInfo {
  generation: number;
  /** a set was pinned there before */
  found: boolean;
  previousGeneration: number;
  previousOwnerPid: number;
  previousVersion: string;
  /** the previous owner's programs, by their tags (as bpftool prog show gives them) */
  previousProgramTags: string[];
  /** how long the previous reader had been gone */
  heartbeatAgeMillis: number;
  /** kernel counters after the previous owner last booked them: lost while no reader ran (or after its last scrape) */
  ringFull: number;
  inflightFull: number;
  inflightOrphaned: number;
  unowned: number;
  duplicates: number;
  /** taken from the ring by a previous reader that ended before it exported or counted them */
  unsettled: number;
  /** records in a ring this build could not share (another layout or size): counted, not decoded */
  setAside: number;
  linksRetired: number;
  /** a stop removed the set (its DaemonSet was deleted): nothing stays attached */
  removed: boolean;
}

export interface NativeTracer {
  /**
   * With an encoder, `encoded` holds the records the reader thread encoded: runs of (u32 resource slot, u32 records,
   * u32 bytes, then the records as ScopeLogs.log_records fields), little-endian; `records` the others. With
   * cgroupSlots, only the records of cgroups named by encodeCgroupAs are encoded (as of their slot); else all
   * are, as of slot 0.
   */
  start(onBatch: (records: Buffer, encoded?: Buffer) => void, encoder?: NativeRecordEncoder, cgroupSlots?: boolean): void;
  /** cgroupSlots: the records of this cgroup are encoded as of resource `slot`; false when too many cgroups are named */
  encodeCgroupAs(cgroupId: bigint, slot: number): boolean;
  /** cgroupSlots: no cgroup is named any more (their records take JavaScript's path until named again) */
  forgetEncodedCgroups(): void;
  /**
   * An encoded batch JavaScript no longer reads (every record copied into a request, or dropped): its memory holds
   * the reader's next batch, before the Buffer is collected (it must not be read again); false when not taken.
   */
  recycleEncoded(batch: Buffer): boolean;
  /** with handover, keepAttached (the default) leaves the pinned set attached; false detaches and removes it */
  stop(keepAttached?: boolean): Promise<void>;
  stats(): NativeTracerStats;
  counts(): Buffer;
  attached(): boolean;
  backend(): BackendInfo;
  mapUpdate(map: K8sMapName, key: bigint, value: bigint): void;
  mapDelete(map: K8sMapName, key: bigint): boolean;
  mapEntries(map: K8sMapName): [bigint, bigint][];
  /** handover: every record read before the first `records` is exported or counted lost */
  settle(records: bigint): void;
  handover(): HandoverInfo | null;
}

/** What `bindsnoop cleanup` removed. */
export interface RemovedSet {
  links: number;
  maps: number;
  /** records queued in the ring that no reader will take */
  recordsDiscarded: number;
}

export interface NativeError extends Error {
  code: string;
  errno: number;
  op: string;
  hint: string;
  details?: string;
  /** the user's input (a --cgroupmap/--mntnsmap) is what is wrong, not the kernel */
  userInput?: boolean;
}

/** A struct of the BPF object, as its BTF describes it. */
export interface StructLayout {
  size: number;
  fields: Record<string, { offset: number; size: number }>;
}

/** How the addon checks one option (native/options.cc). */
export type TracerOptionSpec =
  | { type: 'boolean' }
  | { type: 'uint32' | 'safeInteger'; min: number; max: number }
  | { type: 'ports'; maxLength: number }
  | { type: 'string'; oneOf?: string[] };

export interface NativeAddon {
  Tracer: new (options: NativeTracerOptions) => NativeTracer;
  RecordEncoder: new (config: RecordEncoderConfig) => NativeRecordEncoder;
  /** every option Tracer takes, with the bounds it checks */
  tracerOptions: Record<string, TracerOptionSpec>;
  /** struct bind_event, struct bind_event_args and struct count_key (bpf/bindsnoop.h) from the object's BTF */
  layouts: { event: StructLayout; eventArgs: StructLayout; countKey: StructLayout };
  clockPair(): ClockPair;
  /** flock(LOCK_EX|LOCK_NB) on a directory: the fd holding it (JS thread); throws code EAGAIN when another process holds it */
  lockDirectory(path: string): number;
  /** closes an fd from lockDirectory, releasing the lock */
  unlockDirectory(fd: number): void;
  /** poll(2) without waiting: the fd's peer is gone (a pipe's reader closed it) */
  peerClosed(fd: number): boolean;
  /** O_NONBLOCK on a pipe or socket the agent writes to */
  setNonBlocking(fd: number): void;
  /** unpins a handover set (links first: the kernel detaches them) and removes its directory; throws code ENOENT when none is there */
  removePinnedSet(dir: string): RemovedSet;
}

let cached: NativeAddon | undefined;

/** The addon, loaded once: a local build or the package's prebuild; a BindsnoopError when this host cannot load one. */
export function loadAddon(): NativeAddon {
  cached ??= loadAddonFile() as NativeAddon;
  return cached;
}

export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as Partial<NativeError>).op === 'string';
}
