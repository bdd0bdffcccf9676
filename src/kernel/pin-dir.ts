import { existsSync, lstatSync, mkdirSync, readFileSync, statfsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { isNativeError, loadAddon } from './native';

/** statfs f_type of a BPF filesystem (include/uapi/linux/magic.h) */
const BPF_FS_MAGIC = 0xcafe4a11;

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
    why: string,
  ) {
    super(`${dir} is in use by another bindsnoop (${holderPid === undefined ? 'pid unknown' : `pid ${holderPid}`}): ${why}`);
  }
}

/** A pin directory that cannot be used, in words for the configuration key that names it. */
export class PinDirUnusable extends Error {}

/**
 * Makes a pin directory on a BPF filesystem (mode 0700), checks that it and the
 * pinned files named in `files` are this agent's own (not links, not another
 * user's, not writable by others), and takes its lock (see lockPinDir).
 * Throws PinDirUnusable or PinDirInUse; `inUse` says why two agents on it
 * would not do.
 */
export function preparePinDir(dir: string, files: readonly string[], inUse: string): { release(): void } {
  let existing = dir;
  while (!existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  if (statfsSync(existing).type !== BPF_FS_MAGIC) {
    throw new PinDirUnusable(`${dir} is not on a BPF filesystem; pick a directory under a bpffs mount (mount -t bpf bpf /sys/fs/bpf)`);
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new PinDirUnusable(`cannot create ${dir} (${(e as NodeJS.ErrnoException).code}): it must be on a mounted bpffs (mount -t bpf bpf /sys/fs/bpf)`);
  }
  for (const p of [dir, ...files.map((f) => path.join(dir, f))]) {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue; // not pinned yet
    }
    const kind = p === dir ? 'directory' : 'pinned file';
    if (st.isSymbolicLink()) throw new PinDirUnusable(`${p} is a symbolic link: the ${kind} must be the real one (remove it)`);
    if (st.uid !== process.getuid?.()) throw new PinDirUnusable(`${p} belongs to uid ${st.uid}, not to this agent's: remove it or pick another directory`);
    if (st.mode & 0o022) throw new PinDirUnusable(`${p} is writable by others (mode ${(st.mode & 0o777).toString(8)}): remove it or pick another directory`);
  }
  return lockPinDir(dir, inUse);
}

/**
 * Takes the pin directory's lock (flock, held by an open fd until release() or
 * the process ends, SIGKILL included) so that a second agent on the same pin
 * directory stops at once, naming the holder. Throws PinDirInUse.
 */
export function lockPinDir(dir: string, inUse: string): { release(): void } {
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
      throw new PinDirInUse(dir, holder, inUse);
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
