import { parseHeaders } from '../config/headers';
import { logsUrl } from '../config/load';
import type { AppConfig } from '../config/schema';
import { BindsnoopError } from '../model/errors';
import { readSmallFile, type SmallFileError } from '../host/small-file';
import type { ExporterSettings } from './exporter';

/** A PEM file is at most this large (a chain of a few certificates is a few KiB). */
const MAX_PEM_BYTES = 1 << 20;

/** A PEM file's text, checked at start to hold what it should (a certificate, or a private key). */
function readPem(key: string, path: string, what: 'certificate' | 'key'): string | undefined {
  if (!path) return undefined;
  let text: string;
  try {
    text = readSmallFile(path, MAX_PEM_BYTES).toString('utf8');
  } catch (e) {
    const reason = (e as SmallFileError).reason;
    const why = /^[A-Z]+$/.test(reason) ? `cannot read ${path} (${reason})` : `${path} is ${reason}: give the path of a PEM file`;
    throw new BindsnoopError('CONFIG', `invalid configuration:\n  ${key}: ${why}`);
  }
  const ok = what === 'certificate' ? /-----BEGIN CERTIFICATE-----/.test(text) : /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text);
  if (!ok) throw new BindsnoopError('CONFIG', `invalid configuration:\n  ${key}: ${path} holds no PEM ${what === 'certificate' ? 'certificate' : 'private key'} (-----BEGIN ...-----)`);
  return text;
}

/** Exporter settings from validated configuration; reads the PEM files (CONFIG errors, before anything loads). */
export function exporterSettings(config: AppConfig, version: string): ExporterSettings | undefined {
  const url = logsUrl(config);
  if (!url) return undefined;
  const o = config.otlp;
  return {
    url,
    protocol: o.protocol,
    headers: parseHeaders(o.headers),
    compression: o.compression,
    timeoutMillis: o.timeoutMillis,
    ca: readPem('otlp.certificate', o.certificate, 'certificate'),
    cert: readPem('otlp.clientCertificate', o.clientCertificate, 'certificate'),
    key: readPem('otlp.clientKey', o.clientKey, 'key'),
    userAgent: `bindsnoop-otel/${version}`,
  };
}
