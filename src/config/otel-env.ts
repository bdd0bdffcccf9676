import { httpUrlProblem, redactCredentials } from '../model/text';

/**
 * The OpenTelemetry SDK's environment variables, read as the specification
 * says an SDK reads them (sdk-environment-variables.md, common.md): an empty
 * value is unset; enum values are case-insensitive; an unknown enum value, an
 * unparseable or negative number is warned about and ignored (the default
 * applies); booleans are true only for "true" (any case); a timeout of 0 means
 * no limit; OTEL_RESOURCE_ATTRIBUTES with a decoding error is discarded whole.
 * Deployments set these in bulk, so a value the agent cannot use never stops
 * it. (BINDSNOOP_ variables, flags and the configuration file stay strict.)
 * Pure.
 */


type Kind = 'text' | 'url' | 'protocol' | 'compression' | 'timeout' | 'millis' | 'count' | 'limit' | 'resource';

interface Mapping {
  /** the configuration key the variable sets */
  key: string;
  /** the variables, the first one set wins (signal-specific before generic) */
  names: readonly string[];
  kind: Kind;
}

/** Every OTEL_ variable that maps onto a configuration key, declared once. */
export const OTEL_MAPPINGS: readonly Mapping[] = [
  { key: 'otlp.endpoint', names: ['OTEL_EXPORTER_OTLP_ENDPOINT'], kind: 'url' },
  { key: 'otlp.logsEndpoint', names: ['OTEL_EXPORTER_OTLP_LOGS_ENDPOINT'], kind: 'url' },
  { key: 'otlp.protocol', names: ['OTEL_EXPORTER_OTLP_LOGS_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL'], kind: 'protocol' },
  { key: 'otlp.headers', names: ['OTEL_EXPORTER_OTLP_LOGS_HEADERS', 'OTEL_EXPORTER_OTLP_HEADERS'], kind: 'text' },
  { key: 'otlp.compression', names: ['OTEL_EXPORTER_OTLP_LOGS_COMPRESSION', 'OTEL_EXPORTER_OTLP_COMPRESSION'], kind: 'compression' },
  // the exporter's timeout, else the batch processor's export timeout
  { key: 'otlp.timeoutMillis', names: ['OTEL_EXPORTER_OTLP_LOGS_TIMEOUT', 'OTEL_EXPORTER_OTLP_TIMEOUT', 'OTEL_BLRP_EXPORT_TIMEOUT'], kind: 'timeout' },
  { key: 'otlp.certificate', names: ['OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE', 'OTEL_EXPORTER_OTLP_CERTIFICATE'], kind: 'text' },
  { key: 'otlp.clientCertificate', names: ['OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE', 'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE'], kind: 'text' },
  { key: 'otlp.clientKey', names: ['OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY', 'OTEL_EXPORTER_OTLP_CLIENT_KEY'], kind: 'text' },
  { key: 'otlp.flushIntervalMillis', names: ['OTEL_BLRP_SCHEDULE_DELAY'], kind: 'millis' },
  { key: 'otlp.maxQueueSize', names: ['OTEL_BLRP_MAX_QUEUE_SIZE'], kind: 'count' },
  { key: 'otlp.maxExportBatchSize', names: ['OTEL_BLRP_MAX_EXPORT_BATCH_SIZE'], kind: 'count' },
  { key: 'otlp.attributeCountLimit', names: ['OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT', 'OTEL_ATTRIBUTE_COUNT_LIMIT'], kind: 'limit' },
  { key: 'otlp.attributeValueLengthLimit', names: ['OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT', 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT'], kind: 'limit' },
  { key: 'service.name', names: ['OTEL_SERVICE_NAME'], kind: 'text' },
  { key: 'service.resourceAttributes', names: ['OTEL_RESOURCE_ATTRIBUTES'], kind: 'resource' },
];

/** Variables of the SDK the agent reads for what they switch (not a configuration key). */
export const OTEL_SWITCHES = ['OTEL_SDK_DISABLED', 'OTEL_LOGS_EXPORTER'] as const;

/**
 * What an exporter or SDK may be given that does not apply to this agent:
 * named in one warning each, never an error.
 */
const ENUMS: Partial<Record<Kind, readonly string[]>> = {
  protocol: ['http/protobuf', 'http/json'],
  compression: ['gzip', 'none'],
};

/** What the SDK's variables ask of the agent. */
export interface OtelEnvironment {
  /** configuration key -> value and the variable it came from */
  values: Map<string, { value: unknown; from: string }>;
  /** export turned off by OTEL_SDK_DISABLED=true or OTEL_LOGS_EXPORTER=none: the variable that did it */
  exportOff?: string;
  /** OTEL_LOGS_EXPORTER=console: each record as a JSON line on stdout (-o json) */
  console: boolean;
  /** one line each: a value ignored and why, or a variable the agent does not support */
  warnings: string[];
}

/** The largest timeout the configuration takes: what "no limit" (0) becomes. */
export const NO_LIMIT_TIMEOUT_MILLIS = 600_000;

/** k=v pairs percent-decoded as the spec says, or undefined on any decoding error (the whole value is then discarded). */
export function decodeResourceAttributes(text: string): string | undefined {
  const pairs: string[] = [];
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    try {
      const key = decodeURIComponent(part.slice(0, eq).trim());
      const value = decodeURIComponent(part.slice(eq + 1).trim());
      if (!key) return undefined;
      // kept in the agent's k=v form, re-encoded so a decoded ',' or '=' stays one value
      pairs.push(`${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
    } catch {
      return undefined;
    }
  }
  return pairs.join(',');
}

function parse(kind: Kind, name: string, raw: string): { value?: unknown; warning?: string } {
  const text = raw.trim();
  const choices = ENUMS[kind];
  if (choices) {
    const value = text.toLowerCase();
    if (choices.includes(value)) return { value };
    return { warning: `${name}: '${text.slice(0, 40)}' is not one of ${choices.join(', ')}; ignored (the default applies)` };
  }
  if (kind === 'timeout' || kind === 'millis' || kind === 'count' || kind === 'limit') {
    const unit = kind === 'count' ? 'records' : kind === 'limit' ? '(a limit)' : 'milliseconds';
    if (!/^\d+$/.test(text)) return { warning: `${name}: '${text.slice(0, 40)}' is not a whole number ${unit} of 0 or more; ignored (the default applies)` };
    const n = Number(text);
    if (kind === 'timeout') return { value: n === 0 ? NO_LIMIT_TIMEOUT_MILLIS : Math.min(n, NO_LIMIT_TIMEOUT_MILLIS) };
    if (n === 0 && kind !== 'limit') return { warning: `${name}: 0 is not allowed here; ignored (the default applies)` };
    return { value: n };
  }
  if (kind === 'url') {
    // a URL's user and password never reach a message
    const problem = httpUrlProblem(text);
    if (problem) return { warning: `${name}: '${redactCredentials(text.slice(0, 200))}' ${problem}; ignored` };
    return { value: text };
  }
  if (kind === 'resource') {
    const decoded = decodeResourceAttributes(text);
    if (decoded === undefined) return { warning: `${name}: a pair is not key=value or does not decode (percent-encoding); the whole value is discarded, as the specification says` };
    return { value: decoded };
  }
  return { value: raw };
}

/** Reads the OTEL_ variables of `env` by the specification's rules. Pure. */
export function readOtelEnvironment(env: NodeJS.ProcessEnv): OtelEnvironment {
  const out: OtelEnvironment = { values: new Map(), console: false, warnings: [] };
  const known = new Set<string>(OTEL_SWITCHES);
  for (const m of OTEL_MAPPINGS) {
    for (const name of m.names) known.add(name);
    for (const name of m.names) {
      const raw = env[name];
      if (raw === undefined || raw === '') continue; // empty is unset
      const { value, warning } = parse(m.kind, name, raw);
      if (warning) {
        out.warnings.push(warning);
        continue; // the next variable of the list, or the default
      }
      out.values.set(m.key, { value, from: name });
      break;
    }
  }
  const disabled = env.OTEL_SDK_DISABLED?.trim();
  if (disabled) {
    if (disabled.toLowerCase() === 'true') out.exportOff = 'OTEL_SDK_DISABLED';
    else if (disabled.toLowerCase() !== 'false') out.warnings.push(`OTEL_SDK_DISABLED: '${disabled.slice(0, 40)}' is not true or false; taken as false`);
  }
  const exporter = env.OTEL_LOGS_EXPORTER?.trim().toLowerCase();
  if (exporter) {
    // a list is allowed; the agent has one exporter of each kind
    const names = exporter.split(',').map((s) => s.trim()).filter(Boolean);
    for (const n of names) if (!['otlp', 'console', 'none'].includes(n)) out.warnings.push(`OTEL_LOGS_EXPORTER: '${n.slice(0, 40)}' is not otlp, console or none; ignored`);
    const valid = names.filter((n) => ['otlp', 'console', 'none'].includes(n));
    if (valid.includes('console')) out.console = true;
    // the exporters asked for, and otlp not among them: no OTLP export
    if (valid.length > 0 && !valid.includes('otlp')) out.exportOff ??= 'OTEL_LOGS_EXPORTER';
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith('OTEL_') && !known.has(name) && env[name] !== '') {
      out.warnings.push(`${name} is not supported by bindsnoop; ignored`);
    }
  }
  return out;
}
