import type { Attributes, PodIdentity } from '../model/attributes';
import type { BindEvent } from '../model/event';
import type { NamedBind, Output } from '../model/named-bind';
import type { BootClock } from '../kernel/clock';
import type { Kubernetes, SelectedBind } from '../kubernetes/kubernetes';
import { podResourceAttributes } from '../kubernetes/resolver';
import { bindAttributes } from '../naming/bind-attributes';
import type { ExecutableSelection } from './executable-selection';
import type { InterfaceNames } from '../naming/net/interfaces';

export interface RouterStages {
  clock: BootClock;
  interfaces: InterfaceNames;
  /** the agent's own resource: a host process's binds carry it */
  baseResource: Attributes;
  /** a pod's binds carry its workload's service.* (the conventions' way), or the agent's */
  podService: 'workload' | 'agent';
  /** filter.executables and filter.excludeExecutables, when set */
  executables?: ExecutableSelection;
  kubernetes?: Kubernetes;
  outputs: readonly Output[];
}

/**
 * One batch from the kernel to every output: select by executable, resolve and select (Kubernetes),
 * name once (attributes, resource, wall-clock time), then each output. Runs on
 * the JavaScript thread, one batch at a time.
 */
export class Router {
  /** records that reached JavaScript */
  delivered = 0;

  /** the agent's resource without its service.*: what a pod's resource shares with it (host, node, cluster) */
  private readonly shared: Attributes;
  /** one resource object per pod identity (the resolver reuses identities), so the exporter finds its logger at once */
  private readonly resources = new WeakMap<PodIdentity, Attributes>();

  constructor(private readonly stages: RouterStages) {
    this.shared = Object.fromEntries(Object.entries(stages.baseResource).filter(([k]) => !k.startsWith('service.')));
    stages.kubernetes?.onRelease((selected) => this.output(selected));
  }

  private resourceFor(pod: PodIdentity | undefined): Attributes {
    if (!pod) return this.stages.baseResource;
    let resource = this.resources.get(pod);
    if (!resource) {
      resource =
        this.stages.podService === 'agent'
          ? { ...this.stages.baseResource, ...podResourceAttributes(pod) }
          : { ...this.shared, ...podResourceAttributes(pod), ...pod.service };
      this.resources.set(pod, resource);
    }
    return resource;
  }

  route(batch: readonly BindEvent[]): void {
    const s = this.stages;
    this.delivered += batch.length;
    // -q without export: nothing reads the binds; seen and lost still come from the kernel's and reader's counters
    if (s.outputs.length === 0) return;
    const selected = s.executables ? s.executables.select(batch) : batch;
    this.output(s.kubernetes ? s.kubernetes.select(selected) : selected.map((event) => ({ event })));
  }

  /** Names the binds selected (now, or released by the Kubernetes stage's hold) and writes them to every output. */
  private output(selected: readonly SelectedBind[]): void {
    const s = this.stages;
    if (selected.length === 0) return;
    if (s.outputs.every((o) => o.saturated?.() === true)) {
      for (const o of s.outputs) o.drop?.(selected.length);
      return;
    }
    const binds: NamedBind[] = selected.map(({ event, pod, unattributedCgroupPath }) => {
      const attributes = bindAttributes(event, s.interfaces.lookup(event.boundDevIf, event.netnsId), s.clock.toWallNs(event.startBootNs));
      // named like a pod's container, not attributed to it: say where it really is
      if (unattributedCgroupPath !== undefined) attributes['bindsnoop.cgroup.path'] = unattributedCgroupPath;
      return { event, pod, attributes, resource: this.resourceFor(pod), wallNs: s.clock.toWallNs(event.tsBootNs) };
    });
    for (const output of s.outputs) output.write(binds);
  }
}
