// Writes the Helm chart's values.schema.json and the values table of its
// README.md (after a build: the agent's configuration keys, their checks and
// docs come from dist/config/schema.js, so the chart refuses what the agent
// would). `--check` writes nothing and exits 1 when either file is stale.
const { readFileSync, writeFileSync } = require('node:fs');
const path = require('node:path');
const YAML = require('yaml');
const { schemaLeaves } = require('../dist/config/load.js');

const CHART = path.resolve(__dirname, '..', 'charts', 'bindsnoop-otel');
/** keys of the configuration that never go in plain values (a Secret carries them: otlpHeaders) */
const SECRET_KEYS = new Set(['otlp.headers']);

function leafSchema(spec) {
  const f = spec.format;
  let s;
  if (Array.isArray(f)) s = { enum: f };
  else if (f === Boolean) s = { type: 'boolean' };
  else if (f === String) s = { type: 'string' };
  else if (f === Number) s = { type: 'number' };
  else if (typeof f === 'function' && f.jsonSchema) s = { ...f.jsonSchema };
  else throw new Error(`a configuration key's format says nothing of what it accepts: ${spec.doc}`);
  return { description: spec.doc, ...s, default: spec.default };
}

const object = () => ({ type: 'object', additionalProperties: false, properties: {} });

/** the configuration as JSON Schema, from its keys (leaves: [dotted key, spec], in schema order) */
function configSchema(leaves) {
  const root = object();
  for (const [dotted, spec] of leaves) {
    const keys = dotted.split('.');
    let node = root;
    for (const key of keys.slice(0, -1)) node = node.properties[key] ??= object();
    node.properties[keys.at(-1)] = leafSchema(spec);
  }
  return root;
}

const str = (description) => ({ type: 'string', description });
const obj = (description) => ({ type: 'object', description });
const list = (description, items = {}) => ({ type: 'array', description, items });
const labels = { type: 'object', additionalProperties: { type: 'string' } };
const monitor = (what) => ({
  type: 'object',
  additionalProperties: false,
  description: what,
  properties: {
    enabled: { type: 'boolean', description: `Make the ${what.split(' ')[0]}.` },
    interval: { type: 'string', pattern: '^([0-9]+(ms|s|m|h))+$', description: 'Scrape interval.' },
    labels: { ...labels, description: 'Extra labels (what the Prometheus Operator selects on).' },
  },
});

function valuesSchema(config) {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'bindsnoop-otel chart values',
    type: 'object',
    additionalProperties: false,
    properties: {
      image: {
        type: 'object',
        additionalProperties: false,
        properties: {
          repository: { type: 'string', minLength: 1, description: "The agent's image." },
          tag: str("The image's tag; empty = the chart's appVersion."),
          pullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'], description: 'When the kubelet pulls the image.' },
        },
      },
      imagePullSecrets: list('Names of existing Secrets to pull the image with.', { type: 'string', minLength: 1 }),
      fullnameOverride: { type: 'string', maxLength: 63, description: "The objects' name; empty = the release's name." },
      config: { ...config, description: "The agent's configuration, as the ConfigMap's config.yaml (docs/CONFIGURATION.md). OTLP headers go in otlpHeaders." },
      otlpHeaders: {
        type: 'object',
        additionalProperties: false,
        description: 'OTLP request headers from an existing Secret (k1=v1,k2=v2, values URL-encoded), as BINDSNOOP_OTLP_HEADERS.',
        properties: {
          secretName: str("The Secret's name; empty = no headers."),
          secretKey: { type: 'string', minLength: 1, description: 'The key in the Secret holding the headers.' },
        },
      },
      serviceAccount: {
        type: 'object',
        additionalProperties: false,
        properties: {
          create: { type: 'boolean', description: 'Make the ServiceAccount.' },
          name: str("Its name; empty = the objects' name."),
          annotations: { ...labels, description: 'Its annotations (workload identity, say).' },
        },
      },
      rbac: {
        type: 'object',
        additionalProperties: false,
        properties: { create: { type: 'boolean', description: 'Make a ClusterRole that can list and watch pods, a Role that can list and watch this release\'s DaemonSet, and their bindings.' } },
      },
      resources: obj("The agent container's requests and limits."),
      tolerations: list('Where the agent may run; default: every node, tainted or not.', { type: 'object' }),
      nodeSelector: { ...labels, description: 'Only nodes with these labels.' },
      affinity: obj('Pod affinity rules.'),
      priorityClassName: str('A PriorityClass, so that the agent is not evicted before workloads.'),
      updateStrategy: {
        type: 'object',
        description: "The DaemonSet's update strategy.",
        properties: { type: { enum: ['RollingUpdate', 'OnDelete'] } },
      },
      terminationGracePeriodSeconds: { type: 'integer', minimum: 1, description: 'Time to flush on SIGTERM; keep it above config.otlp.shutdownTimeoutMillis.' },
      podAnnotations: { ...labels, description: "Annotations of the agent's pods." },
      podLabels: { ...labels, description: "Extra labels of the agent's pods." },
      seccompProfile: {
        description: 'RuntimeDefault, or Localhost with the shipped profile (k8s/seccomp/bindsnoop.json) on nodes whose default refuses bpf() without CAP_SYS_ADMIN. Unconfined is refused.',
        oneOf: [
          { type: 'object', additionalProperties: false, required: ['type'], properties: { type: { const: 'RuntimeDefault' } } },
          {
            type: 'object',
            additionalProperties: false,
            required: ['type', 'localhostProfile'],
            properties: { type: { const: 'Localhost' }, localhostProfile: { type: 'string', minLength: 1 } },
          },
        ],
      },
      extraEnv: list('More environment variables of the agent (BINDSNOOP_* and OTEL_* set configuration).', { type: 'object', required: ['name'] }),
      extraVolumes: list("More volumes of the agent's pods (an explicit opt-in: a hostPath here widens what it can read).", { type: 'object', required: ['name'] }),
      extraVolumeMounts: list("More mounts of the agent's container.", { type: 'object', required: ['name', 'mountPath'] }),
      serviceMonitor: monitor('ServiceMonitor (and a headless Service) scraping /metrics.'),
      podMonitor: monitor('PodMonitor scraping /metrics.'),
      prometheusRule: {
        type: 'object',
        additionalProperties: false,
        description: 'The alert and recording rules (files/alerts.yaml) as a PrometheusRule.',
        properties: {
          enabled: { type: 'boolean', description: 'Make the PrometheusRule.' },
          labels: { ...labels, description: 'Extra labels (what the Prometheus Operator selects on).' },
        },
      },
      networkPolicy: {
        type: 'object',
        additionalProperties: false,
        description: 'A NetworkPolicy that lets only these peers reach /healthz, /readyz and /metrics.',
        properties: {
          enabled: { type: 'boolean', description: 'Make the NetworkPolicy.' },
          from: list('NetworkPolicy peers (podSelector, namespaceSelector, ipBlock).', { type: 'object' }),
        },
      },
    },
  };
}

/** rows of the values table: every value, with the chart's default */
function valuesTable(schema, values, leaves) {
  const rows = ['| key | type | default | description |', '|---|---|---|---|'];
  const cell = (v) => (v === undefined ? '' : `\`${JSON.stringify(v)}\``.replace(/\|/g, '\\|'));
  const typeOf = (s) => (s.enum ? s.enum.map((e) => JSON.stringify(e)).join(', ') : s.type ?? (s.oneOf ? 'object' : ''));
  const walk = (s, value, key) => {
    if (key === 'config') {
      for (const [dotted, spec] of leaves) {
        const chartValue = dotted.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), value);
        const leaf = dotted.split('.').reduce((o, k) => o.properties[k], s);
        rows.push(`| \`config.${dotted}\` | ${typeOf(leaf)} | ${cell(chartValue ?? spec.default)} | ${spec.doc.replace(/\|/g, '\\|')} |`);
      }
      return;
    }
    if (s.type === 'object' && s.properties && key !== 'seccompProfile') {
      for (const [k, child] of Object.entries(s.properties)) walk(child, value?.[k], key ? `${key}.${k}` : k);
      return;
    }
    rows.push(`| \`${key}\` | ${typeOf(s)} | ${cell(value)} | ${(s.description ?? '').replace(/\|/g, '\\|')} |`);
  };
  walk(schema, values, '');
  return rows.join('\n');
}

const leaves = schemaLeaves()
  .filter((l) => !SECRET_KEYS.has(l.path))
  .map((l) => [l.path, l.spec]);
const schema = valuesSchema(configSchema(leaves));
const values = YAML.parse(readFileSync(path.join(CHART, 'values.yaml'), 'utf8'));
const schemaText = JSON.stringify(schema, null, 2) + '\n';
const readmePath = path.join(CHART, 'README.md');
const readme = readFileSync(readmePath, 'utf8');
const begin = '<!-- values table: node scripts/gen-chart.js -->\n';
const end = '<!-- end of values table -->';
const at = readme.indexOf(begin);
const stop = readme.indexOf(end);
if (at < 0 || stop < at) throw new Error(`${readmePath}: no values table markers`);
const readmeText = readme.slice(0, at + begin.length) + valuesTable(schema, values, leaves) + '\n' + readme.slice(stop);

const outputs = [
  [path.join(CHART, 'values.schema.json'), schemaText],
  [readmePath, readmeText],
];
if (process.argv.includes('--check')) {
  const stale = outputs.filter(([file, text]) => readFileSync(file, 'utf8') !== text).map(([file]) => path.relative(process.cwd(), file));
  if (stale.length) {
    process.stderr.write(`stale: ${stale.join(', ')} (run npm run gen:chart)\n`);
    process.exit(1);
  }
} else {
  for (const [file, text] of outputs) writeFileSync(file, text);
}
