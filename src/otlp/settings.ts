import { parseKeyPairsIntoRecord } from '@opentelemetry/core';
import { readFileSync } from 'node:fs';
import { logsUrl } from '../config/load';
import type { AppConfig } from '../config/schema';
import { BindsnoopError } from '../model/errors';
import type { ExporterSettings } from './exporter';

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
