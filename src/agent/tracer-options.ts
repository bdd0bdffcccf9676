import type { AppConfig } from '../config/schema';
import type { NativeTracerOptions } from '../kernel/native';

/** What the agent knows besides the configuration when it loads the tracer. */
export interface TracerContext {
  /** --count: count in the kernel, no record per bind */
  countMode: boolean;
  /** kernfs id of kubernetes.cgroupRoot (1: the hierarchy's root) */
  cgroupRootId: number;
  /** Kubernetes mode: pin the pod maps under this bpffs directory ("" = off) */
  pinDir: string;
  /** daemon mode with handover: the pinned set's directory ("" = off) */
  handoverDir: string;
  version: string;
}

/** The tracer's options from validated configuration. Pure. */
export function tracerOptions(config: AppConfig, context: TracerContext): NativeTracerOptions {
  const f = config.filter;
  return {
    pid: f.pid,
    filterUid: f.uid >= 0,
    uid: Math.max(f.uid, 0),
    ports: [...f.ports],
    includeErrors: f.errors,
    countMode: context.countMode,
    hideKernelBinds: !f.kernelBinds,
    readCgroupNames: config.kubernetes.enabled,
    // the kernel counts --count: no record, no command line
    readArgs: config.kernel.readCommandLine && !context.countMode,
    cgroupRootId: context.cgroupRootId,
    cgroupMapPath: f.cgroupMap,
    mntnsMapPath: f.mntnsMap,
    ...config.reader,
    pinDir: context.pinDir,
    handoverDir: context.handoverDir,
    unownedAfterMillis: config.handover.unownedAfterMillis,
    packageVersion: context.version,
    backend: config.kernel.backend,
  };
}
