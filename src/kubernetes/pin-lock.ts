import { readFileSync, statSync } from 'node:fs';
import { isNativeError, loadAddon } from '../kernel/native';

/**
 * The pid holding a flock on the inode `inode` of device `dev` (as stat gives
 * them), from the text of /proc/locks; undefined when none is listed. Pure.
 * Lines look like "1: FLOCK  ADVISORY  WRITE 23724 00:27:5490790 0 EOF", the
 * device as hex major:minor.
 */
export function flockHolder(procLocks: string, dev: number, inode: number): number | undefined {
  const major = (dev >>> 8) & 0xfff;
  const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
  for (const line of procLocks.split('\n')) {
    const m = /^\d+:\s+FLOCK\s+\S+\s+WRITE\s+(\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
    if (m && Number(m[4]) === inode && parseInt(m[2], 16) === major && parseInt(m[3], 16) === minor) return Number(m[1]);
  }
  return undefined;
}

export class PinDirInUse extends Error {
  readonly code = 'PIN_DIR_IN_USE';
  constructor(
    readonly dir: string,
    readonly holderPid: number | undefined,
  ) {
    super(
      `${dir} is in use by another bindsnoop (${holderPid === undefined ? 'pid unknown' : `pid ${holderPid}`}): two agents on one pin directory ` +
        'would each rewrite the maps the other filters by; stop it, or give this one its own kubernetes.pinDir',
    );
  }
}

/**
 * Takes the pin directory's lock (flock, held by an open fd until release() or
 * the process ends, SIGKILL included) so that a second agent on the same pin
 * directory stops at once, naming the holder. Throws PinDirInUse.
 */
export function lockPinDir(dir: string): { release(): void } {
  const addon = loadAddon();
  let fd: number;
  try {
    fd = addon.lockDirectory(dir);
  } catch (e) {
    if (isNativeError(e) && (e.code === 'EAGAIN' || e.code === 'EWOULDBLOCK')) {
      let holder: number | undefined;
      try {
        const st = statSync(dir);
        holder = flockHolder(readFileSync('/proc/locks', 'utf8'), st.dev, st.ino);
      } catch {
        holder = undefined;
      }
      throw new PinDirInUse(dir, holder);
    }
    throw e;
  }
  let held = true;
  return {
    release() {
      if (held) addon.unlockDirectory(fd);
      held = false;
    },
  };
}
