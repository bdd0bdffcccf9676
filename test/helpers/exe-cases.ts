import { expect } from 'vitest';

/**
 * What test/vm/exe-cases.sh's binds must look like in the records: each
 * executable as the process itself names it (its "exe" line), with only the
 * flags its case calls for.
 */
type Json = Record<string, unknown>;

const EXE_FLAGS = ['deleted', 'anonymous', 'unreachable', 'truncated'];

/** The executable a record names, and which of its flags are set. */
export function executable(e: Json): { path: unknown; name: unknown; flags: string[] } {
  return {
    path: e['process.executable.path'],
    name: e['process.executable.name'],
    flags: EXE_FLAGS.filter((f) => e[`bindsnoop.process.executable.${f}`] === true),
  };
}

/** One case's helper lines ("<case> pid N", "<case> exe PATH", ...; case '' is a plain run) and its records. */
export function exeCase(helperLines: readonly string[], name: string, events: readonly Json[]): { exe?: string; records: ReturnType<typeof executable>[] } {
  const prefix = name ? `${name} ` : '';
  const lines = helperLines.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
  const pid = Number(lines.find((l) => l.startsWith('pid '))?.slice(4));
  return { exe: lines.find((l) => l.startsWith('exe '))?.slice(4), records: events.filter((e) => e['process.pid'] === pid).map(executable) };
}

/** Checks the four cases of exe-cases.sh (`what` names the run in failures). */
export function expectExeCases(helperLines: readonly string[], events: readonly Json[], what: string): void {
  const deleted = exeCase(helperLines, 'deleted', events);
  expect(deleted.exe, what).toMatch(/\/deleted \(deleted\)$/);
  expect(deleted.records, `${what}: deleted`).toEqual([{ path: deleted.exe, name: 'deleted', flags: ['deleted'] }]);
  expect(exeCase(helperLines, 'memfd', events).records, `${what}: memfd`).toEqual([{ path: '/memfd:bind-helper (deleted)', name: 'memfd:bind-helper', flags: ['deleted', 'anonymous'] }]);
  const mntns = exeCase(helperLines, 'mntns', events);
  expect(mntns.exe, what).toMatch(/\/ns\/binder$/);
  expect(mntns.records, `${what}: mntns`).toEqual([{ path: mntns.exe, name: 'binder', flags: [] }]);
  const deep = exeCase(helperLines, 'deep', events);
  expect(deep.exe?.length, what).toBeGreaterThan(3800);
  expect(deep.records, `${what}: deep`).toEqual([{ path: expect.stringMatching(/^d+\/.*binder$/), name: 'binder', flags: ['truncated'] }]);
  expect(deep.exe?.endsWith(`/${deep.records[0].path as string}`), `${what}: deep`).toBe(true);
}
