// Writes docs/CONFIGURATION.md, the reference of every configuration key, environment
// variable and flag, from the schema, the OTEL_ mappings and the CLI's help (after a build).
// `--check` writes nothing and exits 1 when the file is stale.
const { readFileSync, writeFileSync } = require('node:fs');
const path = require('node:path');
const { envName, OTHER_ENV, NON_KEY_ENV } = require('../dist/config/schema.js');
const { schemaLeaves } = require('../dist/config/load.js');
const { OTEL_MAPPINGS, OTEL_SWITCHES } = require('../dist/config/otel-env.js');
const { HELP } = require('../dist/cli/args.js');

const leaves = schemaLeaves().map((l) => [l.path, l.spec]);

const esc = (text) => String(text).replace(/\|/g, '\\|');
const accepts = (f) => {
  if (Array.isArray(f)) return f.map((v) => `\`${v}\``).join(', ');
  if (f === Boolean) return 'true, false';
  if (f === String) return 'text';
  const s = f && f.jsonSchema;
  if (!s) return '';
  if (s.enum && s.type === 'integer') return `a power of two from ${s.enum[0]} to ${s.enum.at(-1)}`;
  if (s.enum) return s.enum.map((v) => `\`${v}\``).join(', ');
  if (s.type === 'integer') return `${s.minimum} to ${s.maximum}`;
  if (s.type === 'array') return `up to ${s.maxItems} ports`;
  return s.type ?? '';
};
const otelFor = new Map();
for (const m of OTEL_MAPPINGS) otelFor.set(m.key, m.names);

const sections = [...new Set(leaves.map(([k]) => k.split('.')[0]))];
const out = [
  '# Configuration reference',
  '',
  '<!-- made by scripts/gen-config-doc.js from the configuration schema, the OTEL_ mappings and the help; a test checks it -->',
  '',
  'One schema, strict: an unknown key or a bad value stops bindsnoop before anything is loaded, naming every',
  'offending key (exit status 2). Precedence, lowest first: the defaults below, the configuration file (`-c FILE` or',
  '`BINDSNOOP_CONFIG`, YAML or JSON), the `OTEL_*` variables, the `BINDSNOOP_*` variables, the flags. Every key has',
  'its `BINDSNOOP_*` variable; some also have a standard `OTEL_*` one, which follows the OpenTelemetry SDK rules',
  '(case-insensitive values; an invalid one is warned about and ignored). A commented file with every key:',
  '[config/bindsnoop.example.yaml](../config/bindsnoop.example.yaml). The contract: [CONTRACT.md](CONTRACT.md), section 3.',
  '',
];
for (const section of sections) {
  out.push(`## ${section}`, '', '| key | environment | default | accepts | meaning |', '|---|---|---|---|---|');
  for (const [key, spec] of leaves.filter(([k]) => k.split('.')[0] === section)) {
    const env = [envName(key), ...(otelFor.get(key) ?? []), ...(OTHER_ENV[key] ?? [])].map((n) => `\`${n}\``).join('<br>');
    out.push(`| \`${key}\` | ${env} | \`${esc(JSON.stringify(spec.default))}\` | ${esc(accepts(spec.format))} | ${esc(spec.doc)} |`);
  }
  out.push('');
}
out.push(
  '## Other environment variables',
  '',
  ...[...NON_KEY_ENV].sort().map((n) => `- \`${n}\`${n === 'BINDSNOOP_CONFIG' ? ': the configuration file, as `-c`' : ': print libbpf\'s debug messages on stderr'}`),
  ...OTEL_SWITCHES.map((n) => `- \`${n}\`${n === 'OTEL_SDK_DISABLED' ? ': `true` turns export off' : ': `none` turns export off; `otlp` is the only exporter'}`),
  '',
  '## Flags',
  '',
  '```',
  HELP.trimEnd(),
  '```',
  '',
);
const text = out.join('\n');
const file = path.resolve(__dirname, '..', 'docs', 'CONFIGURATION.md');
if (process.argv.includes('--check')) {
  let current = '';
  try { current = readFileSync(file, 'utf8'); } catch {}
  if (current !== text) { process.stderr.write('stale: docs/CONFIGURATION.md (run npm run gen:config)\n'); process.exit(1); }
} else {
  writeFileSync(file, text);
}
