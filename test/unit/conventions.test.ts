import * as stable from '@opentelemetry/semantic-conventions';
import * as incubating from '@opentelemetry/semantic-conventions/incubating';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { bindAttributes } from '../../src/naming/bind-attributes';
import { containerImageAttributes } from '../../src/kubernetes/container-image';
import { workloadService } from '../../src/kubernetes/service-name';
import { ownerAttributes } from '../../src/kubernetes/pod-api';
import { addr4, makeEvent } from './events';

/**
 * Every attribute a record carries is either the semantic conventions' own
 * (the registry, as @opentelemetry/semantic-conventions publishes it, stable
 * or incubating) or in bindsnoop's namespace: no name of our own outside it.
 */
const REGISTRY = new Set<string>(
  [...(Object.entries(stable) as [string, unknown][]), ...(Object.entries(incubating) as [string, unknown][])]
    .filter(([name, value]) => name.startsWith('ATTR_') && typeof value === 'string')
    .map(([, value]) => value as string),
);

/**
 * The names the registry has deprecated, from the package's own declarations
 * (`@deprecated` in the doc comment of each ATTR_ constant): not exported at
 * run time, so read from its type declarations.
 */
function deprecatedNames(): Set<string> {
  const out = new Set<string>();
  const dir = path.join(path.dirname(require.resolve('@opentelemetry/semantic-conventions')));
  for (const file of ['stable_attributes.d.cts', 'experimental_attributes.d.cts']) {
    const text = readFileSync(path.join(dir, file), 'utf8');
    for (const m of text.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*declare const ATTR_\w+: "([^"]+)";/g)) if (m[1].includes('@deprecated')) out.add(m[2]);
  }
  return out;
}

describe('the record\'s attribute names', () => {
  it('include none the registry has deprecated, on the record or on a pod\'s resource', () => {
    const deprecated = deprecatedNames();
    expect(deprecated.has('container.runtime')).toBe(true); // the reading works: a name known to be deprecated
    const record = Object.keys(bindAttributes(makeEvent({ args: Buffer.from('a\0'), argsFlags: 0 }), 'eth0', 1n));
    const resource = [
      ...Object.keys(containerImageAttributes({ image: 'docker.io/library/nginx:1.27@sha256:' + 'a'.repeat(64), imageID: 'docker.io/library/nginx@sha256:' + 'a'.repeat(64) }, 'containerd')),
      ...Object.keys(workloadService({ namespace: 'n', pod: 'p', container: 'c', labels: { 'app.kubernetes.io/version': '1' } })),
      ...Object.keys(ownerAttributes([{ kind: 'ReplicaSet', name: 'web-5d8f', controller: true }], { 'pod-template-hash': '5d8f' })),
    ];
    expect([...record, ...resource].filter((n) => deprecated.has(n))).toEqual([]);
    expect(resource).toContain('container.runtime.name');
    expect(resource.filter((n) => !REGISTRY.has(n))).toEqual([]);
  });


  it('are the registry\'s, or bindsnoop.*', () => {
    const events = [
      makeEvent(),
      makeEvent({ ret: -98, boundPort: 0, reqAddr: addr4(10, 0, 0, 1), reqPort: 443 }),
      makeEvent({ family: 10, reqFamily: 10, boundDevIf: 2 }),
      makeEvent({ args: Buffer.from('nginx\0-g\0daemon off;\0'), argsFlags: 0 }),
    ];
    const names = new Set(events.flatMap((e) => Object.keys(bindAttributes(e, 'eth0', 1_700_000_000_000_000_000n))));
    expect([...names].filter((n) => !n.startsWith('bindsnoop.') && !REGISTRY.has(n))).toEqual([]);
    // the process facts read at the bind are the registry's names
    for (const n of ['process.pid', 'process.parent_pid', 'process.executable.path', 'process.executable.name', 'process.command_args', 'process.creation.time', 'process.real_user.id', 'thread.id', 'thread.name', 'error.type']) {
      expect(names.has(n), n).toBe(true);
      expect(REGISTRY.has(n), n).toBe(true);
    }
  });
});
