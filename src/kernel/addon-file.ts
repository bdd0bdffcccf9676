import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BindsnoopError } from '../model/errors';

/**
 * Which native addon this host loads, and why it cannot load one. A checkout
 * builds native/build/Release/bindsnoop.node (./dev); the npm package ships
 * prebuilds in prebuildify's layout (native/prebuilds/<platform>-<arch>/),
 * which node-gyp-build picks from, a local build first.
 */
export const NATIVE_DIR = path.resolve(__dirname, '..', '..', 'native');

/** What the package's prebuilds support (package.json "bindsnoop.prebuilds", set by scripts/build-prebuilds.sh). */
export interface PrebuildSupport {
  platforms: string[];
  /** the oldest glibc the prebuilds run on */
  glibc: string;
}

export interface HostPlatform {
  platform: string;
  arch: string;
  /** glibc's version, or undefined when the C library is not glibc (musl) */
  glibc: string | undefined;
}

export function prebuildSupport(packageJson: unknown): PrebuildSupport {
  const p = (packageJson as { bindsnoop?: { prebuilds?: PrebuildSupport } }).bindsnoop?.prebuilds;
  return { platforms: p?.platforms ?? [], glibc: p?.glibc ?? '' };
}

/** Dotted versions ("2.31", "2.28.1") in order: negative when a comes first. Pure. */
export function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

const FROM_SOURCE = 'or build it from source: npm rebuild -g bindsnoop-otel --build-from-source (needs make, a C++ compiler, python3 and libbpf 1.x with its headers)';

function supported(s: PrebuildSupport): string {
  return `prebuilt for ${s.platforms.join(' and ')} with glibc ${s.glibc} or newer`;
}

/**
 * Why a prebuilt addon cannot run on this host, or undefined when it can (a
 * local build is not judged here: it was made for this host).
 */
export function prebuildProblem(host: HostPlatform, s: PrebuildSupport): string | undefined {
  if (host.platform !== 'linux') return `bindsnoop traces Linux kernels; this is ${host.platform}`;
  if (!s.platforms.includes(`${host.platform}-${host.arch}`)) {
    return `no native addon for ${host.platform}-${host.arch} (${supported(s)}); ${FROM_SOURCE}`;
  }
  if (host.glibc === undefined) return `the prebuilt native addon needs glibc ${s.glibc} or newer, and this host's C library is not glibc (${supported(s)}); ${FROM_SOURCE}`;
  if (compareVersions(host.glibc, s.glibc) < 0) {
    return `the prebuilt native addon needs glibc ${s.glibc} or newer, and this host has glibc ${host.glibc} (${supported(s)}); ${FROM_SOURCE}`;
  }
  return undefined;
}

/** What dlopen said, as one line that names the file. */
export function loadFailure(file: string, error: unknown, s: PrebuildSupport): string {
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
  const glibc = /version `GLIBC_([\d.]+)' not found/.exec(message);
  if (glibc) return `the native addon ${file} needs glibc ${glibc[1]}, which this host lacks (${supported(s)}); ${FROM_SOURCE}`;
  // dlopen repeats the path; the line names it once
  return `the native addon ${file} cannot be loaded (${message.replace(`${file}: `, '')}): reinstall the package, ${FROM_SOURCE}`;
}

/**
 * A prebuild whose bytes are not the ones the package lists (prebuilds/SHA256SUMS):
 * a truncated or damaged shared object can crash the process inside dlopen
 * (SIGBUS), so it is checked before it is mapped.
 */
function damaged(file: string): string | undefined {
  const dir = path.dirname(path.dirname(file));
  const name = path.relative(dir, file);
  let listed: string | undefined;
  try {
    listed = sha256Listed(readFileSync(path.join(dir, 'SHA256SUMS'), 'utf8'), name);
  } catch {
    return `the native addon ${file} cannot be checked: ${path.join(dir, 'SHA256SUMS')} is missing; reinstall the package`;
  }
  if (listed === undefined) return `the native addon ${file} is not listed in ${path.join(dir, 'SHA256SUMS')}; reinstall the package`;
  if (createHash('sha256').update(readFileSync(file)).digest('hex') !== listed) {
    return `the native addon ${file} is damaged (its SHA-256 is not the one the package lists): reinstall the package, ${FROM_SOURCE}`;
  }
  return undefined;
}

/** The digest sha256sum(1) listed for `name`. */
export function sha256Listed(sums: string, name: string): string | undefined {
  for (const line of sums.split('\n')) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (m && m[2] === name) return m[1];
  }
  return undefined;
}

export function hostPlatform(): HostPlatform {
  const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
  return { platform: process.platform, arch: process.arch, glibc: header?.glibcVersionRuntime };
}

/**
 * Finds and loads the addon, or throws a BindsnoopError (exit 1) naming what
 * is missing: nothing is loaded when this host cannot run it.
 */
export function loadAddonFile(): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const resolve = (require('node-gyp-build') as { resolve(dir: string): string }).resolve;
  const support = prebuildSupport(JSON.parse(readFileSync(path.join(NATIVE_DIR, '..', 'package.json'), 'utf8')));
  let file: string;
  try {
    file = resolve(NATIVE_DIR);
  } catch {
    const host = hostPlatform();
    // node-gyp-build takes the C library from LIBC, else glibc but on Alpine
    const libc = process.env.LIBC ?? (host.glibc === undefined ? 'musl' : 'glibc');
    const platform = `${host.platform}-${host.arch}${libc === 'glibc' ? '' : ` (${libc})`}`;
    throw new BindsnoopError('RUNTIME', prebuildProblem(host, support) ?? `no native addon in ${NATIVE_DIR} for ${platform} (${supported(support)}); ${FROM_SOURCE}`);
  }
  // a local build was made for this host; only a prebuild is judged (the report that names glibc takes milliseconds)
  if (file.includes(`${path.sep}prebuilds${path.sep}`)) {
    const problem = prebuildProblem(hostPlatform(), support) ?? damaged(file);
    if (problem) throw new BindsnoopError('RUNTIME', problem);
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file);
  } catch (e) {
    throw new BindsnoopError('RUNTIME', loadFailure(file, e, support));
  }
}
