import { describe, expect, it } from 'vitest';
import type { Attributes } from '../../src/model/attributes';
import { ResourceCache } from '../../src/otlp/resource-cache';

/** A cache whose values say which build made them. */
function cache(maxResources: number, idleMillis = 60_000) {
  let builds = 0;
  const c = new ResourceCache((a: Attributes) => `${String(a['k8s.pod.name'])}#${++builds}`, maxResources, idleMillis);
  return { c, builds: () => builds };
}
const pod = (name: string): Attributes => ({ 'k8s.pod.name': name });

describe('the export stage\'s resources', () => {
  it('builds a resource once per distinct set of attributes, however the object was made', () => {
    const { c, builds } = cache(10);
    const a = c.get(pod('a'), 1);
    expect(c.get(pod('a'), 2)).toBe(a);
    expect(c.get({ 'k8s.pod.name': 'a' }, 3).value).toBe('a#1');
    expect(builds()).toBe(1);
  });

  it('holds at most maxResources, evicting the least recently used; an evicted one is built again', () => {
    const { c, builds } = cache(2);
    const a = pod('a');
    const b = pod('b');
    const first = c.get(a, 1);
    c.get(b, 2);
    c.get(a, 3); // a is now the most recent: b goes next
    c.get(pod('c'), 4);
    expect(c.size).toBe(2);
    expect(first.held).toBe(true);
    expect(c.get(b, 5).value).toBe('b#4');
    expect(first.held).toBe(false); // a was least recent then
    expect(builds()).toBe(4);
  });

  it('the last resource\'s shortcut does not keep an evicted one', () => {
    const { c } = cache(1);
    const a = pod('a');
    const first = c.get(a, 1);
    c.get(pod('b'), 2);
    const again = c.get(a, 3);
    expect(again).not.toBe(first);
    expect(again.held).toBe(true);
    expect(c.size).toBe(1);
  });

  it('releases those unused for idleMillis and keeps the rest', () => {
    const { c } = cache(10, 1000);
    c.get(pod('old'), 0);
    c.get(pod('recent'), 900);
    c.releaseIdle(1500);
    expect(c.size).toBe(1);
    expect(c.get(pod('recent'), 1600).value).toBe('recent#2');
  });
});
