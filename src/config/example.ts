import { OTEL_MAPPINGS } from './otel-env';
import { envName, OTHER_ENV, SCHEMA } from './schema';

/**
 * config/bindsnoop.example.yaml, generated from the schema: every key with its
 * documentation, default and environment variables. A unit test checks that the
 * committed file is what this produces (`npm run gen:config` rewrites it).
 */
export function exampleConfigYaml(): string {
  const lines = [
    '# bindsnoop configuration: every key, with its default.',
    '# Precedence, lowest first: these defaults, this file (-c FILE or BINDSNOOP_CONFIG),',
    '# the environment, command-line flags. Generated from src/config/schema.ts.',
  ];
  const walk = (node: Record<string, unknown>, prefix: string, indent: string): void => {
    for (const [key, value] of Object.entries(node)) {
      const path = prefix ? `${prefix}.${key}` : key;
      const spec = value as { doc?: string; default?: unknown; sensitive?: boolean };
      if (spec && typeof spec === 'object' && 'doc' in spec && 'default' in spec) {
        lines.push(`${indent}# ${spec.doc}`);
        const vars = [envName(path), ...(OTHER_ENV[path] ?? []), ...(OTEL_MAPPINGS.find((m) => m.key === path)?.names ?? [])];
        lines.push(`${indent}# env: ${vars.join(', ')}`);
        lines.push(`${indent}${key}: ${JSON.stringify(spec.default)}`);
      } else {
        if (indent === '') lines.push('');
        lines.push(`${indent}${key}:`);
        walk(value as Record<string, unknown>, path, `${indent}  `);
      }
    }
  };
  walk(SCHEMA as unknown as Record<string, unknown>, '', '');
  return lines.join('\n') + '\n';
}
