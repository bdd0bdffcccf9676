import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The documents a user and a developer read: every relative link resolves
 * (files, and headings for #anchors), nothing points outside the repository,
 * at issue numbers or at the machines the project was built on, the code's
 * citations of the contract name sections that exist, and the generated
 * configuration reference is up to date.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const DOCS = [
  'README.md',
  'CONTRIBUTING.md',
  'CHANGELOG.md',
  'SECURITY.md',
  'charts/bindsnoop-otel/README.md',
  ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
];

/** GitHub's anchor for a heading */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function headings(file: string): Set<string> {
  const text = readFileSync(file, 'utf8');
  const out = new Set<string>();
  let fence = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fence = !fence;
    else if (!fence && /^#{1,6} /.test(line)) out.add(slug(line.replace(/^#+ /, '')));
  }
  return out;
}

function links(text: string): string[] {
  const withoutCode = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...withoutCode.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ts|cc|h|c|sh|js|mjs|yaml|json)$/.test(e.name))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

describe('the documents', () => {
  it('link only to files and headings that exist', () => {
    const broken: string[] = [];
    for (const doc of DOCS) {
      for (const link of links(readFileSync(path.join(ROOT, doc), 'utf8'))) {
        if (/^(https?|mailto):/.test(link)) continue;
        const [target, anchor] = link.split('#');
        const file = target ? path.resolve(path.dirname(path.join(ROOT, doc)), target) : path.join(ROOT, doc);
        if (!file.startsWith(ROOT + path.sep)) broken.push(`${doc}: ${link} leaves the repository`);
        else if (!existsSync(file)) broken.push(`${doc}: ${link} (no such file)`);
        else if (anchor && file.endsWith('.md') && !headings(file).has(anchor)) broken.push(`${doc}: ${link} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('refer to nothing outside the repository, to no issue numbers and to no build machine; nor does the code', () => {
    const bad = /\.\.\/shared\/|\bissues? #?\d+|this project's machines|the project's machines/i;
    const found: string[] = [];
    for (const f of [...DOCS, ...sourceFiles('src'), ...sourceFiles('native').filter((f) => !f.includes('prebuilds') && !f.includes('build/')), ...sourceFiles('bpf').filter((f) => !f.includes('vmlinux')), ...sourceFiles('charts'), ...sourceFiles('k8s')]) {
      readFileSync(path.join(ROOT, f), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (bad.test(line)) found.push(`${f}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(found).toEqual([]);
  });

  it('the code cites sections of docs/CONTRACT.md that exist', () => {
    const contract = readFileSync(path.join(ROOT, 'docs', 'CONTRACT.md'), 'utf8');
    const sections = new Set([...contract.matchAll(/^## (\d+)\. /gm)].map((m) => m[1]));
    const cited: string[] = [];
    for (const f of sourceFiles('src')) {
      const text = readFileSync(path.join(ROOT, f), 'utf8');
      for (const m of text.matchAll(/docs\/CONTRACT\.md, section (\d+)/g)) {
        cited.push(m[1]);
        expect(sections.has(m[1]), `${f} cites section ${m[1]}`).toBe(true);
      }
      expect(text, f).not.toMatch(/[Cc]ontract section \d/); // every citation names the document
    }
    expect(new Set(cited)).toEqual(new Set(['1', '2', '3']));
  });

  it('docs/CONFIGURATION.md is the reference made from the schema, the OTEL_ mappings and the help, up to date', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'gen-config-doc.js'), '--check'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const reference = readFileSync(path.join(ROOT, 'docs', 'CONFIGURATION.md'), 'utf8');
    for (const s of ['`otlp.endpoint`', '`BINDSNOOP_OTLP_ENDPOINT`', '`OTEL_EXPORTER_OTLP_ENDPOINT`', '`kubernetes.api.holdMillis`', '`NODE_NAME`', '--no-kernel-binds']) {
      expect(reference).toContain(s);
    }
  });

  it('name the releases of the real peers the suite runs, as their modules pin them', () => {
    const peers = path.join(ROOT, 'test', 'peers');
    const pinned = (peer: string, module: string): string => {
      const m = new RegExp(`^(?:require )?\\s*${module.replace(/[./]/g, (c) => `\\${c}`)} (v\\S+)$`, 'm').exec(readFileSync(path.join(peers, peer, 'go.mod'), 'utf8'));
      if (!m) throw new Error(`test/peers/${peer}/go.mod does not require ${module}`);
      return m[1];
    };
    const kubernetes = pinned('kube-apiserver', 'k8s.io/kubernetes');
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const contributing = readFileSync(path.join(ROOT, 'CONTRIBUTING.md'), 'utf8');
    expect(readme).toContain(`Proven against Kubernetes ${kubernetes}`);
    expect(contributing).toContain(`\`k8s.io/kubernetes\` ${kubernetes}`);
    expect(contributing).toContain(`\`go.etcd.io/etcd/server/v3\` ${pinned('etcd', 'go.etcd.io/etcd/server/v3')}`);
    expect(contributing).toContain(`OpenTelemetry Collector ${pinned('collector', 'go.opentelemetry.io/collector/otelcol')}`);
  });
});
