import { constants } from 'node:os';

/** Canonical names where Linux has two for one number. */
const PREFERRED = new Set(['EAGAIN', 'EOPNOTSUPP', 'EDEADLK']);

const BY_NUMBER: ReadonlyMap<number, string> = (() => {
  const map = new Map<number, string>();
  for (const [name, value] of Object.entries(constants.errno)) {
    if (!map.has(value) || PREFERRED.has(name)) map.set(value, name);
  }
  return map;
})();

/** Errno name for a positive or negative errno: 98 and -98 are both EADDRINUSE. */
export function errnoName(errno: number): string {
  const n = Math.abs(errno);
  return BY_NUMBER.get(n) ?? `ERRNO_${n}`;
}

/** Every errno name by its number, for the addon's encoder (which writes ERRNO_<n> for the others, as errnoName does). */
export function errnoNameTable(): [number, string][] {
  return [...BY_NUMBER];
}
