import { parseKeyPairsIntoRecord } from '@opentelemetry/core';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { account, describeLosses, totalLost, type Accounting } from './accounting';
import { BootClock } from './clock';
import { commaList, logsUrl } from './config/load';
import type { AppConfig } from './config/schema';
import { BindsnoopError } from './errors';
import type { BindEvent } from './event';
import { bindAttributes, type Attributes } from './naming';
import { loadAddon } from './native';
import { InterfaceNames } from './net/interfaces';
import { AccountingLogExporter, type ExporterSettings } from './otlp/exporter';
import { bindLogRecord } from './otlp/record';
import { baseResourceAttributes } from './otlp/resource';
import { OtlpSink } from './otlp/sink';
import type { BackendInfo } from './native';
import { BindSource } from './source';
import { formatJsonLine } from './sinks/json';
import { latin1Bytes, TableFormatter, type TableOptions } from './sinks/table';
import { findCgroup2Mount, NodeMaps } from './enrich/node-maps';
import { PodLogIndex } from './enrich/pod-logs';
import { podResourceAttributes, PodResolver, type PodIdentity } from './enrich/resolver';
import { PodWatch } from './enrich/pod-watch';

export interface PipelineOptions {
  config: AppConfig;
  /** bcc's table-only flags */
  table: Omit<TableOptions, 'errors' | 'kubernetes'>;
  countMode: boolean;
  version: string;
  write: (chunk: string | Buffer) => void;
  warn: (line: string) => void;
}

function readPem(key: string, path: string): string | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new BindsnoopError('CONFIG', `invalid configuration:\n  ${key}: cannot read ${path} (${(e as NodeJS.ErrnoException).code})`);
  }
}

/** Exporter settings from validated configuration; reads the PEM files (CONFIG errors, before anything loads). */
export function exporterSettings(config: AppConfig, version: string): ExporterSettings | undefined {
  const url = logsUrl(config);
  if (!url) return undefined;
  const o = config.otlp;
  return {
    url,
    protocol: o.protocol,
    headers: o.headers ? parseKeyPairsIntoRecord(o.headers) : {},
    compression: o.compression,
    timeoutMillis: o.timeoutMillis,
    ca: readPem('otlp.certificate', o.certificate),
    cert: readPem('otlp.clientCertificate', o.clientCertificate),
    key: readPem('otlp.clientKey', o.clientKey),
    userAgent: `bindsnoop-otel/${version}`,
  };
}

/**
 * Source -> decode -> (table | json) and OTLP. Built in two steps so that every
 * configuration error is raised before anything is loaded into the kernel.
 */
export class Pipeline {
  readonly otlp?: OtlpSink;
  private source?: BindSource;
  private readonly clock = new BootClock(() => loadAddon().clockPair());
  private readonly interfaces = new InterfaceNames();
  private readonly baseResource: Attributes;
  private readonly printer?: (events: BindEvent[], pods: (PodIdentity | undefined)[]) => void;
  private readonly pods?: PodResolver;
  private podIndex?: PodLogIndex;
  private podRefreshTimer?: NodeJS.Timeout;
  private nodeMaps?: NodeMaps;
  readonly podWatch?: PodWatch;
  private mapSyncTimer?: NodeJS.Timeout;
  private deliveredToJs = 0;
  private outsideSelection = 0;
  private lastDrainPasses = -1;
  private lastDrainProgressMs = Date.now();
  private livenessTimer?: NodeJS.Timeout;
  private stopping = false;
  /** the kernel backend in use, once started: the InstrumentationScope's and JSON's bindsnoop.backend */
  private scopeAttributes: Attributes = {};
  private backendInfo?: BackendInfo;
  private readerErrnoReported = false;
  private lossTimer?: NodeJS.Timeout;
  private lastReportedLost = 0;

  constructor(private readonly options: PipelineOptions) {
    const { config } = options;
    const settings = exporterSettings(config, options.version);
    this.baseResource = baseResourceAttributes({
      serviceName: config.service.name,
      serviceVersion: options.version,
      hostName: hostname(),
      nodeName: config.kubernetes.nodeName || undefined,
      extra: config.service.resourceAttributes,
    });
    if (settings && !options.countMode) {
      this.otlp = new OtlpSink({
        makeExporter: (onOutcome) => new AccountingLogExporter(settings, onOutcome),
        maxQueueSize: config.otlp.maxQueueSize,
        maxExportBatchSize: config.otlp.maxExportBatchSize,
        flushIntervalMillis: config.otlp.flushIntervalMillis,
        exportTimeoutMillis: config.otlp.timeoutMillis,
        scopeName: 'bindsnoop',
        scopeVersion: options.version,
        maxResources: config.otlp.maxResources,
        resourceIdleMillis: config.otlp.resourceIdleMillis,
      });
    }
    if (config.kubernetes.enabled) {
      const k = config.kubernetes;
      this.podIndex = new PodLogIndex(k.podLogsDir, k.containerLogsDir, k.deletedPodGraceMillis);
      this.podIndex.refresh();
      this.podWatch = this.makePodWatch();
      this.pods = new PodResolver(this.podIndex, this.podWatch, commaList(k.labels));
    }
    this.printer = this.makePrinter();
  }

  /** The API watch when configured (or, on auto, when in a cluster); CONFIG errors before anything loads. */
  private makePodWatch(): PodWatch | undefined {
    const k = this.options.config.kubernetes;
    const setting = String(k.api.enabled);
    const inCluster = Boolean(process.env.KUBERNETES_SERVICE_HOST);
    const wanted = setting === 'true' || (setting === 'auto' && (inCluster || k.api.kubeconfig !== ''));
    if (!wanted) return undefined;
    if (!k.nodeName) {
      if (setting === 'true') {
        throw new BindsnoopError('CONFIG', 'invalid configuration:\n  kubernetes.nodeName: needed to watch this node\'s pods (set NODE_NAME from the downward API, spec.nodeName)');
      }
      this.options.warn('no node name (NODE_NAME): not watching the Kubernetes API; pods are named from the kubelet log tree only');
      return undefined;
    }
    return new PodWatch({
      kubeconfig: k.api.kubeconfig,
      nodeName: k.nodeName,
      graceMillis: k.deletedPodGraceMillis,
      restartDelayMillis: k.api.restartDelayMillis,
      warn: this.options.warn,
    });
  }

  /** The resource of a bind: the agent's own attributes, plus its pod's when it came from one. */
  private resourceFor(pod: PodIdentity | undefined): Attributes {
    return pod ? { ...this.baseResource, ...podResourceAttributes(pod) } : this.baseResource;
  }

  private tableOptions(): TableOptions {
    const { config } = this.options;
    return { ...this.options.table, errors: config.filter.errors, kubernetes: config.kubernetes.enabled };
  }

  private makePrinter(): ((events: BindEvent[], pods: (PodIdentity | undefined)[]) => void) | undefined {
    const { config, countMode, write } = this.options;
    if (countMode || config.output.format === 'none') return undefined;
    if (config.output.format === 'json') {
      return (events, pods) => {
        let out = '';
        events.forEach((e, i) => {
          const attrs = bindAttributes(e, this.interfaces.lookup(e.boundDevIf, e.netnsId));
          out += formatJsonLine(this.clock.toWallNs(e.tsBootNs), attrs, this.resourceFor(pods[i]), this.scopeAttributes) + '\n';
        });
        write(out);
      };
    }
    const table = new TableFormatter(this.tableOptions());
    return (events, pods) => {
      let out = '';
      events.forEach((e, i) => (out += table.row(e, pods[i]) + '\n'));
      write(latin1Bytes(out));
    };
  }

  tableHeader(): string | undefined {
    const { config, countMode } = this.options;
    if (countMode || config.output.format !== 'table') return undefined;
    return new TableFormatter(this.tableOptions()).header();
  }

  /** Loads and attaches the kernel program and starts reading. */
  start(): BindSource {
    const { config, countMode } = this.options;
    const f = config.filter;
    const source = BindSource.open({
      pid: f.pid || undefined,
      uid: f.uid >= 0 ? f.uid : undefined,
      ports: f.ports,
      includeErrors: f.errors,
      countMode,
      hideKernelBinds: !f.kernelBinds,
      readCgroupNames: config.kubernetes.enabled,
      backend: config.kernel.backend,
      cgroupMapPath: f.cgroupMap || undefined,
      mntnsMapPath: f.mntnsMap || undefined,
      ...config.reader,
      pinDir: config.kubernetes.enabled && config.kubernetes.pinDir ? config.kubernetes.pinDir : undefined,
    });
    this.source = source;
    this.backendInfo = source.backend();
    this.scopeAttributes = { 'bindsnoop.backend': this.backendInfo.name };
    this.otlp?.setScopeAttributes(this.scopeAttributes);
    if (config.kubernetes.enabled && config.kubernetes.pinDir) {
      const k = config.kubernetes;
      const cgroupRoot = k.cgroupRoot || findCgroup2Mount();
      if (cgroupRoot) {
        const resolver = this.pods;
        this.nodeMaps = new NodeMaps(source.maps, (uid) => resolver?.factsOf(uid) ?? {}, {
          cgroupRoot,
          namespaces: k.namespaces,
          excludeNamespaces: k.excludeNamespaces,
          labelSelector: k.labelSelector,
        });
        this.nodeMaps.sync();
        const maps = this.nodeMaps;
        this.mapSyncTimer = setInterval(() => maps.sync(), k.mapSyncIntervalMillis);
        this.mapSyncTimer.unref();
      } else {
        this.options.warn('no cgroup v2 mount found: pinned pod maps stay empty (set kubernetes.cgroupRoot)');
      }
    }
    source.start((events) => this.onEvents(events));
    this.livenessTimer = setInterval(() => this.sampleLiveness(), 1000);
    this.livenessTimer.unref();
    if (this.podWatch) {
      const watch = this.podWatch;
      watch.start().catch((e: Error) => this.options.warn(`cannot watch the Kubernetes API: ${e.message}`));
    }
    if (this.podIndex) {
      // notice deleted pods (kept for the grace period) even when no bind asks
      const index = this.podIndex;
      this.podRefreshTimer = setInterval(() => index.refresh(), config.kubernetes.podRescanIntervalMillis);
      this.podRefreshTimer.unref();
    }
    if (this.otlp && config.log.lossWarningIntervalMillis > 0) {
      this.lossTimer = setInterval(() => this.warnOfNewLosses(), config.log.lossWarningIntervalMillis);
      this.lossTimer.unref();
    }
    return source;
  }

  private onEvents(batch: BindEvent[]): void {
    this.deliveredToJs += batch.length;
    let events = batch;
    let pods = batch.map((e) => this.pods?.resolve(e));
    const maps = this.nodeMaps;
    if (maps) {
      // a container of an excluded pod that bound before the maps knew it passed the kernel: drop it here
      const keep = pods.map((p) => !p || !maps.excluded(p.podUid));
      if (keep.includes(false)) {
        this.outsideSelection += keep.filter((k) => !k).length;
        events = batch.filter((_, i) => keep[i]);
        pods = pods.filter((_, i) => keep[i]);
      }
      events.forEach((e, i) => {
        if (pods[i]) maps.learn(e.cgroupId, e.mntnsId);
      });
    }
    this.printer?.(events, pods);
    if (!this.otlp) return;
    const observedNs = this.clock.nowWallNs();
    events.forEach((e, i) => {
      const record = bindLogRecord(e, this.clock.toWallNs(e.tsBootNs), observedNs, this.interfaces.lookup(e.boundDevIf, e.netnsId));
      this.otlp?.enqueue(record, this.resourceFor(pods[i]));
    });
  }

  /** The kernel backend in use and why each better one was not (after start). */
  backend(): BackendInfo | undefined {
    return this.backendInfo;
  }

  private sampleLiveness(): void {
    const stats = this.source?.stats();
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
    return this.podWatch?.podCount() ?? this.podIndex?.podCount() ?? 0;
  }

  exportQueueDepth(): number {
    return this.otlp?.snapshot().pending ?? 0;
  }

  /** Loggers the exporter holds (one per distinct resource). */
  resourcesKnown(): number {
    return this.otlp?.resourceCount() ?? 0;
  }

  containersKnown(): number {
    return this.nodeMaps?.containerCount() ?? 0;
  }

  accounting(): Accounting | undefined {
    if (!this.source) return undefined;
    return account(this.source.stats(), this.otlp?.snapshot(), this.deliveredToJs, this.outsideSelection);
  }

  /** Rate-limited: at most one warning per interval, only when something new was lost. */
  private warnOfNewLosses(): void {
    const a = this.accounting();
    if (!a) return;
    const total = totalLost(a.lost);
    if (total > this.lastReportedLost) {
      this.options.warn(`lost ${total - this.lastReportedLost} binds since the last report (so far: ${describeLosses(a.lost, a.exportFailures)})`);
      this.lastReportedLost = total;
    }
  }

  /** Stop reading (detach, drain), flush exports within the deadline, report. */
  async stop(): Promise<Accounting | undefined> {
    this.stopping = true;
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    if (this.lossTimer) clearInterval(this.lossTimer);
    if (this.podRefreshTimer) clearInterval(this.podRefreshTimer);
    if (this.mapSyncTimer) clearInterval(this.mapSyncTimer);
    await this.podWatch?.stop();
    if (!this.source) return undefined;
    await this.source.stop();
    if (this.otlp) await this.otlp.shutdown(this.options.config.otlp.shutdownTimeoutMillis);
    return this.accounting();
  }
}
