import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { usageError } from '../model/errors';
import { MAX_PORTS } from '../model/event';

export type OutputFormat = 'table' | 'json';

/** What the command line asked for, validated. */
export interface CliOptions {
  help: boolean;
  version: boolean;
  timestamp: boolean;
  wide: boolean;
  printUid: boolean;
  /** --exe: PPID and EXE columns */
  exe: boolean;
  count: boolean;
  /** -c FILE */
  config?: string;
  // Flags that are also configuration keys: undefined unless given, so that
  // only a flag actually on the command line overrides the configuration.
  pid?: number;
  ports?: number[];
  errors?: boolean;
  uid?: number;
  cgroupMap?: string;
  mntnsMap?: string;
  output?: OutputFormat;
  quiet?: boolean;
  kubernetes?: boolean;
  /** --backend */
  backend?: 'auto' | 'fentry' | 'kprobe' | 'tracepoint';
  /** false with --no-kernel-binds */
  kernelBinds?: boolean;
  /** run as an agent: no table, JSON logs, HTTP endpoints */
  daemon: boolean;
}


export const USAGE = `usage: bindsnoop [-h] [-t] [-w] [-p PID] [-P PORT] [-E] [-U] [-u UID]
                 [--count] [--cgroupmap CGROUPMAP] [--mntnsmap MNTNSMAP]
                 [--exe] [-o {table,json}] [-q] [-c CONFIG] [-K] [--daemon]
                 [--backend {auto,fentry,kprobe,tracepoint}] [--no-kernel-binds]
                 [--version]`;

export const HELP = `${USAGE}

Trace socket binds (every protocol: TCP, UDP, SCTP, MPTCP, raw, ...)

optional arguments:
  -h, --help            show this help message and exit
  -t, --timestamp       include timestamp on output
  -w, --wide            wide column output (fits IPv6 addresses)
  -p PID, --pid PID     trace this PID only
  -P PORT, --port PORT  comma-separated list of ports to trace.
  -E, --errors          include errors in the output.
  -U, --print-uid       include UID on output
  -u UID, --uid UID     trace this UID only
  --count               count binds per src ip and port (-o json: as JSON
                        lines)
  --cgroupmap CGROUPMAP
                        trace cgroups in this BPF map only
  --mntnsmap MNTNSMAP   trace mount namespaces in this BPF map only
  --exe                 add PPID and EXE columns: the parent's PID and the
                        executable's path (not in bcc)
  -o {table,json}, --output {table,json}
                        table (bcc's columns, the default) or one JSON object
                        per bind
  -q, --quiet           print no table (needs an OTLP endpoint: export only)
  -c CONFIG, --config CONFIG
                        configuration file (JSON or YAML); also BINDSNOOP_CONFIG
  -K, --kubernetes      resolve each bind to its pod: NAMESPACE, POD and
                        CONTAINER columns, k8s.* resource attributes
  --daemon              run as an agent: no table, JSON logs on stderr,
                        /healthz /readyz /metrics on server.port
  --backend {auto,fentry,kprobe,tracepoint}
                        how to attach: auto (default) takes the best the
                        kernel allows and says which on stderr
  --no-kernel-binds     hide binds the kernel makes for itself (VXLAN,
                        WireGuard, NFS sockets; kernel threads)
  --version             show the version and exit

examples:
    bindsnoop             # trace all bind()s
    bindsnoop -t          # include timestamps
    bindsnoop -w          # wider columns (fit IPv6)
    bindsnoop -p 181      # only trace PID 181
    bindsnoop -P 80       # only trace port 80
    bindsnoop -P 80,81    # only trace port 80 and 81
    bindsnoop -U          # include UID
    bindsnoop --exe       # include the parent's PID and the executable
    bindsnoop -u 1000     # only trace UID 1000
    bindsnoop -E          # report bind errors
    bindsnoop --count     # count bind per src ip
    bindsnoop --cgroupmap mappath  # only trace cgroups in this BPF map
    bindsnoop --mntnsmap mappath   # only trace mount namespaces in the map
    bindsnoop -o json     # one JSON object per bind
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 bindsnoop -q -E
                          # export every bind, failures too, as OTLP logs
    bindsnoop cleanup     # remove the programs daemon mode left attached
                          # for the next agent (handover.enabled)

it is reporting socket options set before the bind call
impacting system call behavior:
 SOL_IP     IP_FREEBIND              F....
 SOL_IP     IP_TRANSPARENT           .T...
 SOL_IP     IP_BIND_ADDRESS_NO_PORT  ..N..
 SOL_SOCKET SO_REUSEADDR             ...R.
 SOL_SOCKET SO_REUSEPORT             ....r

 SO_BINDTODEVICE interface is reported as "IF" index
 -P also matches the port a failed bind asked for (with -E).
`;

const DECIMAL = /^[0-9]+$/;

/** A PID: a decimal integer from 1 to 2^32-1 (a host TGID). */
export function parsePid(text: string): number {
  const n = DECIMAL.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 0xffffffff) {
    throw new InvalidArgumentError('a PID is a whole number from 1 to 4294967295');
  }
  return n;
}

/** A UID: a decimal integer from 0 to 2^32-2 (2^32-1 is the kernel's "no uid"). */
export function parseUid(text: string): number {
  const n = DECIMAL.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 0 || n > 0xfffffffe) {
    throw new InvalidArgumentError('a UID is a whole number from 0 to 4294967294');
  }
  return n;
}

/** "80,81,8080": each 0-65535, duplicates dropped, at most MAX_PORTS distinct. */
export function parsePortList(text: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  const ports = new Set<number>();
  for (const part of parts) {
    const n = DECIMAL.test(part) ? Number(part) : NaN;
    if (!Number.isInteger(n) || n < 0 || n > 65535) {
      throw new InvalidArgumentError(
        `'${part}' is not a port: give comma-separated numbers from 0 to 65535, e.g. -P 80,443`,
      );
    }
    ports.add(n);
  }
  if (ports.size > MAX_PORTS) {
    throw new InvalidArgumentError(`too many ports (${ports.size}): at most ${MAX_PORTS} can be traced at once`);
  }
  return [...ports];
}

function buildCommand(): Command {
  const cmd = new Command('bindsnoop')
    .helpOption(false)
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined })
    .option('-h, --help')
    .option('-t, --timestamp')
    .option('-w, --wide')
    .option('-p, --pid <PID>', 'trace this PID only', parsePid)
    .option('-P, --port <PORT>', 'ports to trace', parsePortList)
    .option('-E, --errors')
    .option('-U, --print-uid')
    .option('-u, --uid <UID>', 'trace this UID only', parseUid)
    .option('--count')
    .option('--cgroupmap <CGROUPMAP>')
    .option('--mntnsmap <MNTNSMAP>')
    .option('--exe')
    .addOption(new Option('-o, --output <FORMAT>').choices(['table', 'json']))
    .option('-q, --quiet')
    .option('-c, --config <CONFIG>')
    .option('-K, --kubernetes')
    .option('--daemon')
    .addOption(new Option('--backend <BACKEND>').choices(['auto', 'fentry', 'kprobe', 'tracepoint']))
    .option('--no-kernel-binds')
    .option('--version');
  return cmd;
}

/** Parses argv (without node and script); throws a USAGE BindsnoopError naming the problem. */
export function parseArgs(argv: readonly string[]): CliOptions {
  const cmd = buildCommand();
  try {
    cmd.parse([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) throw usageError(e.message.replace(/^error: /, ''));
    throw e;
  }
  const o = cmd.opts<{
    help?: boolean;
    timestamp?: boolean;
    wide?: boolean;
    pid?: number;
    port?: number[];
    errors?: boolean;
    printUid?: boolean;
    exe?: boolean;
    uid?: number;
    count?: boolean;
    cgroupmap?: string;
    mntnsmap?: string;
    output?: OutputFormat;
    quiet?: boolean;
    config?: string;
    kubernetes?: boolean;
    daemon?: boolean;
    version?: boolean;
    backend?: CliOptions['backend'];
    kernelBinds?: boolean;
  }>();
  for (const [flag, value, what] of [
    ['--cgroupmap', o.cgroupmap, 'the path of a pinned BPF map'],
    ['--mntnsmap', o.mntnsmap, 'the path of a pinned BPF map'],
    ['--config', o.config, 'the path of a JSON or YAML file'],
  ] as const) {
    if (value !== undefined && value.trim() === '') throw usageError(`${flag} needs ${what}`);
  }
  return {
    help: o.help === true,
    version: o.version === true,
    timestamp: o.timestamp === true,
    wide: o.wide === true,
    printUid: o.printUid === true,
    exe: o.exe === true,
    count: o.count === true,
    config: o.config,
    pid: o.pid,
    ports: o.port,
    errors: o.errors,
    uid: o.uid,
    cgroupMap: o.cgroupmap,
    mntnsMap: o.mntnsmap,
    output: o.output,
    quiet: o.quiet,
    kubernetes: o.kubernetes,
    backend: o.backend,
    // commander defaults a --no-x flag to true: only an explicit flag counts
    kernelBinds: cmd.getOptionValueSource('kernelBinds') === 'cli' ? o.kernelBinds : undefined,
    daemon: o.daemon === true,
  };
}

/** The configuration keys the given flags set (docs/CONTRACT.md, section 3: flags win). */
export function flagsToConfig(o: CliOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {
    'filter.pid': o.pid,
    'filter.uid': o.uid,
    'filter.ports': o.ports,
    'filter.errors': o.errors,
    'filter.cgroupMap': o.cgroupMap,
    'filter.mntnsMap': o.mntnsMap,
    'output.format': o.quiet || o.daemon ? 'none' : o.output,
    'kubernetes.enabled': o.kubernetes,
    'kernel.backend': o.backend,
    'filter.kernelBinds': o.kernelBinds,
  };
  for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
  return out;
}
