/**
 * The keys of a bind's log attributes (docs/CONTRACT.md, section 2), by the
 * role each plays, in the order a record carries them: declared once, for
 * src/naming/bind-attributes.ts and the addon's encoder (native/encoder.h
 * names the same roles, in the same order; the addon refuses a missing one).
 */
export const BIND_ATTRIBUTE_KEYS = {
  pid: 'process.pid',
  tid: 'thread.id',
  threadName: 'thread.name',
  uid: 'process.real_user.id',
  parentPid: 'process.parent_pid',
  parentComm: 'bindsnoop.parent.comm',
  exePath: 'process.executable.path',
  exeName: 'process.executable.name',
  exeDeleted: 'bindsnoop.process.executable.deleted',
  exeAnonymous: 'bindsnoop.process.executable.anonymous',
  exeUnreachable: 'bindsnoop.process.executable.unreachable',
  exeTruncated: 'bindsnoop.process.executable.truncated',
  chrooted: 'bindsnoop.process.chrooted',
  root: 'bindsnoop.process.root',
  commandArgs: 'process.command_args',
  commandArgsUnreadable: 'bindsnoop.process.command_args.unreadable',
  commandArgsTruncated: 'bindsnoop.process.command_args.truncated',
  invalidUtf8: 'bindsnoop.invalid_utf8',
  transport: 'network.transport',
  networkType: 'network.type',
  localAddress: 'network.local.address',
  localPort: 'network.local.port',
  interfaceName: 'network.interface.name',
  errorType: 'error.type',
  returnCode: 'bindsnoop.return_code',
  requestedAddress: 'bindsnoop.requested.address',
  requestedPort: 'bindsnoop.requested.port',
  opts: 'bindsnoop.opts',
  optFreebind: 'bindsnoop.opt.freebind',
  optTransparent: 'bindsnoop.opt.transparent',
  optBindAddressNoPort: 'bindsnoop.opt.bind_address_no_port',
  optReuseaddr: 'bindsnoop.opt.reuseaddr',
  optReuseport: 'bindsnoop.opt.reuseport',
  boundDevIf: 'bindsnoop.bound_dev_if',
  kernelSocket: 'bindsnoop.kernel_socket',
  kernelThread: 'bindsnoop.kernel_thread',
  rawSocket: 'bindsnoop.raw_socket',
  cgroupId: 'bindsnoop.cgroup.id',
  mntnsId: 'bindsnoop.mntns.id',
  netnsId: 'bindsnoop.netns.id',
  creationTime: 'process.creation.time',
  cgroupPath: 'bindsnoop.cgroup.path',
} as const;

export type BindAttributeRole = keyof typeof BIND_ATTRIBUTE_KEYS;
