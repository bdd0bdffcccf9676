import { describe, expect, it } from 'vitest';
import { ExecutableSelection, executableSelected } from '../../src/agent/executable-selection';
import { FLAG_EXE_TRUNCATED, FLAG_KERNEL_THREAD } from '../../src/model/event';
import { exeNames, makeEvent } from './events';

describe('the selection by executable', () => {
  it('keeps what an inclusion prefix matches, then drops what an exclusion matches', () => {
    expect(executableSelected('/usr/bin/python3', false, ['/usr/bin/'], [])).toBe(true);
    expect(executableSelected('/tmp/x', false, ['/usr/bin/'], [])).toBe(false);
    expect(executableSelected('/usr/bin/python3', false, ['/usr/bin/'], ['/usr/bin/py'])).toBe(false);
    expect(executableSelected('/tmp/x (deleted)', false, [], ['/tmp/'])).toBe(false);
    expect(executableSelected('/usr/sbin/nginx', false, [], ['/tmp/'])).toBe(true);
  });

  it('keeps a path it cannot judge (truncated), and one with no executable only without an inclusion', () => {
    expect(executableSelected('d/e/x', true, ['/usr/'], ['/tmp/'])).toBe(true);
    expect(executableSelected(undefined, false, [], ['/tmp/'])).toBe(true);
    expect(executableSelected(undefined, false, ['/usr/'], [])).toBe(false);
  });

  it('selects nothing away when unset, and counts what it drops', () => {
    expect(ExecutableSelection.of({ executables: [], excludeExecutables: [] })).toBeUndefined();
    const s = ExecutableSelection.of({ executables: [], excludeExecutables: ['/tmp/'] });
    const batch = [
      makeEvent({ pid: 1, exeNames: exeNames('/tmp/dropper') }),
      makeEvent({ pid: 2 }),
      makeEvent({ pid: 3, flags: FLAG_EXE_TRUNCATED, exeNames: exeNames('deep/dropper') }),
      makeEvent({ pid: 4, flags: FLAG_KERNEL_THREAD, exeNames: new Uint8Array() }),
    ];
    expect(s?.select(batch).map((e) => e.pid)).toEqual([2, 3, 4]);
    expect(s?.dropped).toBe(1);
  });
});
