import convict from 'convict';
import { parse as parseYaml } from 'yaml';
import { BindsnoopError } from '../model/errors';
import { httpUrlProblem, redactCredentials } from '../model/text';
import { readSmallFile, type SmallFileError } from '../host/small-file';
import { readOtelEnvironment } from './otel-env';
import { envName, NON_KEY_ENV, OTHER_ENV, SCHEMA, type AppConfig } from './schema';

export type FlagValues = Partial<Record<string, unknown>>;

export interface ConfigSources {
  /** -c FILE, else BINDSNOOP_CONFIG */
  file?: string;
  env: NodeJS.ProcessEnv;
  /** key path -> value, only for flags given on the command line */
  flags: FlagValues;
  /** where the OTEL_ variables' warnings go (values ignored, variables not supported) */
  warn?: (line: string) => void;
}

interface Leaf {
  path: string;
  kind: 'number' | 'boolean' | 'string' | 'ports' | 'paths';
  sensitive: boolean;
  /** the key's schema entry: its doc, default and format */
  spec: { doc: string; default: unknown; format?: unknown; sensitive?: boolean };
}

/** Every key of the schema with the type its environment value is read as. */
export function schemaLeaves(): Leaf[] {
  const leaves: Leaf[] = [];
  const walk = (node: Record<string, unknown>, prefix: string): void => {
    for (const [key, value] of Object.entries(node)) {
      const path = prefix ? `${prefix}.${key}` : key;
      const spec = value as Leaf['spec'];
      if (spec && typeof spec === 'object' && 'doc' in spec && 'default' in spec) {
        const d = spec.default;
        // a list of strings says so in its format's JSON Schema; the other lists are of ports
        const listOf = (spec.format as { jsonSchema?: { items?: { type?: string } } } | undefined)?.jsonSchema?.items?.type;
        const kind = Array.isArray(d) ? (listOf === 'string' ? 'paths' : 'ports') : typeof d === 'number' ? 'number' : typeof d === 'boolean' ? 'boolean' : 'string';
        leaves.push({ path, kind, sensitive: spec.sensitive === true, spec });
      } else {
        walk(value as Record<string, unknown>, path);
      }
    }
  };
  walk(SCHEMA as unknown as Record<string, unknown>, '');
  return leaves;
}

function coerce(kind: Leaf['kind'], raw: string): { value?: unknown; error?: string } {
  const text = raw.trim();
  switch (kind) {
    case 'number': {
      if (!/^-?\d+$/.test(text)) return { error: `'${raw}' is not a whole number` };
      return { value: Number(text) };
    }
    case 'boolean':
      if (/^(true|1|yes)$/i.test(text)) return { value: true };
      if (/^(false|0|no)$/i.test(text)) return { value: false };
      return { error: `'${raw}' is not true or false` };
    case 'ports': {
      if (text === '') return { value: [] };
      const parts = text.split(',').map((p) => p.trim());
      if (!parts.every((p) => /^\d+$/.test(p))) return { error: `'${raw}' is not a comma-separated list of ports` };
      return { value: parts.map(Number) };
    }
    case 'paths':
      // paths hold no commas in practice; a file or flag takes any
      return { value: text === '' ? [] : text.split(',').map((p) => p.trim()) };
    default:
      return { value: raw };
  }
}

const MAX_CONFIG_BYTES = 1 << 20;

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readSmallFile(file, MAX_CONFIG_BYTES).toString('utf8');
  } catch (e) {
    const { reason, size } = e as SmallFileError;
    if (reason === 'not a regular file') throw new BindsnoopError('CONFIG', `config file ${file} is not a regular file: give the path of a JSON or YAML file`);
    if (reason.startsWith('larger than')) throw new BindsnoopError('CONFIG', `config file ${file} is ${size ?? 'more than that'} bytes: a configuration is at most ${MAX_CONFIG_BYTES} bytes`);
    throw new BindsnoopError('CONFIG', `cannot read config file ${file} (${reason}): give the path of a JSON or YAML file`);
  }
  try {
    // YAML is a superset of JSON: one parser reads both
    const parsed: unknown = parseYaml(text);
    if (parsed === null || parsed === undefined) return {};
    if (!isMapping(parsed)) throw new Error('the top level must be a mapping of keys');
    return parsed;
  } catch (e) {
    throw new BindsnoopError('CONFIG', `config file ${file} is not valid JSON or YAML: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** What a value from a file looks like, for messages: "a number (9090)", "a list", "binary data". */
function describeValue(value: unknown, secret: boolean): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Uint8Array) return 'binary data';
  if (typeof value === 'object') return 'a section';
  const shown = secret ? '' : ` (${JSON.stringify(value)})`;
  return `${typeof value === 'number' ? 'a number' : typeof value === 'boolean' ? 'true/false' : 'a string'}${shown}`;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** The JavaScript types a leaf of this kind takes from a file (kubernetes.api.enabled also takes true/false). */
function shapeOk(leaf: Leaf, value: unknown): boolean {
  switch (leaf.kind) {
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'ports':
      return Array.isArray(value) && value.every((p) => typeof p === 'number');
    case 'paths':
      return Array.isArray(value) && value.every((p) => typeof p === 'string');
    default:
      return typeof value === 'string' || (leaf.path === 'kubernetes.api.enabled' && typeof value === 'boolean');
  }
}

const WANTED: Record<Leaf['kind'], string> = {
  number: 'a number',
  boolean: 'true or false',
  ports: 'a list of port numbers',
  paths: 'a list of paths',
  string: 'a string',
};

/**
 * Checks the shape of a parsed file against the schema before convict sees it:
 * unknown keys, a scalar or list where a section belongs, a value of the wrong
 * type where a key belongs. Returns the problems and the file with every
 * misshapen part removed (so that convict only ever sees well-shaped values).
 */
function checkShape(obj: Record<string, unknown>, file: string, leaves: Map<string, Leaf>): { problems: string[]; clean: Record<string, unknown> } {
  const problems: string[] = [];
  const walk = (node: Record<string, unknown>, schema: Record<string, unknown>, prefix: string): Record<string, unknown> => {
    const clean: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      const path = prefix ? `${prefix}.${key}` : key;
      const spec = schema[key] as Record<string, unknown> | undefined;
      const leaf = leaves.get(path);
      if (!spec) {
        problems.push(`${path} (in ${file}): not a configuration key`);
      } else if (leaf) {
        if (shapeOk(leaf, value)) clean[key] = value;
        else problems.push(`${path} (in ${file}): must be ${WANTED[leaf.kind]}, not ${describeValue(value, leaf.sensitive)}`);
      } else if (!isMapping(value)) {
        problems.push(`${path} (in ${file}): must be a section (a mapping of keys such as ${Object.keys(spec).slice(0, 2).map((k) => `${path}.${k}`).join(', ')}), not ${describeValue(value, false)}`);
      } else {
        clean[key] = walk(value, spec, path);
      }
    }
    return clean;
  };
  return { problems, clean: walk(obj, SCHEMA as unknown as Record<string, unknown>, '') };
}

/** Why the key's format refuses the value (its own words), or undefined when it takes it. */
function formatRefuses(leaf: Leaf, value: unknown): string | undefined {
  const format = leaf.spec.format;
  if (typeof format !== 'function') return undefined;
  try {
    (format as (v: unknown) => void)(value);
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

function checkUrl(problems: string[], key: string, value: string, from: string | undefined): void {
  const problem = value ? httpUrlProblem(value) : undefined;
  if (problem) problems.push(`${key}${from ? ` (from ${from})` : ''}: '${value}' ${problem}`);
}

/** The proxy variables other tools follow; the agent connects directly, and says so rather than ignore them silently. */
const PROXY_ENV = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'] as const;

/**
 * Defaults < file < environment < flags. Throws one CONFIG error naming every
 * bad key and why; secrets (sensitive keys) never appear in it.
 */
export function loadConfig(sources: ConfigSources): AppConfig {
  const config = convict<AppConfig>(SCHEMA, { env: {}, args: [] });
  const problems: string[] = [];
  const origin = new Map<string, string>();
  const leaves = schemaLeaves();
  const sensitive = new Set(leaves.filter((l) => l.sensitive).map((l) => l.path));

  const file = sources.file ?? sources.env.BINDSNOOP_CONFIG;
  if (file) {
    const parsed = readConfigFile(file);
    const shape = checkShape(parsed, file, new Map(leaves.map((l) => [l.path, l])));
    problems.push(...shape.problems);
    config.load(shape.clean as Partial<AppConfig>);
    for (const leaf of leaves) origin.set(leaf.path, file);
  }

  const known = new Set(leaves.map((l) => envName(l.path)));
  for (const name of Object.keys(sources.env)) {
    if (name.startsWith('BINDSNOOP_') && !known.has(name) && !NON_KEY_ENV.has(name)) {
      problems.push(`${name}: not a configuration variable (each key a.bCd is BINDSNOOP_A_B_CD)`);
    }
  }
  // the SDK's variables by the specification's rules (warned about, never fatal), below the BINDSNOOP_ ones
  const otel = readOtelEnvironment(sources.env);
  for (const line of otel.warnings) sources.warn?.(line);
  if (otel.console) otel.values.set('output.format', { value: 'json', from: 'OTEL_LOGS_EXPORTER' });
  for (const leaf of leaves) {
    const strict = [envName(leaf.path), ...(OTHER_ENV[leaf.path] ?? [])].find((n) => sources.env[n] !== undefined && sources.env[n] !== '');
    const fromOtel = otel.values.get(leaf.path);
    if (strict && (strict === envName(leaf.path) || !fromOtel)) {
      const { value, error } = coerce(leaf.kind, sources.env[strict] as string);
      if (error) problems.push(`${leaf.path} (from ${strict}): ${leaf.sensitive ? 'invalid value' : error}`);
      else {
        config.set(leaf.path as never, value as never);
        origin.set(leaf.path, strict);
      }
    } else if (fromOtel) {
      // a number out of the key's range: warned about and ignored, as the specification has an SDK do with a value it
      // cannot use (a malformed header stays an error: it is refused, not sent)
      const refused = leaf.kind === 'number' ? formatRefuses(leaf, fromOtel.value) : undefined;
      if (refused) {
        sources.warn?.(`${fromOtel.from}: '${String(fromOtel.value).slice(0, 40)}' ${refused}; ignored (the default applies)`);
        continue;
      }
      config.set(leaf.path as never, fromOtel.value as never);
      origin.set(leaf.path, fromOtel.from);
    }
  }
  if (otel.exportOff) {
    sources.warn?.(`${otel.exportOff} turns OTLP export off`);
    config.set('otlp.endpoint' as never, '' as never);
    config.set('otlp.logsEndpoint' as never, '' as never);
  }

  for (const [path, value] of Object.entries(sources.flags)) {
    if (value === undefined) continue;
    config.set(path as never, value as never);
    origin.set(path, 'command line');
  }

  try {
    config.validate({ allowed: 'warn', output: () => undefined });
  } catch (e) {
    for (const line of (e as Error).message.split('\n')) {
      if (!line.trim()) continue;
      const m = /^([\w.]+): (.*)$/.exec(line.trim());
      if (!m) {
        // every complaint reaches the user, in convict's words when it names no key
        problems.push(line.trim());
        continue;
      }
      const [, key, rest] = m;
      const from = origin.get(key);
      // convict appends ': value was "..."'; a secret's value is never shown
      const reason = sensitive.has(key) ? rest.replace(/: value was .*$/, '') : rest;
      problems.push(`${key}${from ? ` (from ${from})` : ''}: ${reason}`);
    }
  }

  const props = config.getProperties();
  checkUrl(problems, 'otlp.endpoint', props.otlp.endpoint, origin.get('otlp.endpoint'));
  checkUrl(problems, 'otlp.logsEndpoint', props.otlp.logsEndpoint, origin.get('otlp.logsEndpoint'));
  const api = props.kubernetes.api;
  if (String(api.enabled) === 'true' && !api.kubeconfig && !sources.env.KUBERNETES_SERVICE_HOST) {
    const from = origin.get('kubernetes.api.enabled');
    problems.push(
      `kubernetes.api.enabled${from ? ` (from ${from})` : ''}: true, but there is no kubeconfig (kubernetes.api.kubeconfig, KUBECONFIG) and this is not a pod of a cluster (no KUBERNETES_SERVICE_HOST); set auto or false, or give a kubeconfig`,
    );
  }
  if (problems.length > 0) {
    throw new BindsnoopError('CONFIG', redactCredentials(`invalid configuration:\n  ${problems.join('\n  ')}`));
  }
  const proxy = PROXY_ENV.find((n) => sources.env[n]);
  if (proxy && logsUrl(props)) sources.warn?.(`${proxy} is set: bindsnoop does not export through a proxy; it connects to the OTLP endpoint directly`);
  return props;
}

/**
 * The logs URL export goes to, or undefined when export is off: the logs
 * endpoint as given; else the base endpoint with `v1/logs` appended to its
 * path (after one `/` when the path does not end in one), its query and
 * everything else unchanged, as the OTLP exporter specification builds it.
 */
export function logsUrl(config: AppConfig): string | undefined {
  if (config.otlp.logsEndpoint) return config.otlp.logsEndpoint;
  if (!config.otlp.endpoint) return undefined;
  let url: URL;
  try {
    url = new URL(config.otlp.endpoint);
  } catch {
    return config.otlp.endpoint; // refused as a URL by the configuration check
  }
  url.pathname += url.pathname.endsWith('/') ? 'v1/logs' : '/v1/logs';
  return url.toString();
}
