import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * src/ follows the data flow, and its dependency arrows point one way: a
 * folder imports only from folders before it in this order (or from itself).
 * model/ holds the shared types and imports nothing of the project's; host/ reads the host's files safely.
 */
const LAYERS = ['model', 'host', 'kernel', 'naming', 'kubernetes', 'config', 'output', 'otlp', 'agent', 'server', 'cli'];
const SRC = path.resolve(__dirname, '..', '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The layer of a file of src/: its first folder, or the file's own name (server.ts). */
function layerOf(file: string): string {
  return path.relative(SRC, file).split(path.sep)[0].replace(/\.ts$/, '');
}

describe('the layout of src/', () => {
  it('has every file in a layer', () => {
    for (const file of sources(SRC)) expect(LAYERS, path.relative(SRC, file)).toContain(layerOf(file));
  });

  it('imports only down the data flow, never up', () => {
    const uphill: string[] = [];
    for (const file of sources(SRC)) {
      const from = LAYERS.indexOf(layerOf(file));
      for (const m of readFileSync(file, 'utf8').matchAll(/^import[^'"]*['"](\.[^'"]+)['"]/gm)) {
        const target = path.resolve(path.dirname(file), m[1]);
        const to = LAYERS.indexOf(layerOf(target + '.ts'));
        if (to > from) uphill.push(`${path.relative(SRC, file)} -> ${m[1]}`);
      }
    }
    expect(uphill).toEqual([]);
  });

  it('keeps the shared types in model/, importing nothing but each other', () => {
    for (const file of sources(path.join(SRC, 'model'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/^import[^'"]*['"]([^'"]+)['"]/gm)) expect(m[1], path.relative(SRC, file)).toMatch(/^\.\/[\w-]+$/);
    }
  });
});
