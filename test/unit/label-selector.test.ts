import { describe, expect, it } from 'vitest';
import { parseLabelSelector } from '../../src/kubernetes/label-selector';

describe('label selectors as kubectl -l takes them', () => {
  const pod = { app: 'cart', tier: 'web', env: 'prod' };
  const cases: [string, boolean][] = [
    ['', true],
    ['app=cart', true],
    ['app==cart', true],
    ['app=web', false],
    ['app!=web', true],
    ['tier!=web', false],
    ['env in (prod, stage)', true],
    ['env notin (prod,stage)', false],
    ['canary', false],
    ['!canary', true],
    ['app', true],
    ['app=cart,env in (dev),tier', false],
    ['app=cart, tier=web, !legacy', true],
    ['missing!=x', true],
    ['missing notin (x)', true],
  ];
  for (const [selector, expected] of cases) {
    it(`'${selector}' ${expected ? 'selects' : 'does not select'} the pod`, () => expect(parseLabelSelector(selector)(pod)).toBe(expected));
  }
  it('names a malformed requirement', () => {
    expect(() => parseLabelSelector('app=cart,=x')).toThrow(/'=x' is not a label selector requirement/);
    expect(() => parseLabelSelector('env in prod')).toThrow(/'env in prod'/);
  });
});
