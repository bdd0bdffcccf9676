import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import { expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

// The image installs production dependencies only: every package src/ loads must be one.
it('declares every package that src/ imports as a production dependency', () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const imported = new Set<string>();
  for (const file of sources(path.join(ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:^import (?!type)[^;]*? from |import\(|require\()'([^.'][^']*)'/gm)) {
      const spec = m[1];
      if (spec.startsWith('node:') || builtinModules.includes(spec)) continue;
      imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
    }
  }
  expect([...imported].filter((name) => !(name in pkg.dependencies))).toEqual([]);
  expect(imported.size).toBeGreaterThan(5);
});
