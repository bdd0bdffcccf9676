import { Command, CommanderError } from 'commander';
import * as path from 'node:path';
import { loadConfig } from '../config/load';
import { isNativeError, loadAddon } from '../kernel/native';
import { lockPinDir, PinDirInUse } from '../kernel/pin-dir';
import { BindsnoopError, usageError } from '../model/errors';

export const CLEANUP_USAGE = 'usage: bindsnoop cleanup [-h] [-c CONFIG] [--pin-dir DIR]';

export const CLEANUP_HELP = `${CLEANUP_USAGE}

Remove a pinned set of programs that daemon mode kept attached for the next
agent (handover.enabled): its links (the kernel detaches the programs), its
ring buffer and its maps. Nothing is removed while an agent owns the set.

optional arguments:
  -h, --help            show this help message and exit
  -c CONFIG, --config CONFIG
                        the agent's configuration file: its handover.pinDir
  --pin-dir DIR         the pinned set's directory (default: handover.pinDir)
`;

/** What `bindsnoop cleanup` was asked to do. Pure: throws a USAGE BindsnoopError naming the problem. */
export function parseCleanupArgs(argv: readonly string[]): { help: boolean; config?: string; pinDir?: string } {
  const cmd = new Command()
    .name('bindsnoop cleanup')
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined })
    .helpOption(false)
    .allowExcessArguments(false)
    .option('-h, --help')
    .option('-c, --config <CONFIG>')
    .option('--pin-dir <DIR>');
  try {
    cmd.parse([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) throw usageError(e.message.replace(/^error: /, ''));
    throw e;
  }
  const o = cmd.opts<{ help?: boolean; config?: string; pinDir?: string }>();
  if (o.pinDir !== undefined && o.pinDir.trim() === '') throw usageError('--pin-dir needs the path of a directory on a BPF filesystem');
  return { help: o.help === true, config: o.config, pinDir: o.pinDir };
}

/** One line for the user: what was removed. Pure. */
export function describeRemoval(dir: string, removed: { links: number; maps: number; recordsDiscarded: number }): string {
  const discarded = removed.recordsDiscarded ? `; ${removed.recordsDiscarded} binds queued in its ring, never read, discarded` : '';
  return `removed the pinned set under ${dir}: ${removed.links} links (their programs detached) and ${removed.maps} maps${discarded}`;
}

/**
 * `bindsnoop cleanup`: removes a handover's pinned set. Exit 0 when it is gone (or was never there),
 * 2 for usage and configuration errors, 1 when an agent owns it or the kernel refuses.
 */
export function runCleanup(argv: readonly string[]): number {
  const fail = (e: BindsnoopError): number => {
    process.stderr.write(`${e.exitStatus === 2 && e.code === 'USAGE' ? `${CLEANUP_USAGE}\n` : ''}bindsnoop cleanup: error: ${e.message}\n`);
    return e.exitStatus;
  };
  try {
    const args = parseCleanupArgs(argv);
    if (args.help) {
      process.stdout.write(CLEANUP_HELP);
      return 0;
    }
    const config = loadConfig({ file: args.config, env: process.env, flags: {}, warn: (line) => process.stderr.write(`bindsnoop cleanup: ${line}\n`) });
    const dir = path.resolve(args.pinDir ?? config.handover.pinDir);
    const addon = loadAddon();
    let lock: { release(): void };
    try {
      lock = lockPinDir(dir, 'it owns the pinned set; stop it first (a DaemonSet: remove it, then run this on each node)');
    } catch (e) {
      if (e instanceof PinDirInUse) throw new BindsnoopError('KERNEL', e.message);
      if (isNativeError(e) && e.code === 'ENOENT') {
        process.stderr.write(`bindsnoop cleanup: nothing is pinned under ${dir}\n`);
        return 0;
      }
      throw e;
    }
    try {
      process.stderr.write(`bindsnoop cleanup: ${describeRemoval(dir, addon.removePinnedSet(dir))}\n`);
    } finally {
      lock.release();
    }
    return 0;
  } catch (e) {
    if (e instanceof BindsnoopError) return fail(e);
    if (isNativeError(e)) return fail(new BindsnoopError('KERNEL', e.message, e.code));
    throw e;
  }
}
