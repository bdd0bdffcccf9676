import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { rfc3339Nanos } from '../../src/naming/time';
import { freePort, peerBinary } from './peers';
import { waitUntil } from './wait';

/*
 * The OpenTelemetry Collector as a real peer: built from its own modules by
 * test/peers/build.sh (test/peers/collector: the otlp receiver, batch and
 * memory_limiter processors, debug, otlp_http and file exporters,
 * bearertokenauth), started here on a free loopback port with a given
 * configuration, and read back through what its file exporter wrote.
 */
/** The Collector's binary, built once (and cached by the hash of its go.sum). */
export function collectorBinary(): string {
  return peerBinary('collector');
}

/** The Collector's own version line (for the test log). */
export function collectorVersion(): string {
  return spawnSync(collectorBinary(), ['--version'], { encoding: 'utf8' }).stdout.trim();
}

/** `validate` of a configuration file: exit status and what it said. */
export function validateConfig(file: string): { status: number | null; output: string } {
  const run = spawnSync(collectorBinary(), ['validate', `--config=${file}`], { encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

export interface CollectorOptions {
  /** the otlp receiver's http protocol settings beyond its endpoint (tls, auth, ...) */
  http?: Record<string, unknown>;
  /** extensions by id, and which the service starts */
  extensions?: Record<string, unknown>;
  /** processors of the logs pipeline, by id, in order */
  processors?: Record<string, unknown>;
  /** the port to listen on (a restart on the same port); a free one by default */
  port?: number;
  /** how the agent reaches it: https when the receiver has tls */
  scheme?: 'http' | 'https';
}

/**
 * One Collector: OTLP/HTTP in on 127.0.0.1, the logs pipeline to the file
 * exporter (OTLP/JSON, one request a line, flushed every 100 ms).
 */
export class Collector {
  private stderrText = '';

  private constructor(
    readonly proc: ChildProcess,
    readonly port: number,
    readonly dir: string,
    private out: string,
    private readonly scheme: 'http' | 'https',
  ) {
    proc.stderr?.on('data', (d: Buffer) => (this.stderrText += d.toString('utf8')));
  }

  static async start(options: CollectorOptions = {}): Promise<Collector> {
    const binary = collectorBinary();
    const port = options.port ?? (await freePort());
    const dir = mkdtempSync(path.join(tmpdir(), 'bindsnoop-otelcol-'));
    const out = path.join(dir, 'logs.jsonl');
    const config = {
      receivers: { otlp: { protocols: { http: { endpoint: `127.0.0.1:${port}`, ...options.http } } } },
      processors: options.processors ?? {},
      exporters: { file: { path: out, format: 'json', flush_interval: '100ms' } },
      extensions: options.extensions ?? {},
      service: {
        extensions: Object.keys(options.extensions ?? {}),
        // nothing else listens: the Collector's own metrics are off
        telemetry: { metrics: { level: 'none' }, logs: { level: 'info' } },
        pipelines: { logs: { receivers: ['otlp'], processors: Object.keys(options.processors ?? {}), exporters: ['file'] } },
      },
    };
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, stringify(config));
    const proc = spawn(binary, [`--config=${file}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    const collector = new Collector(proc, port, dir, out, options.scheme ?? 'http');
    let exited = false;
    proc.on('exit', () => (exited = true));
    await waitUntil('the Collector to listen', () => {
      if (exited) throw new Error(`the Collector exited: ${collector.stderr.slice(-2000)}`);
      return collector.stderr.includes('Everything is ready');
    }, 30_000);
    return collector;
  }

  get url(): string {
    return `${this.scheme}://127.0.0.1:${this.port}`;
  }

  get stderr(): string {
    return this.stderrText;
  }

  /**
   * What the file exporter wrote: one ExportLogsServiceRequest (OTLP/JSON) a line. Every line ended by its newline
   * must parse; the text after the last newline is a line still being written, or one a SIGKILL tore (the kernel
   * ends a large write short on a fatal signal): taken when whole, left out when not, its request unanswered and
   * so sent again by the agent.
   */
  requests(): OtlpJsonRequest[] {
    if (!existsSync(this.out)) return [];
    const lines = readFileSync(this.out, 'utf8').split('\n');
    const tail = lines.pop() ?? '';
    const requests = lines.filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as OtlpJsonRequest);
    if (tail.trim() !== '') {
      try {
        requests.push(JSON.parse(tail) as OtlpJsonRequest);
      } catch {
        // not whole yet, or never to be
      }
    }
    return requests;
  }

  /** Every log record written, with its resource and scope. */
  records(): CollectedRecord[] {
    return collectedRecords(this.requests());
  }

  /**
   * Stops it; its directory is removed, or moved to `keepIn` (its output then still read by records()).
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', keepIn?: string): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill(signal);
      await exited;
    }
    if (keepIn && existsSync(this.out)) {
      renameSync(this.out, path.join(keepIn, 'logs.jsonl'));
      this.out = path.join(keepIn, 'logs.jsonl');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface OtlpJsonKeyValue {
  key: string;
  value: OtlpJsonValue;
}
export interface OtlpJsonValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values?: OtlpJsonValue[] };
  kvlistValue?: { values?: OtlpJsonKeyValue[] };
  bytesValue?: string;
}
export interface OtlpJsonRecord {
  timeUnixNano?: string;
  observedTimeUnixNano?: string;
  severityNumber?: number;
  severityText?: string;
  body?: OtlpJsonValue;
  attributes?: OtlpJsonKeyValue[];
  droppedAttributesCount?: number;
  eventName?: string;
}
export interface OtlpJsonRequest {
  resourceLogs?: {
    resource?: { attributes?: OtlpJsonKeyValue[]; droppedAttributesCount?: number };
    schemaUrl?: string;
    scopeLogs?: { scope?: { name?: string; version?: string; attributes?: OtlpJsonKeyValue[] }; schemaUrl?: string; logRecords?: OtlpJsonRecord[] }[];
  }[];
}
export interface CollectedRecord {
  resource: { attributes?: OtlpJsonKeyValue[]; droppedAttributesCount?: number };
  resourceSchemaUrl?: string;
  scope: { name?: string; version?: string; attributes?: OtlpJsonKeyValue[] };
  scopeSchemaUrl?: string;
  record: OtlpJsonRecord;
}

/** The log records of these requests, each with its resource and scope. Pure. */
export function collectedRecords(requests: readonly OtlpJsonRequest[]): CollectedRecord[] {
  const out: CollectedRecord[] = [];
  for (const request of requests) {
    for (const rl of request.resourceLogs ?? []) {
      for (const sl of rl.scopeLogs ?? []) {
        for (const lr of sl.logRecords ?? []) out.push({ resource: rl.resource ?? {}, resourceSchemaUrl: rl.schemaUrl, scope: sl.scope ?? {}, scopeSchemaUrl: sl.schemaUrl, record: lr });
      }
    }
  }
  return out;
}

/** A record as `-o json` prints it: its time, then its resource's, its scope's and its own attributes, flat. Pure. */
export function asPrinted(c: CollectedRecord): Record<string, unknown> {
  return {
    time: rfc3339Nanos(BigInt(c.record.timeUnixNano ?? '0')),
    ...plainAttributes(c.resource.attributes),
    ...plainAttributes(c.scope.attributes),
    ...plainAttributes(c.record.attributes),
  };
}

/** An OTLP/JSON value as the plain JSON value `-o json` prints for it (64-bit integers as numbers). Pure. */
export function plainValue(v: OtlpJsonValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(plainValue);
  if (v.kvlistValue !== undefined) return plainAttributes(v.kvlistValue.values);
  if (v.bytesValue !== undefined) return v.bytesValue;
  // an empty AnyValue: a string attribute of "" is written without a field by some encoders
  return '';
}

/** Attributes as a plain object. Pure. */
export function plainAttributes(kvs: OtlpJsonKeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((kvs ?? []).map((kv) => [kv.key, plainValue(kv.value)]));
}

/** The OTLP/JSON type of each attribute: stringValue, intValue, ... Pure. */
export function attributeTypes(kvs: OtlpJsonKeyValue[] | undefined): Record<string, string> {
  return Object.fromEntries((kvs ?? []).map((kv) => [kv.key, Object.keys(kv.value)[0] ?? 'empty']));
}
