import { hostname } from 'node:os';
import * as path from 'node:path';
import type { AppConfig } from '../config/schema';
import type { Attributes } from '../model/attributes';
import { BindsnoopError } from '../model/errors';
import { redactCredentials } from '../model/text';
import type { Output } from '../model/named-bind';
import { BootClock } from '../kernel/clock';
import type { CountEntry } from '../kernel/decode';
import { loadAddon, type BackendInfo, type HandoverInfo, type NativeTracerStats } from '../kernel/native';
import { preparePinDir, PinDirInUse, PinDirUnusable } from '../kernel/pin-dir';
import { BindSource, type SourceStats } from '../kernel/source';
import { Kubernetes, KubernetesSetupError } from '../kubernetes/kubernetes';
import type { HoldCounts } from '../kubernetes/hold';
import type { PodWatchCounts } from '../kubernetes/pod-watch';
import { InterfaceNames } from '../naming/net/interfaces';
import { readMachineId } from '../host/machine-id';
import { baseResourceAttributes } from '../naming/resource';
import { exporterSettings } from '../otlp/settings';
import type { LogSink } from '../otlp/export-stage';
import { createLogSink, otlpEncodedOutput, otlpOutput, type EncodedOutput } from '../otlp/pipeline';
import { recordEncoder } from '../otlp/native-encoding';
import { jsonOutput, tableOutput } from '../output/stdout';
import type { AgentStatus } from './status';
import { account, describeLosses, totalLost, type Accounting } from './accounting';
import { ExportHealth } from './export-health';
import { ExecutableSelection } from './executable-selection';
import { Router } from './router';
import type { EncoderCounts } from './status';
import { tracerOptions } from './tracer-options';

export interface AgentOptions {
  config: AppConfig;
  /** bcc's table-only flags */
  table: { timestamp: boolean; wide: boolean; printUid: boolean; exe: boolean };
  /** --count: count in the kernel, print nothing per bind */
  countMode: boolean;
  /** --daemon: the only mode that may keep programs attached after it stops (handover) */
  daemon?: boolean;
  version: string;
  /** a batch's lines for stdout, and how many binds they are */
  write: (chunk: string | Buffer, binds: number) => void;
  /** stdout cannot take more now (what waits for it is at its bound): lines are not even made */
  stdoutFull?: () => boolean;
  /** binds whose lines were not made because stdout was full: counted where write counts what it drops */
  stdoutDropped?: (binds: number) => void;
  warn: (line: string) => void;
}

/** The files of a pinned handover set the agent checks are its own before it reuses them (native/handover.h). */
const HANDOVER_FILES = ['state', 'stats', 'inflight', 'events'];

/** A problem of a stage's set-up, in the configuration key's words. */
function configError(key: string, message: string): BindsnoopError {
  return new BindsnoopError('CONFIG', `invalid configuration:\n  ${key}: ${message}`);
}

/**
 * The agent, built from validated configuration: the kernel source, the
 * Kubernetes stage, the router (naming once per bind) and the outputs (table,
 * JSON, OTLP), with accounting and status beside them. Every configuration
 * error is raised by the constructor, before anything is loaded into the
 * kernel. One lifecycle for the CLI and the daemon: start(), stop(), status.
 */
export class Agent implements AgentStatus {
  private readonly otlp?: LogSink;
  /** the OTLP output of the records the addon encodes, when it encodes */
  private readonly encodedOtlp?: EncodedOutput;
  private readonly kubernetes?: Kubernetes;
  private readonly executables?: ExecutableSelection;
  private readonly clock = new BootClock(() => loadAddon().clockPair());
  private readonly outputs: Output[] = [];
  private readonly table?: ReturnType<typeof tableOutput>;
  private readonly baseResource: Attributes;
  private scopeAttributes: Attributes = {};
  private source?: BindSource;
  private router?: Router;
  private backendInfo?: BackendInfo;
  private stopping = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private lastDrainPasses = -1;
  private lastDrainProgressMs = Date.now();
  private lastReportedLost = 0;
  private readerErrnoReported = false;
  private handoverLock?: { release(): void };
  private handoverInfo?: HandoverInfo;

  constructor(private readonly options: AgentOptions) {
    const { config, countMode } = options;
    const settings = exporterSettings(config, options.version);
    this.baseResource = baseResourceAttributes({
      serviceName: config.service.name,
      serviceVersion: options.version,
      hostName: hostname(),
      nodeName: config.kubernetes.nodeName || undefined,
      kubernetes: config.kubernetes.enabled,
      extra: config.service.resourceAttributes,
      machineId: readMachineId(),
    });
    if (config.kubernetes.enabled) {
      try {
        this.kubernetes = new Kubernetes(config.kubernetes, options.warn);
      } catch (e) {
        if (e instanceof KubernetesSetupError) throw configError(`kubernetes.${e.setting}`, e.message);
        throw e;
      }
    }
    this.executables = ExecutableSelection.of(config.filter);
    if (config.handover.enabled && !options.daemon) {
      throw configError('handover.enabled', 'keeps the kernel programs attached after bindsnoop stops: daemon mode only (--daemon); the command line leaves nothing attached');
    }
    if (config.handover.enabled && countMode) throw configError('handover.enabled', 'hands binds over to the next agent: it cannot apply to --count, which the kernel counts');
    if (countMode) {
      // the kernel counts: no record reaches user space to be judged by its executable
      if (this.executables) throw configError('filter.executables', 'selects records: it cannot apply to --count, which the kernel counts');
      return;
    }
    if (config.output.format === 'table') {
      this.table = tableOutput({ ...options.table, errors: config.filter.errors, kubernetes: config.kubernetes.enabled }, (chunk, binds) => options.write(chunk, binds));
      this.outputs.push({ ...this.table, ...this.stdoutShedding() });
    } else if (config.output.format === 'json') {
      this.outputs.push({ ...jsonOutput(() => this.scopeAttributes, (chunk, binds) => options.write(chunk, binds)), ...this.stdoutShedding() });
    }
    if (settings) {
      this.endpoint = redactCredentials(settings.url);
      const health = new ExportHealth(this.endpoint, options.warn);
      const otlp = createLogSink(settings, config.otlp, options.version, (failure) => health.attempt(failure));
      this.otlp = otlp;
      this.outputs.push(otlpOutput(otlp, () => this.clock.nowWallNs()));
      // the addon encodes what it can where it reads it when nothing else reads the binds and none is selected by
      // its executable (with Kubernetes, the binds of each cgroup once this agent has resolved one)
      // (a batch copied into requests hands its memory back to the reader)
      if (config.otlp.encodeInAddon && this.outputs.length === 1 && !this.executables) this.encodedOtlp = otlpEncodedOutput(otlp, (batch) => this.source?.recycleEncoded(batch));
    }
  }

  /** An stdout output's saturated/drop, from the front end's stdout. */
  private stdoutShedding(): Pick<Output, 'saturated' | 'drop'> {
    const { stdoutFull, stdoutDropped } = this.options;
    return stdoutFull && stdoutDropped ? { saturated: stdoutFull, drop: stdoutDropped } : {};
  }

  /** Whether binds are exported over OTLP. */
  get exporting(): boolean {
    return this.otlp !== undefined;
  }

  /** Where binds are exported (the logs URL, credentials redacted), when they are. */
  readonly endpoint?: string;

  /** bcc's table header, when the table is the output. */
  tableHeader(): string | undefined {
    return this.table?.header();
  }

  /** Loads and attaches the kernel program and starts every stage; returns the backend in use. */
  start(): BackendInfo {
    const { config, countMode } = this.options;
    let pinDir: string;
    try {
      pinDir = this.kubernetes?.preparePinDir() ?? '';
    } catch (e) {
      if (e instanceof KubernetesSetupError) throw configError(`kubernetes.${e.setting}`, e.message);
      throw e;
    }
    let handoverDir = '';
    if (config.handover.enabled) {
      handoverDir = path.resolve(config.handover.pinDir);
      try {
        this.handoverLock = preparePinDir(handoverDir, HANDOVER_FILES, 'one pinned set has one reader; stop it, or give this one its own handover.pinDir');
      } catch (e) {
        if (e instanceof PinDirUnusable || e instanceof PinDirInUse) throw configError('handover.pinDir', e.message);
        throw e;
      }
    }
    // made before anything loads: a refusal leaves nothing attached
    const encoder = this.encodedOtlp ? recordEncoder(config.otlp) : undefined;
    const source = BindSource.open(tracerOptions(config, { countMode, cgroupRootId: this.kubernetes?.cgroupRootId() ?? 1, pinDir, handoverDir, version: this.options.version }));
    this.source = source;
    this.handoverInfo = source.handover() ?? undefined;
    this.backendInfo = source.backend();
    this.scopeAttributes = { 'bindsnoop.backend': this.backendInfo.name };
    this.otlp?.setScopeAttributes(this.scopeAttributes);
    const router = new Router({
      clock: this.clock,
      interfaces: new InterfaceNames(),
      baseResource: this.baseResource,
      podService: config.kubernetes.podServiceName,
      executables: this.executables,
      kubernetes: this.kubernetes,
      outputs: this.outputs,
      encoded: this.encodedOtlp,
      encodedCgroups: this.encodedOtlp && this.kubernetes ? { encodeAs: (cgroupId, slot) => source.encodeCgroupAs(cgroupId, slot), forget: () => source.forgetEncodedCgroups() } : undefined,
    });
    this.kubernetes?.onKnowledgeChange(() => router.forgetEncodedCgroups());
    this.router = router;
    this.kubernetes?.start(pinDir ? source.maps : undefined);
    // -q without export: nothing reads the binds, which are counted rather than decoded
    if (this.outputs.length === 0) source.countInsteadOfDecoding((records) => router.count(records));
    source.start((events) => router.route(events), encoder && { encoder, onEncoded: (batch) => router.routeEncoded(batch), cgroupSlots: this.kubernetes !== undefined });
    this.every(1000, () => this.sampleLiveness());
    if (this.otlp && config.log.lossWarningIntervalMillis > 0) this.every(config.log.lossWarningIntervalMillis, () => this.warnOfNewLosses());
    return this.backendInfo;
  }

  private every(millis: number, task: () => void): void {
    const timer = setInterval(task, millis);
    timer.unref();
    this.timers.push(timer);
  }

  /**
   * Stops reading (detach, drain), stops the stages, flushes exports until the
   * deadline (otlp.shutdownTimeoutMillis), and returns the final accounting.
   */
  async stop(): Promise<Accounting | undefined> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    // asked before the stage stops watching: with the DaemonSet gone no agent will take the set over
    const removeSet = this.removesPinnedSet();
    await this.kubernetes?.stop();
    if (!this.source) return undefined;
    await this.source.stop(!removeSet);
    if (this.otlp) await this.otlp.shutdown(this.options.config.otlp.shutdownTimeoutMillis);
    const stats = this.source.stats();
    const books = this.accountingOf(stats);
    // with handover, the next agent books from here: everything read is exported or counted now
    this.settle(stats, books);
    this.handoverLock?.release();
    return books;
  }

  /** Handover: the takeover of the pinned set (what the previous owner left, what it retired since), with handover on. */
  handover(): HandoverInfo | undefined {
    return this.handoverInfo ? (this.source?.handover() ?? this.handoverInfo) : undefined;
  }

  /** Handover: a stop now removes the pinned set rather than leave it (the agent's DaemonSet was deleted). */
  removesPinnedSet(): boolean {
    return this.handoverInfo !== undefined && (this.kubernetes?.daemonSetDeleted() ?? false);
  }

  /** Handover: tells the pinned set how far every record read is exported or counted, for the next owner's books. */
  private settle(stats: SourceStats, books?: Accounting): void {
    if (!this.handoverInfo) return;
    const settled = books ?? this.accountingOf(stats);
    if (settled) this.source?.settle(stats.recordsRead + stats.recordsMalformed - settled.pending);
  }

  /** --count's table as the kernel counted it (after stop, as it was when the programs were detached). */
  counts(): CountEntry[] {
    return this.source?.counts() ?? [];
  }

  kernelStats(): NativeTracerStats | undefined {
    return this.source?.stats();
  }

  // ---- status (AgentStatus), read by the HTTP server and the front ends ----

  backend(): BackendInfo | undefined {
    return this.backendInfo;
  }

  encoder(): EncoderCounts | undefined {
    if (!this.encodedOtlp || !this.source) return undefined;
    const s = this.source.stats();
    return { records: s.encodedRecords, bytes: s.encodedBytes, seconds: s.encodeNanos / 1e9, unencoded: s.unencodedRecords };
  }

  private sampleLiveness(): void {
    const stats = this.source?.stats();
    if (stats) this.settle(stats);
    if (stats?.readerErrno && !this.readerErrnoReported) {
      this.readerErrnoReported = true;
      this.options.warn(`the reader thread stopped: polling the ring buffer failed with errno ${stats.readerErrno}; binds are no longer read (restart bindsnoop)`);
    }
    const passes = stats?.drainPasses ?? -1;
    if (passes !== this.lastDrainPasses) {
      this.lastDrainPasses = passes;
      this.lastDrainProgressMs = Date.now();
    }
  }

  /** The reader thread runs and has drained the ring recently (it drains every reader.drainIntervalMillis). */
  live(): boolean {
    if (!this.source || this.stopping) return false;
    this.sampleLiveness();
    const stale = Math.max(5000, 20 * this.options.config.reader.drainIntervalMillis);
    return this.source.stats().readerAlive && Date.now() - this.lastDrainProgressMs < stale;
  }

  /** Programs attached, configuration loaded, not shutting down. */
  ready(): boolean {
    return !this.stopping && this.source !== undefined && this.source.attached();
  }

  podsKnown(): number {
    return this.kubernetes?.podsKnown() ?? 0;
  }

  containersKnown(): number {
    return this.kubernetes?.containersKnown() ?? 0;
  }

  podWatch(): PodWatchCounts | undefined {
    return this.kubernetes?.watchCounts();
  }

  podHold(): HoldCounts | undefined {
    return this.kubernetes?.holdCounts();
  }

  resourcesKnown(): number {
    return this.otlp?.resourceCount() ?? 0;
  }

  exportQueueDepth(): number {
    return this.otlp?.snapshot().pending ?? 0;
  }

  accounting(): Accounting | undefined {
    return this.source ? this.accountingOf(this.source.stats()) : undefined;
  }

  /** The books from one snapshot of the tracer's counters. */
  private accountingOf(stats: SourceStats): Accounting | undefined {
    if (!this.router) return undefined;
    const k = this.kubernetes;
    const outsideSelection = (k?.droppedOutsideSelection() ?? 0) + (this.executables?.dropped ?? 0);
    // the takeover's books, with what the older set's retirement counted since (read again: the reader thread adds to them)
    const handover = this.handoverInfo ? this.source?.handover() : undefined;
    return account(stats, this.otlp?.snapshot(), this.router.delivered, outsideSelection, k?.holdCounts()?.held ?? 0, handover);
  }

  /** Rate-limited: at most one warning per interval, only when something new was lost. */
  private warnOfNewLosses(): void {
    const a = this.accounting();
    if (!a) return;
    const total = totalLost(a.lost);
    if (total > this.lastReportedLost) {
      this.options.warn(`lost ${total - this.lastReportedLost} binds since the last report (so far: ${describeLosses(a.lost, a.exportFailures, a.handover?.losses)})`);
      this.lastReportedLost = total;
    }
  }
}
